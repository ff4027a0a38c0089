import { createRequire } from 'node:module';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
// Registers every gradient and layer; the Node build of tfjs-core registers no gradients.
import '@tensorflow/tfjs-layers';
import '@tensorflow/tfjs-backend-cpu';
import { getThreadsCount, setThreadsCount, setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import { registerFastKernels } from '../kernels/register.js';
import { guardWasmMemory } from '../kernels/wasm_memory.js';
import { startWasmKernelWorkers } from './wasm_kernel_workers.js';
import { releaseWasmWorkers, withNodeWasmWorkers } from './wasm_threads.js';
import { WEBGPU_HELP, startWebGPU, type WebGPUAdapterReport } from './webgpu.js';

/**
 * A backend this library can run on. `webgpu` needs the optional `webgpu` package and a Vulkan
 * driver; `tensorflow` needs the optional `@tensorflow/tfjs-node(-gpu)`.
 */
export type BackendName = 'webgpu' | 'tensorflow' | 'wasm' | 'cpu';

/** What {@link initBackend} chose and why. */
export interface BackendReport {
  /** The active backend. */
  backend: BackendName;
  /** Where the choice came from. */
  source: 'argument' | 'TAG2PIX_BACKEND' | 'auto';
  /** Backends tried before it, each with the reason it was not used. */
  skipped: Array<{ backend: BackendName; reason: string }>;
  /** The package that provided the `tensorflow` backend, when that one was chosen. */
  tensorflowPackage?: string;
  /** Threads the wasm backend computes with, when wasm was chosen. */
  wasmThreads?: number;
  /** Why the threaded wasm build was not used although more than one thread was asked for. */
  wasmThreadsNote?: string;
  /** The adapter (GPU, or software renderer) the `webgpu` backend runs on, when it was chosen. */
  webgpuAdapter?: WebGPUAdapterReport;
}

/** Options of {@link initBackend}; the defaults are what applications want. */
export interface InitBackendOptions {
  /**
   * Loads an optional package by name (default: dynamic `import`). Tests inject a failing or
   * fake loader to walk every path without installing libtensorflow or having a GPU.
   */
  importModule?: (specifier: string) => Promise<unknown>;
  /** Environment to read `TAG2PIX_BACKEND` and `TAG2PIX_WASM_THREADS` from (default `process.env`). */
  env?: Record<string, string | undefined>;
  /**
   * Threads of the wasm backend, or `'auto'` (the default; also `TAG2PIX_WASM_THREADS`): every
   * core that other processes leave idle when the backend starts ({@link idleCores} of the lower
   * of the load average and {@link busyCoresNow}). More than 1
   * starts tfjs-backend-wasm's threaded build, which needs a workaround to run under Node
   * (docs/performance.md, "Threads"); if it cannot start, the single-threaded build is used and
   * the report says why. Only the first wasm initialisation of a process can choose.
   */
  wasmThreads?: number | 'auto';
}

/**
 * Preference order of the automatic choice. `webgpu` is chosen automatically only on a real GPU,
 * never on a software adapter (lavapipe, SwiftShader), which is slower than wasm.
 */
export const BACKEND_ORDER: readonly BackendName[] = ['webgpu', 'tensorflow', 'wasm', 'cpu'];
/** Packages that provide the `tensorflow` backend, best first. */
export const TENSORFLOW_PACKAGES = ['@tensorflow/tfjs-node-gpu', '@tensorflow/tfjs-node'] as const;

const require = createRequire(import.meta.url);

function isBackendName(name: string): name is BackendName {
  return (BACKEND_ORDER as readonly string[]).includes(name);
}

const firstLine = (err: unknown) => String((err as Error)?.message ?? err).split('\n')[0];

/** Imports the first tensorflow package that loads; returns its name or why none did. */
async function loadTensorflow(
  importModule: (specifier: string) => Promise<unknown>,
): Promise<{ pkg?: string; why?: string }> {
  const failures: string[] = [];
  for (const pkg of TENSORFLOW_PACKAGES) {
    try {
      await importModule(pkg);
      if (tf.findBackendFactory('tensorflow') == null) {
        failures.push(`${pkg}: loaded but registered no 'tensorflow' backend`);
        continue;
      }
      return { pkg };
    } catch (err) {
      failures.push(`${pkg}: ${firstLine(err)}`);
    }
  }
  return { why: `neither optional package loads (${failures.join('; ')})` };
}

/** The folder holding the backend's .wasm files inside node_modules. */
export function wasmDirectory(): string {
  const entry = require.resolve('@tensorflow/tfjs-backend-wasm');
  // The resolved entry sits in dist/ (or a subfolder of it) beside the .wasm files.
  let dir = path.dirname(entry);
  while (!dir.endsWith(`${path.sep}dist`) && path.dirname(dir) !== dir) dir = path.dirname(dir);
  return dir + path.sep;
}

let wasmPathsSet = false;

interface Activation {
  why?: string;
  pkg?: string;
  threadsNote?: string;
  adapter?: WebGPUAdapterReport;
}

/**
 * Runs `start` and removes the `process` listeners it added. tfjs-backend-wasm's Emscripten glue
 * adds an `uncaughtException` and an `unhandledRejection` listener that rethrow from inside the
 * handler, so any later uncaught error of the application made Node print a line of the glue's
 * minified source and exit with code 7 (and a user's own `uncaughtException` handler could not
 * keep the process alive). Without them, Node reports errors as it would without tag2pix.
 */
async function keepingProcessErrorHandling<T>(start: () => Promise<T>): Promise<T> {
  const events = ['uncaughtException', 'unhandledRejection'] as const;
  const before = events.map((event) => new Set(process.listeners(event)));
  try {
    return await start();
  } finally {
    events.forEach((event, i) => {
      for (const listener of process.listeners(event)) {
        if (!before[i]!.has(listener)) process.removeListener(event, listener as (...args: unknown[]) => void);
      }
    });
  }
}

async function startWasm(threads: number): Promise<Activation> {
  if (threads > 1) {
    tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', true);
    setThreadsCount(threads);
    try {
      const ok = await withNodeWasmWorkers(() => tf.setBackend('wasm'), threads);
      if (ok) {
        releaseWasmWorkers(tf.engine().registry['wasm']);
        return {};
      }
    } catch (err) {
      return startSingleThreaded(`threaded build failed: ${firstLine(err)}`);
    }
    return startSingleThreaded('threaded build failed to initialise');
  }
  return startSingleThreaded();
}

async function startSingleThreaded(threadsNote?: string): Promise<Activation> {
  if (threadsNote != null) {
    // A failed factory is cached by the engine; register a fresh one for the plain build.
    const factory = tf.findBackendFactory('wasm');
    if (factory != null) {
      tf.removeBackend('wasm');
      tf.registerBackend('wasm', factory, 2);
    }
  }
  tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', false);
  const ok = await tf.setBackend('wasm');
  return ok ? { threadsNote } : { why: `backend 'wasm' failed to initialise`, threadsNote };
}

async function activate(
  name: BackendName,
  importModule: (specifier: string) => Promise<unknown>,
  wasmThreads: number | 'auto',
  forced: boolean,
): Promise<Activation> {
  try {
    let pkg: string | undefined;
    let threadsNote: string | undefined;
    let adapter: WebGPUAdapterReport | undefined;
    if (name === 'webgpu') {
      const started = await startWebGPU(importModule, forced);
      if (started.why) return { why: started.why };
      adapter = started.adapter;
    }
    if (name === 'tensorflow') {
      const loaded = await loadTensorflow(importModule);
      if (loaded.why) return { why: loaded.why };
      pkg = loaded.pkg;
    }
    if (tf.findBackendFactory(name) == null) return { why: `backend '${name}' is not registered` };
    if (name === 'webgpu') {
      // started above
    } else if (name === 'wasm' && tf.engine().registry['wasm'] == null) {
      if (!wasmPathsSet) {
        setWasmPaths(wasmDirectory());
        wasmPathsSet = true;
      }
      // Sampled only when wasm starts: other backends need no thread count.
      const threads = wasmThreads === 'auto' ? await autoThreads() : wasmThreads;
      const started = await keepingProcessErrorHandling(() => startWasm(threads));
      if (started.why) return started;
      threadsNote = started.threadsNote;
    } else {
      const ok = await tf.setBackend(name);
      if (!ok) return { why: `backend '${name}' failed to initialise` };
    }
    await tf.ready();
    // Backend packages loaded after tag2pix's import get our kernels now.
    registerFastKernels();
    // A full wasm heap becomes one clear error instead of corruption, Aborted() or a hang.
    if (name === 'wasm') {
      guardWasmMemory();
      // Our own WebAssembly kernels run on as many threads as XNNPACK's (threaded build only).
      const threads = getThreadsCount();
      if (threads > 1) startWasmKernelWorkers(tf.backend(), threads - 1);
    }
    return { pkg, threadsNote, adapter };
  } catch (err) {
    return { why: firstLine(err) };
  }
}

function describe(backend: BackendName, a: Activation): Partial<BackendReport> {
  const extra: Partial<BackendReport> = {};
  if (a.pkg) extra.tensorflowPackage = a.pkg;
  if (a.adapter) extra.webgpuAdapter = a.adapter;
  if (backend === 'wasm') {
    extra.wasmThreads = getThreadsCount();
    if (a.threadsNote) extra.wasmThreadsNote = a.threadsNote;
  }
  return extra;
}

/**
 * Cores left idle by other processes: the core count less `load` (busy cores; default the
 * 1-minute load average), rounded, at least 1. XNNPACK's threads only pay off on idle cores: on a busy machine every parallel
 * kernel waits for a descheduled thread, and a training step measured 1.1–1.8× slower with 2
 * threads than with 1 (docs/performance.md, "Threads").
 */
export function idleCores(cores = os.cpus().length, load = os.loadavg()[0] ?? 0): number {
  return Math.max(1, Math.min(cores, Math.round(cores - load)));
}

/** CPU times of the machine (all cores) and of this process, for {@link busyCoresNow}. */
export interface CpuSample {
  /** Milliseconds all cores spent busy (user, nice, sys, irq) since boot. */
  busyMs: number;
  /** Milliseconds all cores spent in total since boot. */
  totalMs: number;
  /** Milliseconds of CPU this process used. */
  ownMs: number;
}

function sampleCpu(): CpuSample {
  let busyMs = 0;
  let totalMs = 0;
  for (const { times } of os.cpus()) {
    busyMs += times.user + times.nice + times.sys + times.irq;
    totalMs += times.user + times.nice + times.sys + times.irq + times.idle;
  }
  const own = process.cpuUsage();
  return { busyMs, totalMs, ownMs: (own.user + own.system) / 1000 };
}

/**
 * Cores that other processes keep busy now: CPU time sampled over `ms`, less this process's own
 * (which is busy loading modules while it measures). The 1-minute load average lags by about a
 * minute: right after another job ends it still counts that job, and `'auto'` took 1 thread on an
 * idle machine (the demo run of docs/results.md).
 */
export async function busyCoresNow(ms = 300, sample: () => CpuSample = sampleCpu): Promise<number> {
  const a = sample();
  await new Promise((resolve) => setTimeout(resolve, ms));
  const b = sample();
  const total = b.totalMs - a.totalMs;
  if (!(total > 0)) return 0;
  const cores = os.cpus().length || 1;
  const others = b.busyMs - a.busyMs - (b.ownMs - a.ownMs);
  return Math.max(0, (others / total) * cores);
}

/**
 * `'auto'` wasm threads: the idle cores by the lower of the 1-minute load average and the busy
 * cores sampled now, so a job that has just ended does not count (the load average still holds
 * it) while a machine busy for a minute stays busy.
 */
async function autoThreads(): Promise<number> {
  const cores = os.cpus().length;
  return idleCores(cores, Math.min(os.loadavg()[0] ?? 0, await busyCoresNow()));
}

function parseThreads(value: number | string | undefined): number | 'auto' {
  if (value == null || value === '' || value === 'auto') return 'auto';
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) {
    throw new Error(
      `wasm threads must be a positive integer, got '${value}' (TAG2PIX_WASM_THREADS or wasmThreads; 'auto' uses the idle cores).`,
    );
  }
  return n;
}

