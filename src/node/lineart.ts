import * as fs from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import sharp from 'sharp';
import { type Raster8 } from '../data/raster.js';
import { XDOG_DEFAULTS, XDOG_KERNEL_FUNCTIONS, type XDoGParams, xdogData } from '../data/xdog.js';
import { imageSize, readImage } from './image.js';

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
}

/** What {@link extractLineArtFolder} did. */
export interface ExtractLineArtResult {
  total: number;
  written: number;
  /** Outputs that already existed and were kept. */
  existing: number;
  /** Files that could not be read, with the reason. */
  failed: Array<{ file: string; error: string }>;
}

/**
 * Builds a line-art folder (e.g. `xdog_train`) from a folder of colour images: every PNG, JPEG or
 * WebP in `inDir` becomes `<outDir>/<same name>.png`, a grey XDoG line art of the same size (or
 * scaled with `size`). Images are decoded and encoded on libvips' threads and XDoG runs on worker
 * threads, so all cores work. Unreadable files are reported, not fatal.
 */
export async function extractLineArtFolder(
  inDir: string,
  outDir: string,
  options: ExtractLineArtOptions = {},
): Promise<ExtractLineArtResult> {
  const method = options.method ?? 'xdog';
  if (method !== 'xdog') throw new Error(`Unknown line-art method '${String(method)}': only 'xdog' is built in.`);
  if (options.size !== undefined && !(Number.isInteger(options.size) && options.size > 0)) {
    throw new Error(`--size must be a positive integer, got ${options.size}.`);
  }
  let entries: string[];
  try {
    entries = await fs.readdir(inDir);
  } catch {
    throw new Error(`Input folder '${inDir}' cannot be read: does it exist?`);
  }
  const files = entries.filter((f) => IMAGE_EXTENSIONS.includes(path.extname(f).toLowerCase())).sort();
  if (files.length === 0) {
    throw new Error(`No PNG, JPEG or WebP images in '${inDir}'.`);
  }
  if (path.resolve(inDir) === path.resolve(outDir)) {
    throw new Error('The output folder must differ from the input folder (the outputs would replace the colour images).');
  }
  await fs.mkdir(outDir, { recursive: true });
  const params = { ...XDOG_DEFAULTS, ...options.xdog };
  const workers = options.workers ?? Math.max(1, os.availableParallelism?.() ?? os.cpus().length);
  const pool = workers > 0 ? new XDoGWorkerPool(workers) : undefined;
  const result: ExtractLineArtResult = { total: files.length, written: 0, existing: 0, failed: [] };
  let done = 0;
  const one = async (name: string) => {
    const src = path.join(inDir, name);
    const dst = path.join(outDir, `${path.basename(name, path.extname(name))}.png`);
    try {
      if (!options.overwrite && (await fs.stat(dst).then(() => true, () => false))) {
        result.existing++;
        return;
      }
      let size: { width: number; height: number } | undefined;
      if (options.size !== undefined) {
        const own = await imageSize(src);
        const scale = options.size / Math.max(own.width, own.height);
        size = { width: Math.max(1, Math.round(own.width * scale)), height: Math.max(1, Math.round(own.height * scale)) };
      }
      const grey = await readImage(src, { channels: 1, size });
      const line = pool
        ? await pool.run(grey, params)
        : { ...grey, data: xdogData(grey.data, grey.width, grey.height, params.sigma, params.k, params.gamma, params.epsilon, params.phi) };
      const png = await sharp(line.data, { raw: { width: line.width, height: line.height, channels: 1 } })
        .toColorspace('b-w')
        .png()
        .toBuffer();
      await fs.writeFile(dst, png);
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
