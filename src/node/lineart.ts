import * as fs from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import { loadSharp } from './sharp.js';
import { type Raster8 } from '../data/raster.js';
import { XDOG_DEFAULTS, XDOG_KERNEL_FUNCTIONS, type XDoGParams, xdogData } from '../data/xdog.js';
import { OptionError, OutputError, quoteValue } from '../errors.js';
import { realPathOf, removeStaleTemporaries, writeFileAtomic } from './files.js';
import { checkImage, readImage } from './image.js';

/** File extensions the extractor picks up. */
export const IMAGE_EXTENSIONS = ['.png', '.jpg', '.jpeg', '.webp'];

interface Job {
  id: number;
  grey: Uint8Array;
  width: number;
  height: number;
  params: Required<XDoGParams>;
}

// The worker is built from the kernel functions' own source text, so it runs the exact code of
// xdog() under tsx, vitest or a bundle alike, without a separate worker file to ship.
function workerSource(): string {
  const fns = XDOG_KERNEL_FUNCTIONS.map((f) => String(f)).join('\n');
  const entry = XDOG_KERNEL_FUNCTIONS[XDOG_KERNEL_FUNCTIONS.length - 1]!.name;
  return `
const { parentPort } = require('node:worker_threads');
${fns}
parentPort.on('message', (job) => {
  try {
    const p = job.params;
    const out = ${entry}(job.grey, job.width, job.height, p.sigma, p.k, p.gamma, p.epsilon, p.phi);
    parentPort.postMessage({ id: job.id, out }, [out.buffer]);
  } catch (err) {
    parentPort.postMessage({ id: job.id, error: String((err && err.message) || err) });
  }
});`;
}

/**
 * A pool of worker threads running XDoG, one per core by default. Decoding and encoding stay on
 * libvips' threads in the main process; only the pixel work moves to the workers.
 */
export class XDoGWorkerPool {
  private readonly workers: Worker[] = [];
  private readonly idle: Worker[] = [];
  private readonly queue: Array<{ job: Job; resolve: (r: Uint8Array) => void; reject: (e: Error) => void }> = [];
  private readonly inFlight = new Map<number, { resolve: (r: Uint8Array) => void; reject: (e: Error) => void; worker: Worker }>();
  private nextId = 0;
  private closed = false;

  constructor(size = Math.max(1, os.availableParallelism?.() ?? os.cpus().length)) {
    const source = workerSource();
    for (let i = 0; i < size; i++) {
      const w = new Worker(source, { eval: true });
      w.on('message', (msg: { id: number; out?: Uint8Array; error?: string }) => {
        const entry = this.inFlight.get(msg.id);
        if (!entry) return;
        this.inFlight.delete(msg.id);
        if (msg.error !== undefined) entry.reject(new Error(msg.error));
        else entry.resolve(msg.out!);
        this.release(w);
      });
      w.on('error', (err: unknown) => {
        for (const [id, e] of this.inFlight) {
          if (e.worker === w) {
            this.inFlight.delete(id);
            e.reject(err instanceof Error ? err : new Error(String(err)));
          }
        }
      });
      this.workers.push(w);
      this.idle.push(w);
    }
  }

  /** Number of worker threads. */
  get size(): number {
    return this.workers.length;
  }

  /** XDoG of a grey image on a worker thread (same result as `xdog()`). */
  run(image: Raster8, params: XDoGParams = {}): Promise<Raster8> {
    if (this.closed) return Promise.reject(new Error('XDoGWorkerPool: the pool is closed.'));
    if (image.channels !== 1) return Promise.reject(new Error('XDoGWorkerPool.run expects a grey image.'));
    const job: Job = {
      id: this.nextId++,
      // Copied so the caller's buffer is never detached.
      grey: image.data.slice(),
      width: image.width,
      height: image.height,
      params: { ...XDOG_DEFAULTS, ...params },
    };
    return new Promise<Uint8Array>((resolve, reject) => {
      this.queue.push({ job, resolve, reject });
      this.dispatch();
    }).then((data) => ({ data, width: image.width, height: image.height, channels: 1 as const }));
  }

  private dispatch(): void {
    while (this.idle.length > 0 && this.queue.length > 0) {
      const w = this.idle.pop()!;
      const { job, resolve, reject } = this.queue.shift()!;
      this.inFlight.set(job.id, { resolve, reject, worker: w });
      w.postMessage(job, [job.grey.buffer as ArrayBuffer]);
    }
  }

  private release(w: Worker): void {
    this.idle.push(w);
    this.dispatch();
  }

