import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import {
  type Dataset,
  type DatasetReport,
  type SampleRecord,
  applyTagFilter,
  describeEmptyDataset,
  parseManifest,
  parseTagLines,
  resolveManifestTags,
  tagsFromIds,
} from '../data/dataset.js';
import { REFERENCE_TAG_FILTER, type TagFilterRule } from '../data/filter.js';
import { DataLoader, type DataLoaderOptions, type PairReader, SampleSizeError } from '../data/loader.js';
import { type TagVocabulary, defaultVocabulary } from '../data/tags.js';
import { FileFormatError, OptionError, quoteValue } from '../errors.js';
import { readImageWithInfo } from './image.js';

/** The line-art folders of the reference layout, in the order the reference lists them. */
export const REFERENCE_LINEART_STYLES = ['keras_train', 'simpl_train', 'xdog_train'] as const;

/** Options of {@link openDataset}. */
export interface OpenDatasetOptions {
  /** `auto` (default): a `.csv`/`.jsonl` file or a folder with `manifest.csv|jsonl` is a manifest; a folder with `tags.txt` the reference layout. */
  layout?: 'auto' | 'reference' | 'manifest';
  /** Tags to encode (default: the published vocabulary). */
  vocabulary?: TagVocabulary;
  /**
   * Tag filter: `true` for the reference rule (exactly one of 1girl/1boy, one hair colour, one eye
   * colour, at least one CIT and CVT), a custom rule, or `false`. Default: `true` for the reference
   * layout's training split, `false` otherwise (as the reference).
   */
  filter?: boolean | TagFilterRule;
  /** Reference layout: `train` (default) or `test` (colour in `benchmark`, line art in `keras_test`). */
  split?: 'train' | 'test';
  /** Reference layout: colour folder (default `rgb_train`, or `benchmark` for the test split). */
  colorDir?: string;
  /** Reference layout: line-art folders to use (default: those of `keras_train`, `simpl_train`, `xdog_train` that exist; `keras_test` for the test split). */
  lineArtDirs?: string[];
  /** Reference layout: tag file (default `tags.txt`). */
  tagsFile?: string;
  /** Image file extension in the reference layout (default `.png`). */
  extension?: string;
  /** Manifest: what to do with unknown tag names (default `error`). */
  unknownTags?: 'error' | 'ignore';
  /** Keep at most this many samples (after filtering), e.g. for a quick run. */
  limit?: number;
  /**
   * Leave out entries whose files are missing, and only report them (default false: such an
   * entry is an error naming the first missing files). The reference layout always leaves out
   * ids without a colour image, as the reference does (its tags.txt lists the whole dump).
   */
  skipMissing?: boolean;
}

/** Missing files named in a message or a report. */
const MISSING_EXAMPLES = 5;

async function exists(p: string): Promise<boolean> {
  try {
    await fs.access(p);
    return true;
  } catch {
    return false;
  }
}

async function isDirectory(p: string): Promise<boolean> {
  try {
    return (await fs.stat(p)).isDirectory();
  } catch {
    return false;
  }
}

/** Runs `f` over items with at most `limit` in flight, keeping order. */
async function mapLimited<T, R>(items: readonly T[], limit: number, f: (item: T) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const workers = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await f(items[i]!);
    }
  });
  await Promise.all(workers);
  return out;
}

/** Existing files among `paths`, by one directory listing per folder (fast for large folders). */
function makeExistenceCheck(): (file: string) => Promise<boolean> {
  const listings = new Map<string, Promise<Set<string> | null>>();
  return async (file: string) => {
    const dir = path.dirname(file);
    let listing = listings.get(dir);
    if (!listing) {
      listing = fs.readdir(dir).then((names) => new Set(names), () => null);
      listings.set(dir, listing);
    }
    const names = await listing;
    return names !== null && names.has(path.basename(file));
  };
}

/**
 * Reads a dataset's index (no pixels yet): the reference layout (`rgb_train/<id>.png`, line-art
 * folders `keras_train`, `simpl_train`, `xdog_train` — any subset —, `tags.txt` lines of Danbooru
 * ids `<file id> <tag id> ...`), or a manifest (CSV or JSONL of colour, line art(s), tag names).
 * Entries whose colour image or every line art is missing are left out and counted; the tag filter
 * runs as configured. An empty result is an error that says why, before any training starts.
 */
