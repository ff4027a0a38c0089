// From weight files to a ready generator and CIT extractor, anywhere tfjs runs: the sources may
// be URLs, `Response`s, `File`s/`Blob`s or bytes; each is a safetensors file, an official PyTorch
// checkpoint (`.pth` zip or legacy `.pkl` pickle) or a tag2pix training checkpoint. Every file is
// triaged from its shapes alone, and every key that does not fit is listed, before a tensor is made.
import * as tf from '@tensorflow/tfjs-core';
import type { LayersModel } from '@tensorflow/tfjs-layers';
import type { BatchNormMode } from '../layers/torch_layer.js';
import { buildTag2PixGenerator } from '../models/generator.js';
import { inferGeneratorConfig, type InferredGeneratorConfig, type Shaped, type StateDictKind } from '../models/infer_config.js';
import { buildCITExtractor } from '../models/se_resnext50.js';
import { readSafetensors, readSafetensorsHeader, type SafetensorsHeader } from './safetensors.js';
import { readTorchCheckpoint, torchTensorsFrom, type TorchTensor, type TorchValue } from './torch_checkpoint.js';
import { loadTorchStateDict, torchKeyShapes } from './torch_state_dict.js';

/** Bytes with a name for messages (a file name, a URL). */
export interface NamedWeightBytes {
  name: string;
  bytes: ArrayBuffer | ArrayBufferView;
}

/**
 * Where weights come from: a URL (fetched), a fetch `Response`, a `File` or `Blob`, the bytes
 * (`ArrayBuffer`, `Uint8Array`, Node `Buffer`), or bytes with a name.
 */
export type WeightSource = string | URL | Response | Blob | ArrayBuffer | ArrayBufferView | NamedWeightBytes;

/**
 * One progress report, in the manner of transformers.js's `progress_callback`: `initiate` when a
 * source starts, `progress` as its bytes arrive, `done` when it is read, then one `ready` when the
 * networks are built and loaded.
 */
export interface LoadProgressEvent {
  status: 'initiate' | 'progress' | 'done' | 'ready';
  /** The source's name (file name, or the last part of a URL); empty for `ready`. */
  file: string;
  /** Bytes read of this source. */
  loaded: number;
  /** Its size in bytes, when known (a `Content-Length`, a `Blob`'s size). */
  total?: number;
  /** Percent of this source read, 0–100 (when its size is known). */
  progress?: number;
}

/** What {@link LoadColorizerOptions.citExtractor} is told. */
export interface CitExtractorContext {
  /** The generator's configuration, read off its weights. */
  config: InferredGeneratorConfig;
  /** For a training checkpoint, the run configuration stored in it (e.g. `{ demo: true, … }`). */
  runConfig?: Record<string, unknown>;
}

/** Options of {@link loadColorizer}. */
export interface LoadColorizerOptions {
  /** Expected generator size (256 or 512): picks among several generators; an error if none has it. */
  size?: number;
  /** BatchNorm mode of the CIT extractor. Default `'batch-stats'`, as the published code runs it. */
  citBatchNormMode?: BatchNormMode;
  /**
   * Makes the CIT features when no source holds a CIT extractor, e.g. a stand-in for a generator
   * trained without the CIT classifier; return undefined to refuse. The colorizer owns (and
   * disposes) what it returns.
   */
  citExtractor?: (context: CitExtractorContext) => LayersModel | undefined;
  /**
   * Progress, as tfjs's `loadLayersModel(url, { onProgress })` reports it: the fraction read of
   * all sources (0 to 1, never decreasing; 1 once the networks are ready), with each event (see
   * {@link LoadProgressEvent}) as the second argument.
   */
  onProgress?: (fraction: number, event: LoadProgressEvent) => void;
  /** Cancels downloads and the load (the networks built so far are disposed). */
  signal?: AbortSignal;
  /** The `fetch` for URL sources (default `globalThis.fetch`), e.g. one that adds headers. */
  fetch?: (input: string | URL, init?: RequestInit) => Promise<Response>;
  /** Appended to the errors that mean weights are missing (how to get them, in the caller's terms). */
  help?: string;
}

