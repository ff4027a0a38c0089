// Writes a synthetic character dataset to disk in the manifest layout of the data pipeline.
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { generateCharacter, type SynthOptions, type SynthSample } from '../data/synth/dataset.js';
import { SYNTH_REGIONS } from '../data/synth/painter.js';
import { encodePng } from './image.js';

/** Options of {@link writeSynthDataset}. */
export interface WriteSynthOptions extends Omit<SynthOptions, 'vocabulary' | 'reject'> {
  /** Output folder (created): `manifest.jsonl`, `colour/`, `lineart/`, `synth.json`. */
  out: string;
  /** Number of characters. */
  count: number;
  /** Also write each sample's region label map to `regions/` (8-bit index into `synth.json` regions). */
  regions?: boolean;
  /**
   * Replace a synthetic dataset that `out` already holds: the files it wrote (listed by its
   * `synth.json`) are removed first, so no older image stays beside the new manifest. Without it,
   * such a folder is an error. Files that this function did not write are never removed or
   * overwritten: a folder holding another dataset is always an error.
   */
  overwrite?: boolean;
  /** Called after each written sample. */
  onProgress?: (done: number, total: number) => void;
}

/** What {@link writeSynthDataset} wrote. */
export interface WriteSynthResult {
  manifest: string;
  count: number;
  /** How many samples carry each colour tag. */
  tagCounts: Record<string, number>;
}

/** The generator settings stored beside the data, enough to regenerate every sample (with its masks). */
export interface SynthDatasetInfo {
  generator: 'tag2pix-synth';
  version: 1;
  count: number;
  size: number;
  seed: number;
  options: Omit<WriteSynthOptions, 'out' | 'onProgress' | 'count' | 'size' | 'seed'>;
  regions: readonly string[];
}

const pad = (i: number): string => String(i).padStart(6, '0');

/**
 * Generates `count` characters and writes them as a manifest dataset: one JSON line per sample
 * `{"id", "colour": "colour/000000.png", "lineart": ["lineart/000000.png"], "tags": [...]}`, paths
 * relative to the manifest. `openDataset(out)` reads it back.
 */
export async function writeSynthDataset(options: WriteSynthOptions): Promise<WriteSynthResult> {
  const { out, count, onProgress, regions, ...rest } = options;
  if (!Number.isInteger(count) || count < 1) throw new Error(`synth: --count must be a positive integer, got ${count}`);
  const size = options.size ?? 128;
  if (!Number.isInteger(size) || size < 32 || size % 16 !== 0) {
    throw new Error(`synth: --size must be a multiple of 16 of at least 32 (the model needs multiples of 16), got ${size}`);
  }
  const seed = options.seed ?? 0;
  await clearPreviousDataset(out, options.overwrite ?? false);
  await fs.mkdir(path.join(out, 'colour'), { recursive: true });
  await fs.mkdir(path.join(out, 'lineart'), { recursive: true });
  if (regions) await fs.mkdir(path.join(out, 'regions'), { recursive: true });
  const manifest = path.join(out, 'manifest.jsonl');
  const info: SynthDatasetInfo = {
    generator: 'tag2pix-synth',
    version: 1,
    count,
    size,
    seed,
    options: { ...stripFunctions(rest), regions: regions ?? false },
    regions: SYNTH_REGIONS,
  };
  // synth.json first: it names the files this writes, so that a run stopped half-way is still
  // known as ours (and replaced with --overwrite); the manifest last: a folder with one is complete.
  await fs.writeFile(path.join(out, 'synth.json'), JSON.stringify(info, null, 2) + '\n');
  const lines: string[] = [];
  const tagCounts: Record<string, number> = {};
  // Encoding runs on libvips threads while the next character is drawn.
  let pending: Promise<unknown>[] = [];
  for (let i = 0; i < count; i++) {
    const sample = generateCharacter(i, { ...rest, size, seed });
    const id = pad(i);
    pending.push(writeSample(out, id, sample, regions ?? false));
    if (pending.length >= 8) {
      await Promise.all(pending);
      pending = [];
    }
    lines.push(
      JSON.stringify({
        id,
        // The manifest's keys are a file format: quoted, they keep their name whatever the code's spelling.
        'colour': `colour/${id}.png`,
        lineart: [`lineart/${id}.png`],
        tags: [...sample.tags.cit, ...sample.tags.cvt],
      }),
    );
    for (const t of sample.tags.cvt) tagCounts[t] = (tagCounts[t] ?? 0) + 1;
    onProgress?.(i + 1, count);
  }
  await Promise.all(pending);
  await fs.writeFile(manifest, lines.join('\n') + '\n');
  return { manifest, count, tagCounts };
}