export async function openDataset(source: string, options: OpenDatasetOptions = {}): Promise<Dataset> {
  const vocabulary = options.vocabulary ?? defaultVocabulary();
  let layout = options.layout ?? 'auto';
  let manifestPath = source;
  if (!(await exists(source))) {
    throw new OptionError(
      (name) => `Dataset ${quoteValue(source, 200)} (${name('data')}) does not exist. Give a dataset folder or a manifest .csv/.jsonl file.`,
      { option: 'data', file: source },
    );
  }
  if (layout === 'auto' || layout === 'manifest') {
    if (await isDirectory(source)) {
      const candidates = ['manifest.csv', 'manifest.jsonl'].map((f) => path.join(source, f));
      const found = (await Promise.all(candidates.map(exists))).findIndex(Boolean);
      if (found >= 0) {
        layout = 'manifest';
        manifestPath = candidates[found]!;
      } else if (layout === 'auto') {
        layout = 'reference';
      } else {
        throw new OptionError(`No manifest.csv or manifest.jsonl in ${quoteValue(source, 200)}. Give the manifest file itself.`, { option: 'data', file: source });
      }
    } else {
      layout = 'manifest';
    }
  }
  const dataset =
    layout === 'reference'
      ? await openReference(source, vocabulary, options)
      : await openManifest(manifestPath, vocabulary, options);
  if (options.limit !== undefined && dataset.samples.length > options.limit) {
    dataset.samples = dataset.samples.slice(0, options.limit);
    dataset.report.kept = dataset.samples.length;
  }
  if (dataset.samples.length === 0) throw new FileFormatError(describeEmptyDataset(dataset.source, dataset.report), { file: dataset.source });
  return dataset;
}

/** Entries with missing files are an error unless `skipMissing`: a dataset never shrinks silently. */
function checkMissing(source: string, report: DatasetReport, missing: number, options: OpenDatasetOptions): void {
  if (missing === 0 || options.skipMissing) return;
  const examples = report.missingExamples ?? [];
  throw new FileFormatError(
    (name) =>
      `Dataset ${quoteValue(source)}: ${missing} of ${report.entries} entries name files that do not exist ` +
      `(${examples.join('; ')}${missing > examples.length ? '; …' : ''}). Fix the paths, or pass ${name('skipMissing=true')} ` +
      `to train on the other ${report.entries - missing}.`,
    { file: source, option: 'skipMissing' },
  );
}

/** A one-line account of what a dataset left out, or undefined when it left out nothing. */
export function describeSkipped(dataset: Dataset): string | undefined {
  const r = dataset.report;
  const parts: string[] = [];
  if (r.missingColor > 0) parts.push(`${r.missingColor} without their colour image`);
  if (r.missingLineArt > 0) parts.push(`${r.missingLineArt} without any line-art file`);
  if (r.filter && r.filter.dropped > 0) parts.push(`${r.filter.dropped} dropped by the tag filter`);
  if (parts.length === 0) return undefined;
  const examples = r.missingExamples?.length ? ` (e.g. ${r.missingExamples[0]})` : '';
  return `dataset ${quoteValue(dataset.source)}: ${r.kept} of ${r.entries} entries kept; ${parts.join(', ')}${examples}.`;
}