/** A generator and CIT extractor with weights, ready for `colorizeTensor` (or `colorize` in Node). */
export interface Colorizer {
  generator: LayersModel;
  /** The CIT extractor (or the `citExtractor` option's stand-in), when the generator takes CIT features. */
  citExtractor?: LayersModel;
  /** The generator's configuration, read off its weights. */
  config: InferredGeneratorConfig;
  /** Which source each network came from (`file`, `file (G)`, `file (training checkpoint)`). */
  sources: { generator: string; citExtractor?: string };
  /** Where the CIT features come from: a source's weights, the `citExtractor` option, or none. */
  citSource: 'weights' | 'option' | 'none';
  /** Frees both networks' weights. Safe to call more than once. */
  dispose(): void;
}

/** A source read into memory. */
interface ReadSource {
  name: string;
  bytes: Uint8Array;
}

/** One network found in a source, known by its keys and shapes until it is loaded. */
interface Found {
  kind: StateDictKind;
  file: string;
  label: string;
  /** Keys (without `module.` and the network's prefix) and shapes; PyTorch layouts for `torch`. */
  shapes: Record<string, Shaped>;
  /** `torch`: PyTorch keys; `checkpoint`: a training checkpoint's `G:<weight name>`, tfjs layouts. */
  format: 'torch' | 'checkpoint';
  /** Where the keys sit in the file, e.g. `generator.` (after any `module.`). */
  prefix: string;
  /** The tensors of the keys that pass `keep`, keyed as in `shapes`; the caller disposes them. */
  read(keep: (key: string) => boolean): Record<string, tf.Tensor>;
  /** A training checkpoint's generator shapes under PyTorch keys, for reading its configuration. */
  torchShapes?: Record<string, Shaped>;
  runConfig?: Record<string, unknown>;
}

const DATA_PARALLEL = 'module.';
/** Metadata key and value of tag2pix training checkpoints (training/checkpoint.ts). */
const CHECKPOINT_MARKER = 'tag2pix_checkpoint';
/** The CIT classifier's own keys, which the extractor (cut after layer2) does not have. */
const CIT_CLASSIFIER_ONLY = /^(layer3|layer4|fc)\./;
const MAX_LISTED = 40;

// ---- reading the sources ----

function nameOfUrl(url: string | URL): string {
  const href = String(url);
  try {
    const base = (globalThis as { location?: { href: string } }).location?.href;
    const last = new URL(href, base).pathname.split('/').filter(Boolean).pop();
    return last ? decodeURIComponent(last) : href;
  } catch {
    return href;
  }
}

function isNamedBytes(source: WeightSource): source is NamedWeightBytes {
  return typeof source === 'object' && source !== null && 'name' in source && 'bytes' in source && !(source instanceof Blob);
}

function toBytes(data: ArrayBuffer | ArrayBufferView): Uint8Array {
  return data instanceof ArrayBuffer ? new Uint8Array(data) : new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}

/** Reads a stream to its end, reporting each chunk. */
async function readStream(stream: ReadableStream<Uint8Array>, onBytes: (loaded: number) => void, signal?: AbortSignal): Promise<Uint8Array> {
  const reader = stream.getReader();
  const chunks: Uint8Array[] = [];
  let loaded = 0;
  try {
    for (;;) {
      signal?.throwIfAborted();
      const { done, value } = await reader.read();
      if (done) break;
      chunks.push(value);
      loaded += value.byteLength;
      onBytes(loaded);
    }
  } finally {
    reader.releaseLock();
  }
  if (chunks.length === 1) return chunks[0]!;
  const out = new Uint8Array(loaded);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.byteLength;
  }
  return out;
}

class Progress {
  private readonly loaded: number[];
  private readonly totals: Array<number | undefined>;
  private readonly done: boolean[];
  private last = 0;

  constructor(
    count: number,
    private readonly report?: (fraction: number, event: LoadProgressEvent) => void,
  ) {
    this.loaded = new Array<number>(count).fill(0);
    this.totals = new Array<number | undefined>(count).fill(undefined);
    this.done = new Array<boolean>(count).fill(false);
  }

  update(i: number, file: string, status: LoadProgressEvent['status'], loaded: number, total?: number): void {
    this.loaded[i] = loaded;
    if (total !== undefined) this.totals[i] = total;
    if (status === 'done') this.done[i] = true;
    if (!this.report) return;
    const t = this.totals[i];
    const event: LoadProgressEvent = { status, file, loaded, ...(t !== undefined ? { total: t, progress: t > 0 ? Math.min(100, (100 * loaded) / t) : 100 } : {}) };
    this.emit(event);
  }