  /** Stops the workers. */
  async close(): Promise<void> {
    this.closed = true;
    await Promise.all(this.workers.map((w) => w.terminate()));
  }
}

/** Options of {@link extractLineArtFolder}. */
export interface ExtractLineArtOptions {
  /** Extraction method; only `xdog` is built in (sketchKeras and sketch simplification need their own networks). */
  method?: 'xdog';
  /** XDoG parameters (default: the published ones). */
  xdog?: XDoGParams;
  /** Scale each image so its longer side is `size` pixels before extracting (default: keep the size). */
  size?: number;
  /** Worker threads (default: one per core; 0 runs XDoG on the main thread). */
  workers?: number;
  /** Overwrite existing outputs (default false: skip them, so an interrupted run can continue). */
  overwrite?: boolean;
  /** Called after each file. */
  onProgress?: (done: number, total: number, file: string) => void;
  /** Largest image accepted, in pixels (default `DEFAULT_MAX_PIXELS`, 4096 × 4096); larger ones are reported as failed. */
  maxPixels?: number;
}

/** What {@link extractLineArtFolder} did. */
export interface ExtractLineArtResult {
  total: number;
  written: number;
  /** Outputs that already existed and were kept. */
  existing: number;
  /** Files that could not be read (or whose output would replace an input), with the reason. */
  failed: Array<{ file: string; error: string }>;
  /**
   * Inputs whose output name another input also maps to (`good.png` and `good.jpg`): the one
   * already named `.png` keeps its name, the others are written as `<name>.<ext>.png`.
   */
  renamed: Array<{ file: string; output: string }>;
  /** Temporary files of an earlier, killed run that were removed. */
  removedTemporaries: string[];
}

/**
 * Output names for input files: `<stem>.png`, except where two inputs share it (case-blind, so
 * the result is the same on every file system): then an input already named `.png` keeps the
 * name and the others get their full name plus `.png`. Never two inputs on one output.
 */
export function lineArtOutputNames(files: readonly string[]): Map<string, string> {
  const byStem = new Map<string, string[]>();
  for (const f of files) {
    const key = `${path.basename(f, path.extname(f))}.png`.toLowerCase();
    byStem.set(key, [...(byStem.get(key) ?? []), f]);
  }
  const out = new Map<string, string>();
  const taken = new Set<string>();
  const claim = (file: string, name: string) => {
    let candidate = name;
    for (let n = 2; taken.has(candidate.toLowerCase()); n++) candidate = name.replace(/\.png$/, `-${n}.png`);
    taken.add(candidate.toLowerCase());
    out.set(file, candidate);
  };
  // Unshared names first, so that a renamed output never takes an input's own name.
  for (const group of byStem.values()) if (group.length === 1) claim(group[0]!, `${path.basename(group[0]!, path.extname(group[0]!))}.png`);
  for (const group of byStem.values()) {
    if (group.length === 1) continue;
    const keeper = group.find((f) => path.extname(f).toLowerCase() === '.png');
    if (keeper) claim(keeper, `${path.basename(keeper, path.extname(keeper))}.png`);
    for (const f of group) if (f !== keeper) claim(f, `${f}.png`);
  }
  return out;
}

/**
 * Builds a line-art folder (e.g. `xdog_train`) from a folder of colour images: every PNG, JPEG or
 * WebP in `inDir` becomes `<outDir>/<same name>.png`, a grey XDoG line art of the same size (or
 * scaled with `size`). Images are decoded and encoded on libvips' threads and XDoG runs on worker
 * threads, so all cores work. Unreadable files are reported, not fatal.
 *
 * No input is ever overwritten: the two folders are compared by real path (a symlink to the input
 * folder is the input folder), an output that is a link to an input is left alone even with
 * `overwrite`, inputs that share an output name get distinct names (see {@link lineArtOutputNames}),
 * and each output is written through a temporary file and a rename.
 */
