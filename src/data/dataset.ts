import * as tf from '@tensorflow/tfjs-core';
import type { TrainingBatch } from '../training/batch.js';
import { type TagFilterReport, type TagFilterRule, filterByTags, validateTagFilterRule } from './filter.js';
import { Rng } from './random.js';
import { FileFormatError, Tag2PixError, quoteValue } from '../errors.js';
import { type Tag, type TagVocabulary, UnknownTagError } from './tags.js';

/**
 * One training sample: a colour image, the line arts drawn from it (one per style; each epoch
 * picks one at random) and its tags. Paths are whatever the reader produced (absolute on Node).
 */
export interface SampleRecord {
  /** File id (reference layout) or manifest id / colour file name. */
  id: string;
  /** Path or URL of the colour image. */
  color: string;
  /** Paths of the line arts of this image, one per style; at least one. */
  lineArts: string[];
  /** The sample's tags resolved against the vocabulary (CIT, CVT and extra tags). */
  tags: Tag[];
}

/** What building a dataset found, kept and dropped. */
export interface DatasetReport {
  layout: 'reference' | 'manifest';
  /** Lines / rows read from the tag or manifest file. */
  entries: number;
  /** Samples in the dataset. */
  kept: number;
  /** Entries whose colour image does not exist. */
  missingColor: number;
  /** Entries with none of their line-art files present. */
  missingLineArt: number;
  /** The first few missing files (colour or line art), for messages. */
  missingExamples?: string[];
  /** Line-art folders (styles) used, with how many samples have each. */
  styles: Record<string, number>;
  /** The tag filter's report, when a filter ran. */
  filter?: TagFilterReport;
  /** Unknown tag names skipped (manifest with `unknownTags: 'ignore'`), with counts. */
  unknownTags?: Record<string, number>;
}

/** A list of samples ready for a loader, with the vocabulary that encodes their tags. */
export interface Dataset {
  samples: SampleRecord[];
  vocabulary: TagVocabulary;
  report: DatasetReport;
  /** Where it came from (folder or manifest path), for messages. */
  source: string;
}

// ---------------------------------------------------------------------------------------------
// Reference layout: tags.txt
// ---------------------------------------------------------------------------------------------

/** One line of a reference `tags.txt`: a file id and the Danbooru tag ids of the image. */
export interface TagLine {
  id: string;
  tagIds: number[];
}

/**
 * Parses a reference `tags.txt`: one image per line, `<file id> <tag id> <tag id> ...`,
 * separated by spaces. Blank lines are skipped; anything else malformed is an error naming the line.
 */
export function parseTagLines(text: string, fileName = 'tags.txt'): TagLine[] {
  const out: TagLine[] = [];
  text.split(/\r?\n/).forEach((line, i) => {
    const fields = line.trim().split(/\s+/).filter((f) => f !== '');
    if (fields.length === 0) return;
    const [id, ...rest] = fields;
    const tagIds = rest.map((f) => {
      if (!/^\d+$/.test(f)) {
        throw new FileFormatError(
          `${fileName}:${i + 1}: ${quoteValue(f, 40)} is not a Danbooru tag id. Each line must be ` +
            '"<file id> <tag id> <tag id> ..." with numeric ids (use a manifest for tag names).',
        );
      }
      return Number(f);
    });
    out.push({ id: id!, tagIds });
  });
  return out;
}

/** Resolves Danbooru ids against the vocabulary, dropping ids it does not know. */
export function tagsFromIds(vocabulary: TagVocabulary, ids: readonly number[]): Tag[] {
  const tags: Tag[] = [];
  const seen = new Set<Tag>();
  for (const id of ids) {
    const t = vocabulary.byId(id);
    if (t && !seen.has(t)) {
      seen.add(t);
      tags.push(t);
    }
  }
  return tags;
}

// ---------------------------------------------------------------------------------------------
// Manifest layout: CSV or JSONL
// ---------------------------------------------------------------------------------------------

/** One manifest entry before tag parsing; paths as written (relative to the manifest). */
export interface ManifestRow {
  /** 1-based line of the manifest it came from. */
  line: number;
  id?: string;
  color: string;
  lineArts: string[];
  tags: string;
}

