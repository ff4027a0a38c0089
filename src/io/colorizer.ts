// From weight files to a ready generator and CIT extractor, anywhere tfjs runs: the sources may
// be URLs, `Response`s, `File`s/`Blob`s or bytes; each is a safetensors file, an official PyTorch
// checkpoint (`.pth` zip or legacy `.pkl` pickle) or a tag2pix training checkpoint. Every file is
// triaged from its shapes alone, and every key that does not fit is listed, before a tensor is made.
// Files from strangers are safe here (docs/security.md): sizes are bounded whatever a file or a
// Content-Length claims, only the tensors the networks use are decoded, non-finite and integer
// weights are refused, and every error is a Tag2PixError naming the source and the option.
import * as tf from '@tensorflow/tfjs-core';
import type { LayersModel } from '@tensorflow/tfjs-layers';
import { FileFormatError, INVISIBLE, LimitError, OptionError, WeightsError, quoteValue, shownName } from '../errors.js';
import type { BatchNormMode } from '../layers/torch_layer.js';
import { buildTag2PixGenerator } from '../models/generator.js';
import { inferGeneratorConfig, inferSynthCitExtractorConfig, type InferredGeneratorConfig, type Shaped, type StateDictKind } from '../models/infer_config.js';
import { buildCITExtractor } from '../models/se_resnext50.js';
import { buildSynthCitExtractor } from '../models/synth_cit_extractor.js';
import { checkWeightValues, loadTorchStateDict, torchKeyShapes } from './torch_state_dict.js';
import { namingWeightFile, scanWeightFile, stateDictLabel, type ScannedStateDict } from './weight_file.js';

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

/**
 * Largest weight source {@link loadColorizer} reads by default, in bytes: 2 GiB (the official
 * `tag2pix_256.pkl`, with its discriminator and both optimizer states, is 245 MB). A download
 * past it, or one whose `Content-Length` claims more, is refused before the bytes are kept.
 */
export const DEFAULT_MAX_WEIGHT_BYTES = 2 ** 31;

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
  /**
   * Largest source accepted, in bytes (default {@link DEFAULT_MAX_WEIGHT_BYTES}): a download, a
   * `Response` or a `Blob` past it (or whose declared size is past it) is a `LimitError`.
   */
  maxBytes?: number;
  /** How to get weights, in the caller's terms: the `hint` of the errors that mean weights are missing. */
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

/** Metadata key and value of tag2pix training checkpoints (training/checkpoint.ts). */
const CHECKPOINT_MARKER = 'tag2pix_checkpoint';
/** The CIT classifier's own keys, which the extractor (cut after layer2) does not have. */
const CIT_CLASSIFIER_ONLY = /^(layer3|layer4|fc)\./;
/** The synthetic extractor's pretraining heads, which colourising does not use. */
const SYNTH_CIT_HEADS = /^(regionHead|citHead)\./;
/** Most mismatching keys, sources or files one message lists. */
const MAX_LISTED = 40;
const MAX_LISTED_SOURCES = 10;

/** Up to `max` items, then how many more. */
function listSome(items: readonly string[], max: number, separator = ', '): string {
  const shown = items.slice(0, max).join(separator);
  return items.length > max ? `${shown}${separator}… ${items.length - max} more` : shown;
}

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

/** Text from elsewhere (a server, a runtime) on one line, without invisible characters, cut short. */
function oneLine(text: string, max = 200): string {
  const flat = String(text).replace(/[\n\r\t]/g, ' ').replace(INVISIBLE, '');
  return flat.length > max ? `${flat.slice(0, max)}…` : flat;
}

const mib = (n: number) => `${(n / 2 ** 20).toFixed(1)} MiB`;

function tooLarge(name: string, what: string, maxBytes: number): LimitError {
  return new LimitError(
    (n) => `Weight file ${quoteValue(name, 200)} ${what}, above the limit of ${maxBytes} bytes (${mib(maxBytes)}); raise ${n('maxBytes')} if it is right.`,
    { file: name, option: 'maxBytes' },
  );
}

/**
 * Reads a stream to its end, reporting each chunk. It keeps only what arrives, never what a
 * header claims, and stops (cancelling the stream) past `maxBytes` or past a declared `total`.
 */