  ready(): void {
    this.last = 1;
    this.report?.(1, { status: 'ready', file: '', loaded: this.loaded.reduce((a, b) => a + b, 0) });
  }

  private emit(event: LoadProgressEvent): void {
    let fraction: number;
    if (this.totals.every((t) => t !== undefined)) {
      const total = this.totals.reduce<number>((a, b) => a + b!, 0);
      fraction = total > 0 ? this.loaded.reduce((a, b) => a + b, 0) / total : 0;
    } else {
      const each = this.loaded.map((l, i) => (this.done[i] ? 1 : this.totals[i] ? l / this.totals[i]! : 0));
      fraction = each.reduce((a, b) => a + b, 0) / each.length;
    }
    // The networks are not ready until every byte is read and loaded: stay below 1 until then.
    this.last = Math.max(this.last, Math.min(fraction, 0.99));
    this.report!(this.last, event);
  }
}

async function readSource(source: WeightSource, index: number, progress: Progress, options: LoadColorizerOptions): Promise<ReadSource> {
  const signal = options.signal;
  if (typeof source === 'string' || source instanceof URL) {
    const name = nameOfUrl(source);
    progress.update(index, name, 'initiate', 0);
    const fetcher = options.fetch ?? globalThis.fetch;
    if (typeof fetcher !== 'function') throw new Error(`Cannot download '${String(source)}': this runtime has no fetch.`);
    let response: Response;
    try {
      response = await fetcher(source, signal ? { signal } : undefined);
    } catch (err) {
      if (signal?.aborted) throw err;
      // fetch's own message is often just "fetch failed"; the reason is its cause.
      const cause = (err as Error).cause as Error | undefined;
      throw new Error(`Cannot download '${String(source)}': ${(err as Error).message}${cause?.message ? ` (${cause.message})` : ''}.`);
    }
    return readResponse(response, name, index, progress, signal);
  }
  if (typeof Response !== 'undefined' && source instanceof Response) {
    return readResponse(source, source.url ? nameOfUrl(source.url) : `response ${index + 1}`, index, progress, signal);
  }
  if (typeof Blob !== 'undefined' && source instanceof Blob) {
    const name = (source as File).name || `blob ${index + 1}`;
    progress.update(index, name, 'initiate', 0, source.size);
    const bytes = await readStream(source.stream(), (loaded) => progress.update(index, name, 'progress', loaded, source.size), signal);
    progress.update(index, name, 'done', bytes.byteLength, source.size);
    return { name, bytes };
  }
  let name: string;
  let bytes: Uint8Array;
  if (isNamedBytes(source)) {
    name = source.name;
    bytes = toBytes(source.bytes);
  } else if (source instanceof ArrayBuffer || ArrayBuffer.isView(source)) {
    name = `weights ${index + 1}`;
    bytes = toBytes(source);
  } else {
    throw new Error(
      `loadColorizer: source ${index + 1} is ${Object.prototype.toString.call(source)}; give a URL, a Response, a File or Blob, ` +
        'an ArrayBuffer or Uint8Array, or { name, bytes }.',
    );
  }
  progress.update(index, name, 'initiate', 0, bytes.byteLength);
  progress.update(index, name, 'done', bytes.byteLength, bytes.byteLength);
  return { name, bytes };
}

async function readResponse(response: Response, name: string, index: number, progress: Progress, signal?: AbortSignal): Promise<ReadSource> {
  if (!response.ok) {
    throw new Error(`Cannot download '${name}'${response.url ? ` (${response.url})` : ''}: HTTP ${response.status} ${response.statusText}.`.replace(' .', '.'));
  }
  // A compressed response's Content-Length counts the compressed bytes; its progress is unknown.
  const length = Number(response.headers.get('content-length'));
  const total = response.headers.get('content-encoding') == null && Number.isFinite(length) && length > 0 ? length : undefined;
  progress.update(index, name, 'initiate', 0, total);
  const bytes = response.body
    ? await readStream(response.body, (loaded) => progress.update(index, name, 'progress', loaded, total), signal)
    : new Uint8Array(await response.arrayBuffer());
  progress.update(index, name, 'done', bytes.byteLength, total ?? bytes.byteLength);
  return { name, bytes };
}

// ---- finding the networks in a file ----

/** What a file that is no weights file looks like, for the error. */
function looksLike(b: Uint8Array): string | undefined {
  if (b[0] === 0x89 && b[1] === 0x50 && b[2] === 0x4e && b[3] === 0x47) return 'a PNG image';
  if (b[0] === 0xff && b[1] === 0xd8) return 'a JPEG image';
  if (b[0] === 0x3c) return 'a text or HTML file (an error page instead of the file?)';
  return undefined;
}