const exists = (file: string) => fs.stat(file).then(() => true, () => false);

/**
 * Makes `out` ready for a new dataset: nothing of a dataset there, or (with `overwrite`) a
 * previous synthetic dataset whose files are removed, by the list its synth.json implies.
 */
async function clearPreviousDataset(out: string, overwrite: boolean): Promise<void> {
  const ours = ['manifest.jsonl', 'synth.json', 'colour', 'lineart', 'regions'];
  const present = (await Promise.all(ours.map(async (name) => ((await exists(path.join(out, name))) ? name : undefined)))).filter(
    (n): n is string => n !== undefined,
  );
  if (present.length === 0) return;
  let info: Partial<SynthDatasetInfo> | undefined;
  try {
    info = JSON.parse(await fs.readFile(path.join(out, 'synth.json'), 'utf8')) as Partial<SynthDatasetInfo>;
  } catch {
    info = undefined;
  }
  if (info?.generator !== 'tag2pix-synth' || !Number.isInteger(info.count) || info.count! < 0) {
    throw new Error(
      `synth: '${out}' already holds ${present.map((n) => `'${n}'`).join(', ')}, which tag2pix synth did not write ` +
        '(no synth.json of its own); give an empty or new --out folder.',
    );
  }
  if (!overwrite) {
    throw new Error(
      `synth: '${out}' already holds a synthetic dataset (${info.count} characters); add --overwrite to replace it ` +
        '(its images are removed first), or give another --out folder.',
    );
  }
  const folders = ['colour', 'lineart', ...(info.options?.regions ? ['regions'] : [])];
  const files: string[] = [];
  for (let i = 0; i < info.count!; i++) for (const folder of folders) files.push(path.join(out, folder, `${pad(i)}.png`));
  // The manifest first: a folder without one is no dataset, whatever is left if this stops.
  await fs.rm(path.join(out, 'manifest.jsonl'), { force: true });
  for (const file of files) await fs.rm(file, { force: true });
  await fs.rm(path.join(out, 'synth.json'), { force: true });
}

async function writeSample(out: string, id: string, sample: SynthSample, regions: boolean): Promise<void> {
  const jobs = [
    encodePng(sample.color).then((png) => fs.writeFile(path.join(out, 'colour', `${id}.png`), png)),
    encodePng(sample.lineArt).then((png) => fs.writeFile(path.join(out, 'lineart', `${id}.png`), png)),
  ];
  if (regions) {
    const n = sample.size * sample.size;
    const label = new Uint8Array(n);
    for (let p = 0; p < n; p++) {
      let best = 0;
      for (let r = 1; r < SYNTH_REGIONS.length; r++) {
        if (sample.masks[SYNTH_REGIONS[r]!][p]! > sample.masks[SYNTH_REGIONS[best]!][p]!) best = r;
      }
      label[p] = best;
    }
    jobs.push(
      encodePng({ data: label, width: sample.size, height: sample.size, channels: 1 }).then((png) =>
        fs.writeFile(path.join(out, 'regions', `${id}.png`), png),
      ),
    );
  }
  await Promise.all(jobs);
}

function stripFunctions<T extends object>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => typeof v !== 'function')) as T;
}