async function readStream(
  stream: ReadableStream<Uint8Array>,
  name: string,
  limits: { maxBytes: number; total?: number },
  onBytes: (loaded: number) => void,
  signal?: AbortSignal,
): Promise<Uint8Array> {
  const reader = stream.getReader();
  const chunks: Uint8Array[] = [];
  let loaded = 0;
  try {
    for (;;) {
      signal?.throwIfAborted();
      const { done, value } = await reader.read();
      if (done) break;
      loaded += value.byteLength;
      if (loaded > limits.maxBytes) throw tooLarge(name, `is more than ${loaded - value.byteLength} bytes so far`, limits.maxBytes);
      if (limits.total !== undefined && loaded > limits.total) {
        throw new FileFormatError(`Weight file ${quoteValue(name, 200)} sent more bytes than its declared ${limits.total}; the download is corrupt.`, {
          file: name,
          option: 'sources',
        });
      }
      chunks.push(value);
      onBytes(loaded);
    }
  } catch (err) {
    // Stop the download; nothing read so far is kept.
    chunks.length = 0;
    await reader.cancel(err).catch(() => undefined);
    throw err;
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

async function readSource(source: WeightSource, index: number, progress: Progress, options: LoadColorizerOptions, maxBytes: number): Promise<ReadSource> {
  const signal = options.signal;
  if (typeof source === 'string' || source instanceof URL) {
    const name = nameOfUrl(source);
    const url = String(source);
    progress.update(index, name, 'initiate', 0);
    const fetcher = options.fetch ?? globalThis.fetch;
    if (typeof fetcher !== 'function') {
      throw new OptionError((n) => `Cannot download ${quoteValue(url, 200)} (${n('sources')}): this runtime has no fetch; give the bytes, or the fetch option.`, {
        file: url,
        option: 'sources',
      });
    }
    let response: Response;
    try {
      response = await fetcher(source, signal ? { signal } : undefined);
    } catch (err) {
      if (signal?.aborted) throw err;
      // fetch's own message is often just "fetch failed"; the reason is its cause.
      const cause = (err as Error).cause as Error | undefined;
      const reason = `${(err as Error).message}${cause?.message ? ` (${cause.message})` : ''}`;
      throw new OptionError((n) => `Cannot download ${quoteValue(url, 200)} (${n('sources')}): ${oneLine(reason)}.`, {
        file: url,
        option: 'sources',
        cause: err,
      });
    }
    return readResponse(response, name, index, progress, maxBytes, signal);
  }
  if (typeof Response !== 'undefined' && source instanceof Response) {
    return readResponse(source, source.url ? nameOfUrl(source.url) : `response ${index + 1}`, index, progress, maxBytes, signal);
  }
  if (typeof Blob !== 'undefined' && source instanceof Blob) {
    const name = (source as File).name || `blob ${index + 1}`;
    if (source.size > maxBytes) throw tooLarge(name, `is ${source.size} bytes`, maxBytes);
    progress.update(index, name, 'initiate', 0, source.size);
    const bytes = await readStream(source.stream(), name, { maxBytes, total: source.size }, (loaded) => progress.update(index, name, 'progress', loaded, source.size), signal);
    progress.update(index, name, 'done', bytes.byteLength, source.size);
    return { name, bytes };
  }
  let name: string;
  let bytes: Uint8Array;
  if (isNamedBytes(source) && (source.bytes instanceof ArrayBuffer || ArrayBuffer.isView(source.bytes))) {
    name = String(source.name);
    bytes = toBytes(source.bytes);
  } else if (source instanceof ArrayBuffer || ArrayBuffer.isView(source)) {
    name = `weights ${index + 1}`;
    bytes = toBytes(source);
  } else {
    throw new OptionError(
      (n) =>
        `loadColorizer: source ${index + 1} is ${Object.prototype.toString.call(source)}; give a URL, a Response, a File or Blob, ` +
        `an ArrayBuffer or Uint8Array, or { name, bytes } (${n('sources')}).`,
      { option: 'sources' },
    );
  }
  // Bytes in memory already: the limit would only refuse what is already paid for.
  progress.update(index, name, 'initiate', 0, bytes.byteLength);
  progress.update(index, name, 'done', bytes.byteLength, bytes.byteLength);
  return { name, bytes };
}

async function readResponse(response: Response, name: string, index: number, progress: Progress, maxBytes: number, signal?: AbortSignal): Promise<ReadSource> {
  if (!response.ok) {
    const where = response.url ? ` (${oneLine(response.url)})` : '';
    throw new OptionError(
      (n) => `Cannot download ${quoteValue(name, 200)}${where} (${n('sources')}): HTTP ${response.status} ${oneLine(response.statusText, 80)}.`.replace(' .', '.'),
      { file: response.url || name, option: 'sources' },
    );
  }
  // A compressed response's Content-Length counts the compressed bytes; its progress is unknown.
  const length = Number(response.headers.get('content-length'));
  const declared = Number.isSafeInteger(length) && length > 0 ? length : undefined;
  if (declared !== undefined && declared > maxBytes) {
    await response.body?.cancel().catch(() => undefined);
    throw tooLarge(name, `declares ${declared} bytes (Content-Length)`, maxBytes);
  }
  const total = response.headers.get('content-encoding') == null ? declared : undefined;
  progress.update(index, name, 'initiate', 0, total);
  const bytes = response.body
    ? await readStream(response.body, name, { maxBytes, total }, (loaded) => progress.update(index, name, 'progress', loaded, total), signal)
    : new Uint8Array(0);
  progress.update(index, name, 'done', bytes.byteLength, total ?? bytes.byteLength);
  return { name, bytes };
}

// ---- finding the networks in a file ----

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

function under<T>(entries: Readonly<Record<string, T>>, prefix: string): Record<string, T> {
  const out: Record<string, T> = {};
  for (const [k, v] of Object.entries(entries)) {
    if (k.startsWith(prefix)) Object.defineProperty(out, k.slice(prefix.length), { value: v, enumerable: true, writable: true, configurable: true });
  }
  return out;
}

/**
 * The generators, CIT extractors and discriminators among a state dict's keys, each under its
 * prefix (a file may hold several networks, e.g. under `generator.` and `cit.`).
 */
function networksIn(d: ScannedStateDict): Found[] {
  const keys = Object.keys(d.shapes);
  const label = stateDictLabel(d);
  const found: Found[] = [];
  const read = (prefix: string) => (keep: (key: string) => boolean) =>
    under(
      d.load((k) => k.startsWith(prefix) && keep(k.slice(prefix.length))),
      prefix,
    );
  const add = (kind: StateDictKind, prefix: string) => {
    found.push({
      kind,
      file: d.file,
      label: prefix === '' ? label : `${label} (${prefix.replace(/\.$/, '')})`,
      shapes: under(d.shapes, prefix),
      format: 'torch',
      prefix,
      read: read(prefix),
    });
  };
  for (const p of prefixesOf(keys, 'Linear.weight', 'conv1.0.weight')) add('generator', p);
  for (const p of prefixesOf(keys, 'layer1.0.conv1.weight', 'conv1.weight')) add('cit-extractor', p);
  for (const p of prefixesOf(keys, 'stage1.0.weight', 'features.weight')) add('synth-cit-extractor', p);
  for (const p of prefixesOf(keys, 'adv_judge.0.weight', 'adv_judge.0.weight')) add('discriminator', p);
  if (found.length === 0) found.push({ kind: 'unknown', file: d.file, label, shapes: { ...d.shapes }, format: 'torch', prefix: '', read: read('') });
  return found;
}

/**
 * A training checkpoint's generator weights (`G:conv1.0/weight`, tfjs layouts) as the PyTorch
 * keys and shapes the configuration is read from. A weight name is `<layer>/<key in the layer>`;
 * layers at the top of the PyTorch module (the CVT encoder's `Linear`, `colorFC`, `colorConv`)
 * have no layer part there, so both readings are recorded.
 */
function checkpointTorchShapes(weights: Readonly<Record<string, Shaped>>): Record<string, Shaped> {
  const shapes: Record<string, Shaped> = {};
  const set = (k: string, shape: readonly number[]) => Object.defineProperty(shapes, k, { value: { shape }, enumerable: true, configurable: true });
  for (const [name, entry] of Object.entries(weights)) {
    const s = entry.shape;
    const shape = s.length === 4 ? [s[3]!, s[2]!, s[0]!, s[1]!] : s.length === 2 ? [s[1]!, s[0]!] : s;
    set(name.replace(/\//g, '.'), shape);
    const slash = name.indexOf('/');
    if (slash >= 0) set(name.slice(slash + 1).replace(/\//g, '.'), shape);
  }
  return shapes;
}

/** A tag2pix training checkpoint's generator (`G:<weight name>` entries). */
function trainingCheckpoint(d: ScannedStateDict): Found {
  let runConfig: Record<string, unknown> | undefined;
  try {
    const config = (JSON.parse(d.metadata?.['state'] ?? '{}') as { config?: unknown }).config;
    if (config !== null && typeof config === 'object' && !Array.isArray(config)) runConfig = config as Record<string, unknown>;
  } catch {
    // A checkpoint without readable state still has its weights.
  }
  const weights = under(d.shapes, 'G:');
  if (Object.keys(weights).length === 0) {
    throw new WeightsError(`Weight file ${quoteValue(d.file, 200)} is a training checkpoint without generator weights (G:…).`, { file: d.file, option: 'sources' });
  }
  return {
    kind: 'generator',
    file: d.file,
    label: `${d.file} (training checkpoint)`,
    shapes: weights,
    format: 'checkpoint',
    prefix: 'G:',
    torchShapes: checkpointTorchShapes(weights),
    ...(runConfig ? { runConfig } : {}),
    read: (keep) => under(d.load((k) => k.startsWith('G:') && keep(k.slice(2))), 'G:'),
  };
}

function findNetworks(source: ReadSource): Found[] {
  return scanWeightFile(source.name, source.bytes).flatMap((d) =>
    d.metadata?.[CHECKPOINT_MARKER] !== undefined ? [trainingCheckpoint(d)] : networksIn(d),
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
  throw new WeightsError([`The weights in ${quoteValue(found.label, 200)} do not fit the ${what} (${problems.length} problems):`, ...listed].join('\n'), {
    file: found.file,
    option: 'sources',
  });
}

/** Loads PyTorch-keyed weights into a model, after listing every mismatch from the shapes alone. */
function loadTorch(model: LayersModel, found: Found, what: string, ignore?: RegExp): void {
  const { shapes: expected, optional } = torchKeyShapes(model);
  const keep = (key: string) => !ignore?.test(key);
  const p = found.prefix;
  const problems: string[] = [];
  for (const [key, shape] of expected) {
    const have = Object.prototype.hasOwnProperty.call(found.shapes, key) ? found.shapes[key] : undefined;
    if (!have) problems.push(`missing: ${shownName(p + key)} ${shapeText(shape)}`);
    else if (have.shape.join() !== shape.join()) {
      problems.push(`wrong shape: ${shownName(p + key)} is ${shapeText(have.shape)}, the network needs ${shapeText(shape)}`);
    }
  }
  for (const [key, entry] of Object.entries(found.shapes)) {
    if (!expected.has(key) && !optional.has(key) && keep(key)) problems.push(`not used by the network: ${shownName(p + key)} ${shapeText(entry.shape)}`);
  }
  refuse(found, what, problems);
  // Only the tensors the network uses are decoded.
  const tensors = found.read((key) => keep(key) && (expected.has(key) || optional.has(key)));
  try {
    loadTorchStateDict(model, tensors);
  } catch (err) {
    throw namingWeightFile(found.file, err, found.label);
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
  for (const [name, entry] of stored) problems.push(`not used by the network: ${shownName(`G:${name}`)} ${shapeText(entry.shape)}`);
  refuse(found, what, problems);
  const tensors = found.read(() => true);
  try {
    // As loadTorchStateDict does for PyTorch keys: no integer, NaN or infinite weight is written.
    checkWeightValues(
      model.weights.map((w) => ({ source: `G:${w.originalName}`, tensor: tensors[w.originalName]! })),
      'training checkpoint',
    );
    for (const w of model.weights) w.write(tensors[w.originalName]!);
  } catch (err) {
    throw namingWeightFile(found.file, err, found.label);
  } finally {
    tf.dispose(Object.values(tensors));
  }
}

function generatorConfig(found: Found): InferredGeneratorConfig {
  try {
    return inferGeneratorConfig(found.torchShapes ?? found.shapes);
  } catch (err) {
    throw namingWeightFile(found.file, err, found.label);
  }
}

/**
 * Checks the options every `loadColorizer` shares, before any source is read: a {@link
 * OptionError} naming the option.
 */
export function checkLoadColorizerOptions(options: LoadColorizerOptions): void {
  if (options.size !== undefined && !(Number.isInteger(options.size) && options.size > 0)) {
    throw new OptionError((name) => `${name('size')} must be a positive integer (256 or 512), got ${quoteValue(options.size)}.`, { option: 'size' });
  }
  if (options.maxBytes !== undefined && !(Number.isSafeInteger(options.maxBytes) && options.maxBytes > 0)) {
    throw new OptionError((name) => `${name('maxBytes')} must be a positive integer (bytes), got ${quoteValue(options.maxBytes)}.`, { option: 'maxBytes' });
  }
}

/**
 * Reads weights and builds a ready {@link Colorizer}: the generator (its configuration read off
 * its weights) and, when it takes CIT features, the CIT extractor. Browser-safe.
 *
 * `sources` are URLs, `Response`s, `File`s/`Blob`s or bytes (see {@link WeightSource}), in any
 * order: one file holding both networks (under prefixes such as `generator.` and `cit.`), one file
 * each, the official `tag2pix_256.pkl` / `tag2pix_512.pkl` with the CIT network's `model.pth`,
 * their safetensors exports, or a tag2pix training checkpoint. A discriminator is ignored and
 * never decoded, nor is any tensor the two networks do not use. Every key that does not fit is
 * listed in one error before any tensor is made; NaN, infinite and integer weights are refused.
 * Errors are `Tag2PixError`s naming the source and the option (`sources`, `size`, `maxBytes`); on
 * any error nothing is left allocated. Dispose the result when done.
 *
 * @example
 * const colorizer = await loadColorizer(['/weights/generator.safetensors', '/weights/cit.safetensors'], {
 *   onProgress: (fraction) => (bar.value = fraction),
 * });
 * const rgb = colorizeTensor({ lineArt, tags: ['blue_hair'], ...colorizer });
 * colorizer.dispose();
 */
export async function loadColorizer(sources: WeightSource | readonly WeightSource[], options: LoadColorizerOptions = {}): Promise<Colorizer> {
  checkLoadColorizerOptions(options);
  const list: readonly WeightSource[] = Array.isArray(sources) ? sources : [sources as WeightSource];
  const help = options.help;
  if (list.length === 0) throw new OptionError((name) => `loadColorizer: no weights given (${name('sources')}).`, { option: 'sources', hint: help });
  const maxBytes = options.maxBytes ?? DEFAULT_MAX_WEIGHT_BYTES;
  const progress = new Progress(list.length, options.onProgress);
  const read = await Promise.all(list.map((s, i) => readSource(s, i, progress, options, maxBytes)));
  options.signal?.throwIfAborted();

  const found = read.flatMap(findNetworks);
  let generators = found.filter((f) => f.kind === 'generator');
  const configs = new Map(generators.map((g) => [g, generatorConfig(g)]));
  if (generators.length > 1 && options.size !== undefined) generators = generators.filter((g) => configs.get(g)!.inputSize === options.size);
  if (generators.length > 1) {
    throw new WeightsError(
      (name) => `Several generators (${listSome(generators.map((g) => shownName(g.label, 200)), MAX_LISTED_SOURCES)}): give only the one to use, or choose by size (${name('size')}).`,
      { option: 'sources' },
    );
  }
  if (generators.length === 0) {
    const labels = [...new Set(found.map((f) => shownName(f.label, 200)))];
    const unused = [...new Set(found.map((f) => f.file))].filter((file) => !found.some((f) => f.file === file && f.kind === 'cit-extractor'));
    const lines = unused.slice(0, MAX_LISTED_SOURCES).map((file) => {
      const here = found.filter((f) => f.file === file);
      const shown = quoteValue(file, 200);
      if (here.some((f) => f.kind === 'generator')) return `${shown} holds a generator of another size.`;
      if (here.some((f) => f.kind === 'discriminator')) return `${shown} holds a Tag2Pix discriminator, which colourising does not use.`;
      const keys = here.flatMap((f) => Object.keys(f.shapes));
      return `${shown} holds neither a Tag2Pix generator nor a CIT extractor (${keys.length} tensors, e.g. ${keys.slice(0, 3).map((k) => quoteValue(k, 60)).join(', ') || 'none'}).`;
    });
    throw new WeightsError(
      (name) =>
        [`No generator weights${options.size !== undefined ? ` for ${options.size} px` : ''} in ${name('sources')}: ${listSome(labels, MAX_LISTED_SOURCES)}.`, ...lines].join('\n'),
      { option: options.size !== undefined ? 'size' : 'sources', hint: help },
    );
  }
  const g = generators[0]!;
  const config = configs.get(g)!;
  if (options.size !== undefined && options.size !== config.inputSize) {
    throw new OptionError(
      (name) => `A ${options.size} px generator was asked for (${name('size')}), but ${shownName(g.label, 200)} is a ${config.inputSize} px generator.`,
      { option: 'size', file: g.file },
    );
  }
  // The published generator takes the CIT network's 512 layer2 channels; the demo's takes its
  // synthetic extractor's features, as many as that extractor has.
  const synthetic = config.citFeatures && config.citChannels !== 512;
  const featureChannels = (f: Found): number | undefined => f.shapes['features.weight']?.shape[0];
  const cits = synthetic
    ? found.filter((f) => f.kind === 'synth-cit-extractor' && featureChannels(f) === config.citChannels)
    : found.filter((f) => f.kind === 'cit-extractor');
  let cit: Found | undefined;
  let citSource: Colorizer['citSource'] = 'none';
  if (config.citFeatures) {
    if (cits.length > 1) {
      throw new WeightsError(`Several CIT extractors (${listSome(cits.map((c) => shownName(c.label, 200)), MAX_LISTED_SOURCES)}): give only the one to use.`, {
        option: 'sources',
      });
    }
    cit = cits[0];
    citSource = cit ? 'weights' : options.citExtractor ? 'option' : 'none';
    // The published extractor beside a generator trained with other CIT features (and no synthetic one).
    const onlyPublished = found.some((f) => f.kind === 'cit-extractor') && !found.some((f) => f.kind === 'synth-cit-extractor');
    if (!cit && synthetic && onlyPublished && !options.citExtractor) {
      throw new WeightsError(
        `The generator in ${quoteValue(g.label, 200)} takes ${config.citChannels} CIT feature channels, but the CIT extractor gives 512; ` +
          'these weights belong to a generator trained with other CIT features.',
        { file: g.file, option: 'sources' },
      );
    }
    if (!cit && !options.citExtractor) throw synthetic ? missingSynthCitExtractor(g, config.citChannels!, found, help) : missingCitExtractor(g, help);
  }

  let generator: LayersModel | undefined;
  let citExtractor: LayersModel | undefined;
  try {
    generator = buildTag2PixGenerator(config);
    const what = `generator their shapes describe (${describeConfig(config)})`;
    if (g.format === 'checkpoint') loadCheckpoint(generator, g, what);
    else loadTorch(generator, g, what);
    if (config.citFeatures) {
      if (cit && synthetic) {
        let citConfig;
        try {
          citConfig = inferSynthCitExtractorConfig(cit.shapes, config.inputSize);
        } catch (err) {
          throw namingWeightFile(cit.file, err, cit.label);
        }
        citExtractor = buildSynthCitExtractor(citConfig);
        loadTorch(citExtractor, cit, 'synthetic CIT extractor (the demo\'s)', SYNTH_CIT_HEADS);
      } else if (cit) {
        citExtractor = buildCITExtractor({ inputSize: config.inputSize, batchNormMode: options.citBatchNormMode ?? 'batch-stats' });
        loadTorch(citExtractor, cit, 'CIT extractor (SE-ResNeXt-50 cut after layer2)', CIT_CLASSIFIER_ONLY);
      } else {
        citExtractor = options.citExtractor?.({ config, runConfig: g.runConfig });
        if (!citExtractor) throw missingCitExtractor(g, help);
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

/** The demo's synthetic extractor is missing, or only one of another run (other feature channels) is there. */
function missingSynthCitExtractor(g: Found, channels: number, found: readonly Found[], help: string | undefined): WeightsError {
  const others = found.filter((f) => f.kind === 'synth-cit-extractor');
  const named = others.map((f) => `${shownName(f.label, 200)} gives ${f.shapes['features.weight']?.shape[0]}`);
  return new WeightsError(
    (name) =>
      `${quoteValue(g.label, 200)} takes ${channels} CIT feature channels, from the synthetic CIT extractor it was trained with ` +
      `(cit_extractor.safetensors in the demo's output folder), which is missing from ${name('sources')}` +
      (others.length > 0 ? ` (${listSome(named, MAX_LISTED_SOURCES)}: from another run).` : '.'),
    { file: g.file, option: 'sources', hint: help },
  );
}

function missingCitExtractor(g: Found, help: string | undefined): WeightsError {
  return new WeightsError(
    (name) =>
      `${quoteValue(g.label, 200)} takes CIT features, so it needs a CIT extractor (the CIT network's model.pth, or its .safetensors export), ` +
      `which is missing from ${name('sources')}: give the CIT extractor's weights too.`,
    { file: g.file, option: 'sources', hint: help },
  );
}