/** Keys without a `module.` prefix that every key has (DataParallel). */
function withoutDataParallel<T>(entries: Record<string, T>): Record<string, T> {
  const keys = Object.keys(entries);
  if (keys.length === 0 || !keys.every((k) => k.startsWith(DATA_PARALLEL))) return entries;
  return Object.fromEntries(keys.map((k) => [k.slice(DATA_PARALLEL.length), entries[k]!]));
}

/** The prefixes under which a network's two marker keys both appear. */
function prefixesOf(keys: readonly string[], marker: string, partner: string): string[] {
  const set = new Set(keys);
  const out: string[] = [];
  for (const k of keys) {
    if (k !== marker && !k.endsWith(`.${marker}`)) continue;
    const prefix = k.slice(0, k.length - marker.length);
    if (set.has(prefix + partner)) out.push(prefix);
  }
  return out;
}

function under<T>(entries: Record<string, T>, prefix: string): Record<string, T> {
  if (prefix === '') return entries;
  const out: Record<string, T> = {};
  for (const [k, v] of Object.entries(entries)) if (k.startsWith(prefix)) out[k.slice(prefix.length)] = v;
  return out;
}

/**
 * The generators, CIT extractors and discriminators among a state dict's keys, each under its
 * prefix (a file may hold several networks, e.g. under `generator.` and `cit.`).
 */
function networksIn(
  shapes: Record<string, Shaped>,
  file: string,
  label: string,
  read: (prefix: string, keep: (key: string) => boolean) => Record<string, tf.Tensor>,
): Found[] {
  const keys = Object.keys(shapes);
  const found: Found[] = [];
  const add = (kind: StateDictKind, prefix: string) => {
    found.push({
      kind,
      file,
      label: prefix === '' ? label : `${label} (${prefix.replace(/\.$/, '')})`,
      shapes: under(shapes, prefix),
      format: 'torch',
      prefix,
      read: (keep) => read(prefix, keep),
    });
  };
  for (const p of prefixesOf(keys, 'Linear.weight', 'conv1.0.weight')) add('generator', p);
  for (const p of prefixesOf(keys, 'layer1.0.conv1.weight', 'conv1.weight')) add('cit-extractor', p);
  for (const p of prefixesOf(keys, 'adv_judge.0.weight', 'adv_judge.0.weight')) add('discriminator', p);
  if (found.length === 0) {
    found.push({ kind: 'unknown', file, label, shapes, format: 'torch', prefix: '', read: (keep) => read('', keep) });
  }
  return found;
}

/**
 * A training checkpoint's generator weights (`G:conv1.0/weight`, tfjs layouts) as the PyTorch
 * keys and shapes the configuration is read from. A weight name is `<layer>/<key in the layer>`;
 * layers at the top of the PyTorch module (the CVT encoder's `Linear`, `colorFC`, `colorConv`)
 * have no layer part there, so both readings are recorded.
 */