export async function extractLineArtFolder(
  inDir: string,
  outDir: string,
  options: ExtractLineArtOptions = {},
): Promise<ExtractLineArtResult> {
  const method = options.method ?? 'xdog';
  if (method !== 'xdog') {
    throw new OptionError((name) => `Unknown line-art ${name('method')} ${quoteValue(method)}: only 'xdog' is built in.`, { option: 'method' });
  }
  if (options.size !== undefined && !(Number.isInteger(options.size) && options.size > 0)) {
    throw new OptionError((name) => `${name('size')} must be a positive integer, got ${quoteValue(options.size)}.`, { option: 'size' });
  }
  let entries: string[];
  try {
    entries = await fs.readdir(inDir);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new OptionError(
      (name) => `${name('inDir')} ${quoteValue(inDir, 200)} cannot be read: ${code === 'ENOTDIR' ? 'it is a file, not a folder' : code === 'ENOENT' ? 'it does not exist' : (code ?? (e as Error).message)}.`,
      { option: 'inDir', file: inDir },
    );
  }
  const files = entries.filter((f) => IMAGE_EXTENSIONS.includes(path.extname(f).toLowerCase())).sort();
  if (files.length === 0) {
    throw new OptionError((name) => `No PNG, JPEG or WebP images in ${name('inDir')} ${quoteValue(inDir, 200)}.`, { option: 'inDir', file: inDir });
  }
  // By real path: a symlink or another spelling of the input folder is the input folder.
  const realIn = await realPathOf(inDir);
  if ((await realPathOf(outDir)) === realIn) {
    throw new OutputError(
      (name) =>
        `${name('outDir')} ${quoteValue(outDir, 200)} is the input folder ${quoteValue(inDir, 200)}` +
        `${path.resolve(inDir) !== path.resolve(outDir) ? ' (by another path)' : ''}; the line arts would replace the colour images. ` +
        `Choose another ${name('outDir')}.`,
      { option: 'outDir', file: outDir },
    );
  }
  const outStat = await fs.stat(outDir).catch(() => undefined);
  if (outStat && !outStat.isDirectory()) {
    throw new OutputError((name) => `${name('outDir')} ${quoteValue(outDir, 200)} is a file, not a folder.`, { option: 'outDir', file: outDir });
  }
  const maxPixels = options.maxPixels;
  const sharp = await loadSharp('extractLineArtFolder');
  await fs.mkdir(outDir, { recursive: true });
  const removedTemporaries = await removeStaleTemporaries(outDir, (base) => base.endsWith('.png'));
  const inputsByRealPath = new Set(await Promise.all(files.map((f) => realPathOf(path.join(inDir, f)))));
  const outputNames = lineArtOutputNames(files);
  const params = { ...XDOG_DEFAULTS, ...options.xdog };
  const workers = options.workers ?? Math.max(1, os.availableParallelism?.() ?? os.cpus().length);
  const pool = workers > 0 ? new XDoGWorkerPool(workers) : undefined;
  const renamed = files
    .filter((f) => outputNames.get(f) !== `${path.basename(f, path.extname(f))}.png`)
    .map((f) => ({ file: path.join(inDir, f), output: path.join(outDir, outputNames.get(f)!) }));
  const result: ExtractLineArtResult = { total: files.length, written: 0, existing: 0, failed: [], renamed, removedTemporaries };
  let done = 0;
  const one = async (name: string) => {
    const src = path.join(inDir, name);
    const dst = path.join(outDir, outputNames.get(name)!);
    try {
      const existing = await fs.lstat(dst).catch(() => undefined);
      if (existing) {
        // Never through a link onto an input, --overwrite or not.
        if (inputsByRealPath.has(await realPathOf(dst))) {
          throw new OutputError(`its output ${quoteValue(dst, 200)} is one of the input images (through a link); it is left alone.`, { file: dst });
        }
        if (!options.overwrite) {
          result.existing++;
          return;
        }
      }
      let size: { width: number; height: number } | undefined;
      if (options.size !== undefined) {
        const own = await checkImage(src, { maxPixels });
        const scale = options.size / Math.max(own.width, own.height);
        size = { width: Math.max(1, Math.round(own.width * scale)), height: Math.max(1, Math.round(own.height * scale)) };
      }
      const grey = await readImage(src, { channels: 1, size, maxPixels });
      const line = pool
        ? await pool.run(grey, params)
        : { ...grey, data: xdogData(grey.data, grey.width, grey.height, params.sigma, params.k, params.gamma, params.epsilon, params.phi) };
      const png = await sharp(line.data, { raw: { width: line.width, height: line.height, channels: 1 } })
        .toColorspace('b-w')
        .png()
        .toBuffer();
      await writeFileAtomic(dst, png);
      result.written++;
    } catch (err) {
      result.failed.push({ file: src, error: (err as Error).message });
    } finally {
      options.onProgress?.(++done, files.length, src);
    }
  };
  try {
    // Enough files in flight to keep the workers and libvips busy.
    const inFlight = Math.max(2, workers * 2);
    let next = 0;
    await Promise.all(
      Array.from({ length: Math.min(inFlight, files.length) }, async () => {
        while (next < files.length) await one(files[next++]!);
      }),
    );
  } finally {
    await pool?.close();
  }
  return result;
}