async function openReference(root: string, vocabulary: TagVocabulary, options: OpenDatasetOptions): Promise<Dataset> {
  const split = options.split ?? 'train';
  const ext = options.extension ?? '.png';
  const tagsFile = path.resolve(root, options.tagsFile ?? 'tags.txt');
  const colorDir = path.resolve(root, options.colorDir ?? (split === 'train' ? 'rgb_train' : 'benchmark'));
  if (!(await exists(tagsFile))) {
    throw new FileFormatError(
      `'${root}' is not a reference-layout dataset: '${tagsFile}' is missing. The reference layout is ` +
        'rgb_train/<id>.png, line-art folders (keras_train, simpl_train, xdog_train) and tags.txt; ' +
        'for your own data a manifest.csv (colour, lineart, tags) is simpler (see docs/data.md).',
    );
  }
  if (!(await isDirectory(colorDir))) {
    throw new FileFormatError(`The colour folder ${quoteValue(colorDir, 200)} does not exist (reference layout, ${split} split).`, { file: colorDir });
  }
  const requested = options.lineArtDirs ?? (split === 'train' ? [...REFERENCE_LINEART_STYLES] : ['keras_test']);
  const styleDirs: string[] = [];
  for (const d of requested) if (await isDirectory(path.resolve(root, d))) styleDirs.push(d);
  if (styleDirs.length === 0) {
    throw new FileFormatError(
      `No line-art folder in '${root}': looked for ${requested.join(', ')}. Extract line art with ` +
        '`tag2pix extract-lineart <colour dir> <root>/xdog_train`.',
    );
  }
  const lines = parseTagLines(await fs.readFile(tagsFile, 'utf8'), tagsFile);
  const has = makeExistenceCheck();
  const styles: Record<string, number> = Object.fromEntries(styleDirs.map((d) => [d, 0]));
  let missingColor = 0;
  let missingLineArt = 0;
  const missingExamples: string[] = [];
  const found = await mapLimited(lines, 64, async (line) => {
    const color = path.join(colorDir, `${line.id}${ext}`);
    if (!(await has(color))) return 'no-colour' as const;
    const lineArts: string[] = [];
    for (const d of styleDirs) {
      const f = path.resolve(root, d, `${line.id}${ext}`);
      if (await has(f)) {
        lineArts.push(f);
        styles[d]!++;
      }
    }
    if (lineArts.length === 0) return 'no-lineart' as const;
    const sample: SampleRecord = { id: line.id, color, lineArts, tags: tagsFromIds(vocabulary, line.tagIds) };
    return sample;
  });
  const samples: SampleRecord[] = [];
  found.forEach((f, i) => {
    if (f === 'no-colour') missingColor++;
    else if (f === 'no-lineart') {
      missingLineArt++;
      if (missingExamples.length < MISSING_EXAMPLES) {
        missingExamples.push(`line art ${styleDirs.map((d) => path.join(d, `${lines[i]!.id}${ext}`)).join(' or ')}`);
      }
    } else samples.push(f);
  });
  const filter = options.filter ?? split === 'train';
  const filtered = applyTagFilter(samples, vocabulary, filter, REFERENCE_TAG_FILTER);
  const report: DatasetReport = {
    layout: 'reference',
    entries: lines.length,
    kept: filtered.samples.length,
    missingColor,
    missingLineArt,
    styles,
  };
  if (missingExamples.length > 0) report.missingExamples = missingExamples;
  checkMissing(root, report, missingLineArt, options);
  if (filtered.report) report.filter = filtered.report;
  return { samples: filtered.samples, vocabulary, report, source: root };
}

async function openManifest(file: string, vocabulary: TagVocabulary, options: OpenDatasetOptions): Promise<Dataset> {
  const lower = file.toLowerCase();
  const format = lower.endsWith('.csv') ? 'csv' : lower.endsWith('.jsonl') || lower.endsWith('.ndjson') ? 'jsonl' : undefined;
  if (format === undefined) {
    throw new OptionError(`Manifest ${quoteValue(file, 200)} must end in .csv or .jsonl (JSON Lines).`, { option: 'data', file });
  }
  const rows = parseManifest(await fs.readFile(file, 'utf8'), format, file);
  const { tags, unknown } = resolveManifestTags(rows, vocabulary, options.unknownTags ?? 'error', file);
  const base = path.dirname(path.resolve(file));
  const has = makeExistenceCheck();
  const styles: Record<string, number> = {};
  let missingColor = 0;
  let missingLineArt = 0;
  const missingExamples: string[] = [];
  const found = await mapLimited(rows.map((row, i) => ({ row, i })), 64, async ({ row, i }) => {
    const color = path.resolve(base, row.color);
    if (!(await has(color))) return 'no-colour' as const;
    const lineArts: string[] = [];
    for (const l of row.lineArts) {
      const f = path.resolve(base, l);
      if (await has(f)) {
        lineArts.push(f);
        const style = path.basename(path.dirname(f));
        styles[style] = (styles[style] ?? 0) + 1;
      }
    }
    if (lineArts.length === 0) return 'no-lineart' as const;
    const sample: SampleRecord = {
      id: row.id ?? path.basename(row.color, path.extname(row.color)),
      color,
      lineArts,
      tags: tags[i]!,
    };
    return sample;
  });
  const samples: SampleRecord[] = [];
  found.forEach((f, i) => {
    const row = rows[i]!;
    if (f === 'no-colour' || f === 'no-lineart') {
      if (f === 'no-colour') missingColor++;
      else missingLineArt++;
      if (missingExamples.length < MISSING_EXAMPLES) {
        missingExamples.push(
          f === 'no-colour'
            ? `colour image ${quoteValue(row.color)} (line ${row.line})`
            : `line art ${row.lineArts.map((l) => quoteValue(l)).join(' or ')} (line ${row.line})`,
        );
      }
    } else samples.push(f);
  });
  const filtered = applyTagFilter(samples, vocabulary, options.filter ?? false, REFERENCE_TAG_FILTER);
  const report: DatasetReport = {
    layout: 'manifest',
    entries: rows.length,
    kept: filtered.samples.length,
    missingColor,
    missingLineArt,
    styles,
  };
  if (missingExamples.length > 0) report.missingExamples = missingExamples;
  checkMissing(file, report, missingColor + missingLineArt, options);
  if (filtered.report) report.filter = filtered.report;
  if (Object.keys(unknown).length > 0) report.unknownTags = unknown;
  return { samples: filtered.samples, vocabulary, report, source: file };
}