/** Splits CSV text into rows of fields (RFC 4180: quotes, doubled quotes, newlines inside quotes). */
export function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let quoted = false;
  let i = 0;
  if (text.charCodeAt(0) === 0xfeff) i = 1;
  for (; i < text.length; i++) {
    const ch = text[i]!;
    if (quoted) {
      if (ch === '"') {
        if (text[i + 1] === '"') {
          field += '"';
          i++;
        } else quoted = false;
      } else field += ch;
    } else if (ch === '"' && field === '') quoted = true;
    else if (ch === ',') {
      row.push(field);
      field = '';
    } else if (ch === '\n' || ch === '\r') {
      if (ch === '\r' && text[i + 1] === '\n') i++;
      row.push(field);
      rows.push(row);
      row = [];
      field = '';
    } else field += ch;
  }
  if (quoted) throw new FileFormatError('The CSV ends inside a quoted field: a closing " is missing.');
  if (field !== '' || row.length > 0) {
    row.push(field);
    rows.push(row);
  }
  return rows.filter((r) => !(r.length === 1 && r[0]!.trim() === ''));
}

const COLOR_KEYS = ['colour', 'color', 'image', 'rgb'];
const LINEART_KEYS = ['lineart', 'line_art', 'lineart_paths', 'sketch', 'lineArt'];
const TAG_KEYS = ['tags'];

function pickKey(keys: readonly string[], candidates: readonly string[]): string | undefined {
  const lower = keys.map((k) => k.trim().toLowerCase());
  for (const c of candidates) {
    const i = lower.indexOf(c.toLowerCase());
    if (i >= 0) return keys[i];
  }
  return undefined;
}

function splitPaths(value: unknown): string[] {
  if (Array.isArray(value)) return value.map(String).map((s) => s.trim()).filter((s) => s !== '');
  if (typeof value !== 'string') return [];
  return value.split('|').map((s) => s.trim()).filter((s) => s !== '');
}

/**
 * Parses a manifest: CSV with a header row, or JSON Lines (one object per line). Columns / keys:
 * `colour` (or `color`, `image`), `lineart` (or `line_art`, `sketch`; several paths separated by
 * `|` in CSV or as an array in JSONL, one per style), `tags` (names, separated by spaces or
 * commas; an array in JSONL), optional `id`.
 */
export function parseManifest(text: string, format: 'csv' | 'jsonl', fileName = 'manifest'): ManifestRow[] {
  const rows: ManifestRow[] = [];
  const need = `Columns: colour, lineart (several separated by '|'), tags (names), optional id.`;
  if (format === 'csv') {
    const table = parseCsv(text);
    if (table.length === 0) return [];
    const header = table[0]!;
    const colorKey = pickKey(header, COLOR_KEYS);
    const lineKey = pickKey(header, LINEART_KEYS);
    const tagKey = pickKey(header, TAG_KEYS);
    if (colorKey === undefined || lineKey === undefined || tagKey === undefined) {
      throw new FileFormatError(`${fileName}: the CSV header '${header.join(',')}' lacks a column. ${need}`);
    }
    const col = (k: string) => header.indexOf(k);
    const idCol = header.findIndex((h) => h.trim().toLowerCase() === 'id');
    for (let r = 1; r < table.length; r++) {
      const f = table[r]!;
      const row: ManifestRow = {
        line: r + 1,
        color: (f[col(colorKey)] ?? '').trim(),
        lineArts: splitPaths(f[col(lineKey)] ?? ''),
        tags: f[col(tagKey)] ?? '',
      };
      if (idCol >= 0 && (f[idCol] ?? '').trim() !== '') row.id = f[idCol]!.trim();
      rows.push(row);
    }
  } else {
    text.split(/\r?\n/).forEach((lineText, i) => {
      if (lineText.trim() === '') return;
      let obj: Record<string, unknown>;
      try {
        obj = JSON.parse(lineText) as Record<string, unknown>;
      } catch (err) {
        throw new FileFormatError(`${fileName}:${i + 1}: not valid JSON (${(err as Error).message}). ${need}`);
      }
      if (obj == null || typeof obj !== 'object' || Array.isArray(obj)) {
        throw new FileFormatError(`${fileName}:${i + 1}: each line must be a JSON object. ${need}`);
      }
      const keys = Object.keys(obj);
      const colorKey = pickKey(keys, COLOR_KEYS);
      const lineKey = pickKey(keys, LINEART_KEYS);
      const tagKey = pickKey(keys, TAG_KEYS);
      const tagsValue = tagKey === undefined ? '' : obj[tagKey];
      const row: ManifestRow = {
        line: i + 1,
        color: colorKey === undefined ? '' : String(obj[colorKey]).trim(),
        lineArts: lineKey === undefined ? [] : splitPaths(obj[lineKey]),
        tags: Array.isArray(tagsValue) ? tagsValue.map(String).join(',') : String(tagsValue ?? ''),
      };
      if (obj['id'] !== undefined) row.id = String(obj['id']);
      rows.push(row);
    });
  }
  for (const row of rows) {
    if (row.color === '') throw new FileFormatError(`${fileName}:${row.line}: no colour image path. ${need}`);
    if (row.lineArts.length === 0) throw new FileFormatError(`${fileName}:${row.line}: no line-art path. ${need}`);
  }
  return rows;
}

