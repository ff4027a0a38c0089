import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import * as os from 'node:os';
import * as path from 'node:path';

const require = createRequire(import.meta.url);

/** The loader line of the pthread worker script that Node cannot run (a Blob URL). */
const BLOB_LOADER =
  'if(typeof e.data.urlOrBlob=="string"){importScripts(e.data.urlOrBlob)}else{var objectUrl=URL.createObjectURL(e.data.urlOrBlob);importScripts(objectUrl);URL.revokeObjectURL(objectUrl)}';

let files: { worker: string; dir: string } | undefined;

/**
 * Makes tfjs-backend-wasm's threaded build start under Node. As shipped it hands its pthread
 * workers Blob URLs (the worker script and the module source), which `worker_threads` cannot
 * load. This writes both scripts to a temporary folder (removed at exit), with the worker
 * loading the module from its file, and, while `initialise` runs, answers the backend's one
 * `URL.createObjectURL(workerBlob)` with that file's path. Returns `initialise`'s result.
 */
export async function withNodeWasmWorkers<T>(initialise: () => Promise<T>, threads?: number): Promise<T> {
  if (files == null) {
    const wasmOut = path.join(path.dirname(require.resolve('@tensorflow/tfjs-backend-wasm/package.json')), 'wasm-out');
    const mainSource = readFileSync(path.join(wasmOut, 'tfjs-backend-wasm-threaded-simd.js'), 'utf8');
    const { wasmWorkerContents } = require(path.join(wasmOut, 'tfjs-backend-wasm-threaded-simd.worker.js')) as {
      wasmWorkerContents: string;
    };
    if (!wasmWorkerContents.includes(BLOB_LOADER)) {
      throw new Error('tfjs-backend-wasm changed its worker script; the threaded build cannot be started under Node.');
    }
    const dir = mkdtempSync(path.join(os.tmpdir(), 'tag2pix-wasm-'));
    const main = path.join(dir, 'tfjs-backend-wasm-threaded-simd.js');
    const worker = path.join(dir, 'tfjs-backend-wasm-threaded-simd.worker.js');
    writeFileSync(main, mainSource);
    // The template literal turned the script's "\n" escapes into newlines; put them back, as
    // tfjs does before making its Blob.
    const workerSource = wasmWorkerContents
      .replace(/\n/g, '\\n')
      .replace(BLOB_LOADER, `importScripts(${JSON.stringify(main)});`);
    writeFileSync(worker, workerSource);
    process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
    files = { worker, dir };
  }
  const original = URL.createObjectURL;
  URL.createObjectURL = (blob: Blob) =>
    blob.type === 'application/javascript' ? files!.worker : original.call(URL, blob);
  // The backend uses at most half the logical cores it is told about; report `threads · 2`.
  // The CommonJS `os` object is the one the backend's glue code calls (the ESM namespace is read-only).
  const nodeOs = require('node:os') as typeof os;
  const cpus = nodeOs.cpus;
  if (threads != null) {
    const real = cpus();
    nodeOs.cpus = () => Array.from({ length: threads * 2 }, (_, i) => real[i % real.length]!);
  }
  try {
    return await initialise();
  } finally {
    URL.createObjectURL = original;
    nodeOs.cpus = cpus;
  }
}

interface PThreadPool {
  runningWorkers?: Array<{ unref?: () => void }>;
  unusedWorkers?: Array<{ unref?: () => void; terminate?: () => unknown }>;
}

/**
 * Lets the process exit while the backend's thread pool waits for work, and frees the pool's
 * idle workers. Emscripten keeps a reference on every worker that runs a thread, and the pool's
 * threads run until the backend is disposed, so a script would otherwise never end. The build
 * prestarts 8 workers (a fixed pool size in its glue code), each an isolate of its own, but
 * XNNPACK's thread pool, created while the backend starts, takes only `threads − 1` of them and
 * creates no thread after that: the rest sat idle, about 90 MB of RSS with 2 threads.
 */
export function releaseWasmWorkers(backend: unknown): void {
  const pool = (backend as { wasm?: { PThread?: PThreadPool } })?.wasm?.PThread;
  for (const worker of pool?.runningWorkers ?? []) worker.unref?.();
  const idle = pool?.unusedWorkers ?? [];
  for (const worker of idle) {
    worker.unref?.();
    void worker.terminate?.();
  }
  idle.length = 0;
}