function checkpointTorchShapes(header: Pick<SafetensorsHeader, 'tensors'>): Record<string, Shaped> {
  const shapes: Record<string, Shaped> = {};
  for (const [key, entry] of Object.entries(header.tensors)) {
    if (!key.startsWith('G:')) continue;
    const name = key.slice(2);
    const s = entry.shape;
    const shape = s.length === 4 ? [s[3]!, s[2]!, s[0]!, s[1]!] : s.length === 2 ? [s[1]!, s[0]!] : s;
    shapes[name.replace(/\//g, '.')] = { shape };
    const slash = name.indexOf('/');
    if (slash >= 0) shapes[name.slice(slash + 1).replace(/\//g, '.')] = { shape };
  }
  return shapes;
}

function findInSafetensors(source: ReadSource): Found[] {
  let header: SafetensorsHeader;
  try {
    header = readSafetensorsHeader(source.bytes);
  } catch (err) {
    throw new Error(`'${source.name}' is not a readable safetensors file: ${(err as Error).message}`);
  }
  if (header.metadata[CHECKPOINT_MARKER] !== undefined) {
    let runConfig: Record<string, unknown> | undefined;
    try {
      runConfig = (JSON.parse(header.metadata['state'] ?? '{}') as { config?: Record<string, unknown> }).config;
    } catch {
      // A checkpoint without readable state still has its weights.
    }
    const weights = Object.fromEntries(
      Object.entries(header.tensors).filter(([k]) => k.startsWith('G:')).map(([k, e]) => [k.slice(2), e] as const),
    );
    if (Object.keys(weights).length === 0) {
      throw new Error(`'${source.name}' is a training checkpoint without generator weights (G:…).`);
    }
    return [
      {
        kind: 'generator',
        file: source.name,
        label: `${source.name} (training checkpoint)`,
        shapes: weights,
        format: 'checkpoint',
        prefix: 'G:',
        torchShapes: checkpointTorchShapes(header),
        runConfig,
        read: (keep) => {
          const tensors = readSafetensors(source.bytes, { filter: (k) => k.startsWith('G:') && keep(k.slice(2)) });
          return Object.fromEntries(Object.entries(tensors).map(([k, t]) => [k.slice(2), t]));
        },
      },
    ];
  }
  // Keys as the file has them, and without a DataParallel `module.` that every key carries.
  const raw = Object.keys(header.tensors);
  const stripped = raw.length > 0 && raw.every((k) => k.startsWith(DATA_PARALLEL));
  const shapes = withoutDataParallel(header.tensors as Record<string, Shaped>);
  const read = (prefix: string, keep: (key: string) => boolean) => {
    const own = (k: string) => (stripped ? k.slice(DATA_PARALLEL.length) : k);
    const tensors = readSafetensors(source.bytes, { filter: (k) => own(k).startsWith(prefix) && keep(own(k).slice(prefix.length)) });
    return Object.fromEntries(Object.entries(tensors).map(([k, t]) => [own(k).slice(prefix.length), t]));
  };
  return networksIn(shapes, source.name, source.name, read);
}

function findInTorchCheckpoint(source: ReadSource): Found[] {
  let checkpoint: TorchValue;
  try {
    checkpoint = readTorchCheckpoint(source.bytes);
  } catch (err) {
    throw new Error(`'${source.name}' is not a readable PyTorch checkpoint: ${(err as Error).message}`);
  }
  const isDict = typeof checkpoint === 'object' && checkpoint !== null && !Array.isArray(checkpoint) && !(checkpoint instanceof Uint8Array);
  // The official files: tag2pix_*.pkl holds G (and D, optimizers); the CIT model.pth holds weight.
  const entries = isDict ? ['G', 'D', 'weight'].filter((k) => k in (checkpoint as object)) : [];
  const found: Found[] = [];
  for (const entry of entries.length > 0 ? entries : [undefined]) {
    let tensors: Record<string, TorchTensor>;
    try {
      tensors = torchTensorsFrom(checkpoint, entry);
    } catch (err) {
      throw new Error(`'${source.name}'${entry ? ` (${entry})` : ''}: ${(err as Error).message}`);
    }
    const label = entry ? `${source.name} (${entry})` : source.name;
    const read = (prefix: string, keep: (key: string) => boolean) => {
      const out: Record<string, tf.Tensor> = {};
      try {
        for (const [k, t] of Object.entries(under(tensors, prefix))) if (keep(k)) out[k] = t.toTensor(`tensor '${k}' of ${label}`);
      } catch (err) {
        tf.dispose(Object.values(out));
        throw err;
      }
      return out;
    };
    found.push(...networksIn(tensors, source.name, label, read));
  }
  return found;
}

function findNetworks(source: ReadSource): Found[] {
  const b = source.bytes;
  if (b.length >= 9 && b[8] === 0x7b) return findInSafetensors(source);
  if ((b[0] === 0x50 && b[1] === 0x4b) || b[0] === 0x80) return findInTorchCheckpoint(source);
  const what = looksLike(b);
  throw new Error(
    `'${source.name}' is ${what ?? 'not a weights file'}${what ? ', not a weights file' : ''}: give a .safetensors file or ` +
      'an official PyTorch checkpoint (.pth zip or .pkl pickle).',
  );
}

// ---- checking and loading ----

const shapeText = (s: ReadonlyArray<number | null>) => `[${s.join(', ')}]`;

function describeConfig(c: InferredGeneratorConfig): string {
  return `${c.inputSize} px, width × ${c.widthMultiplier}, decoder blocks [${c.decoderLayers.join(', ')}]`;
}

/** Throws one error listing every key that does not fit (missing, wrong shape, not used). */
function refuse(found: Found, what: string, problems: string[]): void {
  if (problems.length === 0) return;
  const listed = problems.slice(0, MAX_LISTED);
  if (problems.length > MAX_LISTED) listed.push(`… and ${problems.length - MAX_LISTED} more`);
  throw new Error([`The weights in '${found.label}' do not fit the ${what} (${problems.length} problems):`, ...listed].join('\n'));
}

/** Loads PyTorch-keyed weights into a model, after listing every mismatch from the shapes alone. */
function loadTorch(model: LayersModel, found: Found, what: string, ignore?: RegExp): void {
  const { shapes: expected, optional } = torchKeyShapes(model);
  const keep = (key: string) => !ignore?.test(key);
  const p = found.prefix;
  const problems: string[] = [];
  for (const [key, shape] of expected) {
    const have = found.shapes[key];
    if (!have) problems.push(`missing: ${p}${key} ${shapeText(shape)}`);
    else if (have.shape.join() !== shape.join()) {
      problems.push(`wrong shape: ${p}${key} is ${shapeText(have.shape)}, the network needs ${shapeText(shape)}`);
    }
  }
  for (const [key, entry] of Object.entries(found.shapes)) {
    if (!expected.has(key) && !optional.has(key) && keep(key)) problems.push(`not used by the network: ${p}${key} ${shapeText(entry.shape)}`);
  }
  refuse(found, what, problems);
  const tensors = found.read((key) => keep(key) && (expected.has(key) || optional.has(key)));
  try {
    loadTorchStateDict(model, tensors);
  } finally {
    tf.dispose(Object.values(tensors));
  }
}

/** Loads a training checkpoint's generator weights (`G:<weight name>`, the model's own layouts). */
function loadCheckpoint(model: LayersModel, found: Found, what: string): void {
  const stored = new Map(Object.entries(found.shapes));
  const problems: string[] = [];
  for (const w of model.weights) {
    const entry = stored.get(w.originalName);
    if (!entry) problems.push(`missing: G:${w.originalName} ${shapeText(w.shape)}`);
    else if (entry.shape.join() !== w.shape.join()) {
      problems.push(`wrong shape: G:${w.originalName} is ${shapeText(entry.shape)}, the network needs ${shapeText(w.shape)}`);
    }
    stored.delete(w.originalName);
  }
  for (const [name, entry] of stored) problems.push(`not used by the network: G:${name} ${shapeText(entry.shape)}`);
  refuse(found, what, problems);
  const tensors = found.read(() => true);
  try {
    for (const w of model.weights) w.write(tensors[w.originalName]!);
  } finally {
    tf.dispose(Object.values(tensors));
  }
}

function generatorConfig(found: Found): InferredGeneratorConfig {
  try {
    return inferGeneratorConfig(found.torchShapes ?? found.shapes);
  } catch (err) {
    throw new Error(`'${found.label}': ${(err as Error).message}`);
  }
}

/**
 * Reads weights and builds a ready {@link Colorizer}: the generator (its configuration read off
 * its weights) and, when it takes CIT features, the CIT extractor. Browser-safe.
 *
 * `sources` are URLs, `Response`s, `File`s/`Blob`s or bytes (see {@link WeightSource}), in any
 * order: one file holding both networks (under prefixes such as `generator.` and `cit.`), one file
 * each, the official `tag2pix_256.pkl` / `tag2pix_512.pkl` with the CIT network's `model.pth`,
 * their safetensors exports, or a tag2pix training checkpoint. A discriminator is ignored. Every
 * key that does not fit is listed in one error before any tensor is made; on any error nothing is
 * left allocated. Dispose the result when done.
 *
 * @example
 * const colorizer = await loadColorizer(['/weights/generator.safetensors', '/weights/cit.safetensors'], {
 *   onProgress: (fraction) => (bar.value = fraction),
 * });
 * const rgb = colorizeTensor({ lineArt, tags: ['blue_hair'], ...colorizer });
 * colorizer.dispose();
 */
export async function loadColorizer(sources: WeightSource | readonly WeightSource[], options: LoadColorizerOptions = {}): Promise<Colorizer> {
  const list: readonly WeightSource[] = Array.isArray(sources) ? sources : [sources as WeightSource];
  if (list.length === 0) throw new Error(`loadColorizer: no weights given.${options.help ? `\n${options.help}` : ''}`);
  const help = options.help ? `\n${options.help}` : '';
  const progress = new Progress(list.length, options.onProgress);
  const read = await Promise.all(list.map((s, i) => readSource(s, i, progress, options)));
  options.signal?.throwIfAborted();

  const found = read.flatMap(findNetworks);
  let generators = found.filter((f) => f.kind === 'generator');
  const cits = found.filter((f) => f.kind === 'cit-extractor');
  const configs = new Map(generators.map((g) => [g, generatorConfig(g)]));
  if (generators.length > 1 && options.size !== undefined) generators = generators.filter((g) => configs.get(g)!.inputSize === options.size);
  if (generators.length !== 1) {
    if (generators.length > 1) {
      throw new Error(`Several generators (${generators.map((g) => g.label).join(', ')}): give only the one to use, or choose by size (the size option).`);
    }
    const unused = [...new Set(found.map((f) => f.file))].filter((file) => !found.some((f) => f.file === file && f.kind === 'cit-extractor'));
    const lines = unused.map((file) => {
      const here = found.filter((f) => f.file === file);
      if (here.some((f) => f.kind === 'generator')) return `'${file}' holds a generator of another size.`;
      if (here.some((f) => f.kind === 'discriminator')) return `'${file}' holds a Tag2Pix discriminator, which colourising does not use.`;
      const keys = here.flatMap((f) => Object.keys(f.shapes));
      return `'${file}' holds neither a Tag2Pix generator nor a CIT extractor (${keys.length} tensors, e.g. ${keys.slice(0, 3).map((k) => `'${k}'`).join(', ') || 'none'}).`;
    });
    throw new Error(
      [
        `No generator weights${options.size !== undefined ? ` for ${options.size} px` : ''} among ${found.map((f) => f.label).filter((l, i, all) => all.indexOf(l) === i).join(', ')}.`,
        ...lines,
      ].join('\n') + help,
    );
  }
  const g = generators[0]!;
  const config = configs.get(g)!;
  if (options.size !== undefined && options.size !== config.inputSize) {
    throw new Error(`A ${options.size} px generator was asked for, but ${g.label} is a ${config.inputSize} px generator.`);
  }
  let cit: Found | undefined;
  let citSource: Colorizer['citSource'] = 'none';
  if (config.citFeatures) {
    if (cits.length > 1) throw new Error(`Several CIT extractors (${cits.map((c) => c.label).join(', ')}): give only the one to use.`);
    cit = cits[0];
    citSource = cit ? 'weights' : options.citExtractor ? 'option' : 'none';
    if (cit && config.citChannels !== 512) {
      throw new Error(
        `The generator in '${g.label}' takes ${config.citChannels} CIT feature channels, but the CIT extractor gives 512; ` +
          'these weights belong to a generator trained with other CIT features.',
      );
    }
  }

  let generator: LayersModel | undefined;
  let citExtractor: LayersModel | undefined;
  try {
    generator = buildTag2PixGenerator(config);
    const what = `generator their shapes describe (${describeConfig(config)})`;
    if (g.format === 'checkpoint') loadCheckpoint(generator, g, what);
    else loadTorch(generator, g, what);
    if (config.citFeatures) {
      if (cit) {
        citExtractor = buildCITExtractor({ inputSize: config.inputSize, batchNormMode: options.citBatchNormMode ?? 'batch-stats' });
        loadTorch(citExtractor, cit, 'CIT extractor (SE-ResNeXt-50 cut after layer2)', CIT_CLASSIFIER_ONLY);
      } else {
        citExtractor = options.citExtractor?.({ config, runConfig: g.runConfig });
        if (!citExtractor) {
          throw new Error(
            `'${g.label}' takes CIT features, so it needs a CIT extractor: give the CIT extractor's weights too ` +
              `(the CIT network's model.pth, or its .safetensors export).${help}`,
          );
        }
        citSource = 'option';
      }
    }
    options.signal?.throwIfAborted();
  } catch (err) {
    generator?.dispose();
    citExtractor?.dispose();
    throw err;
  }
  progress.ready();
  let disposed = false;
  const sourcesOf = { generator: g.label, ...(cit ? { citExtractor: cit.label } : {}) };
  const built = generator;
  return {
    generator: built,
    ...(citExtractor ? { citExtractor } : {}),
    config,
    sources: sourcesOf,
    citSource,
    dispose() {
      if (disposed) return;
      disposed = true;
      built.dispose();
      citExtractor?.dispose();
    },
  };
}