/**
 * Resolves the tag names of manifest rows. `unknownTags: 'error'` (default) throws one error
 * listing the unknown names with their lines and nearest known tags; `'ignore'` drops and counts them.
 */
export function resolveManifestTags(
  rows: readonly ManifestRow[],
  vocabulary: TagVocabulary,
  unknownTags: 'error' | 'ignore' = 'error',
  fileName = 'manifest',
): { tags: Tag[][]; unknown: Record<string, number> } {
  const unknown: Record<string, number> = {};
  const problems: string[] = [];
  const tags = rows.map((row) => {
    let parsed: ReturnType<TagVocabulary['parseTagsLenient']>;
    try {
      parsed = vocabulary.parseTagsLenient(row.tags);
    } catch (e) {
      if (!(e instanceof Tag2PixError)) throw e;
      throw new FileFormatError(`${fileName}:${row.line}: ${e.message}`, { file: fileName, cause: e });
    }
    for (const u of parsed.unknown) {
      unknown[u.tag] = (unknown[u.tag] ?? 0) + 1;
      if (problems.length < 10) {
        problems.push(`line ${row.line}: '${u.tag}'${u.suggestions.length ? ` (did you mean ${u.suggestions.map((s) => `'${s}'`).join(', ')}?)` : ''}`);
      }
    }
    return parsed.tags;
  });
  const count = Object.values(unknown).reduce((a, b) => a + b, 0);
  if (unknownTags === 'error' && count > 0) {
    const err = new UnknownTagError(
      Object.keys(unknown).map((t) => ({ tag: t, suggestions: vocabulary.nearest(t) })),
      fileName,
    );
    err.message =
      `${fileName}: ${count} unknown tag name${count > 1 ? 's' : ''}: ${problems.join('; ')}` +
      `${count > problems.length ? '; ...' : ''}. Fix the names, or pass unknownTags: 'ignore' to skip them.`;
    throw err;
  }
  return { tags, unknown };
}

/**
 * Applies an optional tag filter to samples; `filter: true` means the reference rule. Returns the
 * kept samples and the filter report (undefined when no filter ran).
 */
export function applyTagFilter(
  samples: SampleRecord[],
  vocabulary: TagVocabulary,
  filter: boolean | TagFilterRule | undefined,
  defaultRule: TagFilterRule,
): { samples: SampleRecord[]; report?: TagFilterReport } {
  if (filter === false || filter === undefined) return { samples };
  const rule = filter === true ? defaultRule : filter;
  validateTagFilterRule(rule, vocabulary);
  const { kept, report } = filterByTags(samples, (s) => s.tags, rule);
  return { samples: kept, report };
}

/** A one-paragraph explanation of why a dataset came out empty. */
export function describeEmptyDataset(source: string, report: DatasetReport): string {
  const parts = [`${report.entries} entr${report.entries === 1 ? 'y' : 'ies'} read`];
  if (report.missingColor > 0) parts.push(`${report.missingColor} without their colour image`);
  if (report.missingLineArt > 0) parts.push(`${report.missingLineArt} without any line-art file`);
  if (report.filter && report.filter.dropped > 0) {
    const why = Object.entries(report.filter.droppedBy).map(([k, v]) => `${v} ${k}`).join(', ');
    parts.push(`${report.filter.dropped} dropped by the tag filter (${why})`);
  }
  return (
    `The dataset at '${source}' has no usable sample: ${parts.join('; ')}. ` +
    'Check the paths and folder names, or relax the tag filter (filter: false).'
  );
}

// ---------------------------------------------------------------------------------------------
// Epoch order, resumption, batches
// ---------------------------------------------------------------------------------------------

/**
 * Where a loader is in its stream of samples; JSON-serialisable. Save the `cursor` of the last
 * batch a trainer consumed with its checkpoint and pass it back to resume exactly there.
 */