/** How the Node reader checks that a line art fits its colour image. */
export interface PairCheckOptions {
  /** Largest relative difference of the two aspect ratios still accepted (default 0.02). */
  aspectTolerance?: number;
  /** Smallest accepted side of either image, pixels (default 16). */
  minSide?: number;
  /** Largest accepted image, pixels before resizing (default `DEFAULT_MAX_PIXELS`, 4096 × 4096). */
  maxPixels?: number;
}

/**
 * The Node {@link PairReader}: decodes both files with libvips (sharp), resized to S×S while
 * decoding (Lanczos, as the reference), colour as RGB and line art as grey, alpha onto white.
 * A line art whose aspect ratio differs from its colour image's, or an image smaller than
 * `minSide`, is a {@link SampleSizeError}; unreadable files are `ImageReadError`s naming the file.
 */
export function nodePairReader(options: PairCheckOptions = {}): PairReader {
  const tolerance = options.aspectTolerance ?? 0.02;
  const minSide = options.minSide ?? 16;
  return async (sample, lineArtFile, size) => {
    const [c, l] = await Promise.all([
      readImageWithInfo(sample.color, { channels: 3, size, maxPixels: options.maxPixels }),
      readImageWithInfo(lineArtFile, { channels: 1, size, maxPixels: options.maxPixels }),
    ]);
    for (const [file, info] of [[sample.color, c.original], [lineArtFile, l.original]] as const) {
      if (Math.min(info.width, info.height) < minSide) {
        throw new SampleSizeError(file, `'${file}' is ${info.width}×${info.height}, smaller than ${minSide} px.`);
      }
    }
    const ac = c.original.width / c.original.height;
    const al = l.original.width / l.original.height;
    if (Math.abs(ac - al) / ac > tolerance) {
      throw new SampleSizeError(
        lineArtFile,
        `line art '${lineArtFile}' is ${l.original.width}×${l.original.height} but its colour image ` +
          `'${sample.color}' is ${c.original.width}×${c.original.height}: they cannot be the same picture.`,
      );
    }
    return { color: c.image, lineArt: l.image };
  };
}

/** Options of {@link createDataLoader}: the loader's and the reader's. */
export type CreateDataLoaderOptions = DataLoaderOptions & PairCheckOptions;

/**
 * A {@link DataLoader} reading files with {@link nodePairReader}. Typical use:
 *
 * ```ts
 * const dataset = await openDataset('/data/tag2pix');                 // reference layout or manifest
 * const loader = createDataLoader(dataset, { imageSize: 256, batchSize: 4, seed: 1 });
 * for await (const batch of loader.epoch(0)) {                          // {lineArt, colour, cit, cvt, ids, cursor}
 *   await trainStep(batch);
 *   batch.dispose();
 * }
 * ```
 */
export function createDataLoader(dataset: Dataset, options: CreateDataLoaderOptions): DataLoader {
  return new DataLoader(dataset, nodePairReader(options), options);
}