/**
 * Selects the fastest backend available in Node: `webgpu` on a real GPU (when the optional
 * `webgpu` package is installed and a Vulkan driver offers a GPU adapter; the report names it),
 * else `tensorflow` (when `@tensorflow/tfjs-node-gpu` or `@tensorflow/tfjs-node` is installed),
 * else `wasm` (SIMD, files read from node_modules, no network), else `cpu`. `name`, or the
 * `TAG2PIX_BACKEND` environment variable, forces one (a forced `webgpu` also runs on a software
 * adapter such as lavapipe); a forced backend that cannot start is an error. Call it before the
 * first tensor operation.
 *
 * @example
 * ```ts
 * import { initBackend } from 'tag2pix/node';
 * const { backend, skipped } = await initBackend();
 * console.log(`running on ${backend}`, skipped);
 * ```
 */
export async function initBackend(
  name?: string,
  options: InitBackendOptions = {},
): Promise<BackendReport> {
  const importModule = options.importModule ?? ((specifier: string) => import(specifier));
  const env = options.env ?? process.env;
  const wasmThreads = parseThreads(options.wasmThreads ?? env['TAG2PIX_WASM_THREADS']);
  const fromEnv = env['TAG2PIX_BACKEND'];
  const forced = name ?? (fromEnv !== '' ? fromEnv : undefined);
  const source: BackendReport['source'] =
    name != null ? 'argument' : forced != null ? 'TAG2PIX_BACKEND' : 'auto';
  if (forced != null) {
    if (!isBackendName(forced)) {
      throw new Error(
        `Unknown backend '${forced}'${source === 'TAG2PIX_BACKEND' ? ' in TAG2PIX_BACKEND' : ''}. ` +
          `Choose one of: ${BACKEND_ORDER.join(', ')}.`,
      );
    }
    const activation = await activate(forced, importModule, wasmThreads, true);
    const why = activation.why;
    if (why) {
      throw new Error(
        `Backend '${forced}' could not start: ${why}.` +
          (forced === 'tensorflow'
            ? ' Install @tensorflow/tfjs-node (or -node-gpu) or choose wasm or cpu.'
            : forced === 'webgpu'
              ? ` ${WEBGPU_HELP}; or choose wasm or cpu.`
              : ''),
      );
    }
    return { backend: forced, source, skipped: [], ...describe(forced, activation) };
  }
  const skipped: BackendReport['skipped'] = [];
  for (const candidate of BACKEND_ORDER) {
    const activation = await activate(candidate, importModule, wasmThreads, false);
    if (!activation.why) return { backend: candidate, source, skipped, ...describe(candidate, activation) };
    skipped.push({ backend: candidate, reason: activation.why });
  }
  throw new Error(
    `No TensorFlow.js backend could start: ${skipped.map((s) => `${s.backend}: ${s.reason}`).join('; ')}.`,
  );
}