export interface DataCursor {
  version: 1;
  seed: number;
  epoch: number;
  /** Position in the epoch's sample order of the next sample to read. */
  position: number;
  /** Number of samples in the dataset it was made for (checked on resume). */
  datasetSize: number;
  /** Whether the brightness stage was on for this epoch. */
  brightnessStage: boolean;
}

/** Checks a cursor from a checkpoint against the dataset and seed it is used with. */
export function validateCursor(cursor: DataCursor, seed: number, datasetSize: number): void {
  if (cursor == null || cursor.version !== 1 || !Number.isInteger(cursor.position) || !Number.isInteger(cursor.epoch)) {
    throw new Error(`Not a data cursor: ${JSON.stringify(cursor)}. Pass the 'cursor' of a batch (or loader.cursor()).`);
  }
  if (cursor.seed !== seed || cursor.datasetSize !== datasetSize) {
    throw new Error(
      `This cursor was made for seed ${cursor.seed} and ${cursor.datasetSize} samples, but the loader has seed ` +
        `${seed} and ${datasetSize} samples: resuming would replay a different order. Use the same dataset and seed.`,
    );
  }
  if (cursor.position < 0 || cursor.position > datasetSize) {
    throw new Error(`Cursor position ${cursor.position} is outside 0..${datasetSize}.`);
  }
}

/** Sample indices of an epoch in visiting order: shuffled with (seed, epoch), or in order. */
export function epochOrder(size: number, seed: number, epoch: number, shuffle = true): number[] {
  const order = Array.from({ length: size }, (_, i) => i);
  return shuffle ? new Rng(seed, epoch, 0x0c0ffee).shuffle(order) : order;
}

/** The random stream for one sample in one epoch (independent of visiting order and parallelism). */
export function sampleRng(seed: number, epoch: number, sampleIndex: number): Rng {
  return new Rng(seed, epoch, sampleIndex, 0x5a3b1e);
}

/**
 * A batch of the {@link DataLoader}: a training batch with where it came from. Tensors belong
 * to the caller: call `dispose()` (or dispose them yourself) when done with the batch.
 */
export interface DataLoaderBatch extends TrainingBatch<DataCursor> {
  /** Sample ids, in batch order. */
  ids: string[];
  /** The line-art file used for each sample (one style is picked per sample and epoch). */
  lineArtFiles: string[];
  epoch: number;
  /** Batch number within the epoch (0-based; counts batches actually produced). */
  index: number;
  /** Resume point right after this batch. */
  cursor: DataCursor;
  /** Disposes the four tensors. */
  dispose(): void;
}

/** One prepared sample, as plain arrays (no tensors yet). */
export interface PreparedSample {
  id: string;
  lineArtFile: string;
  /** S·S values in [0, 1]. */
  lineArt: Float32Array;
  /** S·S·3 values in [-1, 1]. */
  color: Float32Array;
  cit: Float32Array;
  cvt: Float32Array;
}

/** Stacks prepared samples into a {@link DataLoaderBatch}. */
export function collateBatch(
  samples: readonly PreparedSample[],
  size: number,
  meta: { epoch: number; index: number; cursor: DataCursor },
): DataLoaderBatch {
  const n = samples.length;
  if (n === 0) throw new Error('collateBatch: no samples.');
  const px = size * size;
  const numCit = samples[0]!.cit.length;
  const numCvt = samples[0]!.cvt.length;
  const line = new Float32Array(n * px);
  const color = new Float32Array(n * px * 3);
  const cit = new Float32Array(n * numCit);
  const cvt = new Float32Array(n * numCvt);
  samples.forEach((s, i) => {
    line.set(s.lineArt, i * px);
    color.set(s.color, i * px * 3);
    cit.set(s.cit, i * numCit);
    cvt.set(s.cvt, i * numCvt);
  });
  const tensors = {
    lineArt: tf.tensor4d(line, [n, size, size, 1]),
    color: tf.tensor4d(color, [n, size, size, 3]),
    cit: tf.tensor2d(cit, [n, numCit]),
    cvt: tf.tensor2d(cvt, [n, numCvt]),
  };
  return {
    ...tensors,
    ids: samples.map((s) => s.id),
    lineArtFiles: samples.map((s) => s.lineArtFile),
    ...meta,
    dispose() {
      tf.dispose([tensors.lineArt, tensors.color, tensors.cit, tensors.cvt]);
    },
  };
}
