import { Worker } from 'node:worker_threads';
import { wasmKernelModules, wasmKernelsOf, wasmMemoryOf, type WasmKernelModule } from '../kernels/wasm_module/module.js';
import { ROW_KERNELS, setRowKernelThreads, type RowKernelName, type RowKernelThreads } from '../kernels/wasm_module/rows.js';

/*
 * Helper threads for the row kernels of src/kernels/wasm_module (the grouped convolution, the
 * matMul loop, BatchNorm's passes …): tfjs-backend-wasm's threaded build gives XNNPACK a thread
 * pool, but the kernels of ours run on the calling thread. Each helper instantiates the same
 * modules on the backend's shared memory and runs a range of rows when told to. Jobs and completions go through a small shared control
 * block with Atomics, so dispatching costs no message and no turn of an event loop.
 */

/** Slots of a helper's control block (Int32). */
const JOB = 0; // sequence number of the newest job (negative: stop)
const EXPORT = 1; // index of the export in ROW_KERNELS
const ARGS = 2; // argument count
const DONE = 3; // sequence number of the newest finished job
const FAILED = 4; // 1 when the finished job threw
const READY = 5; // 1 once the module is instantiated
const ROWS = 6; // rows of the job
const CHUNK = 7; // rows taken at a time
const ARG_OFFSET = 64; // bytes: the Float64 arguments follow
const MAX_ARGS = 32;

/** A helper that waits for a job, runs it, reports, forever. */
const HELPER_SOURCE = `
const { workerData } = require('node:worker_threads');
const { memory, modules, control, names } = workerData;
const kernels = Object.assign({}, ...modules.map((module) => new WebAssembly.Instance(module, { env: { memory } }).exports));
const state = new Int32Array(control, 0, 16);
const args = new Float64Array(control, ${ARG_OFFSET}, ${MAX_ARGS});
const next = new Int32Array(workerData.next);
Atomics.store(state, ${READY}, 1);
let seen = 0;
for (;;) {
  Atomics.wait(state, ${JOB}, seen);
  const job = Atomics.load(state, ${JOB});
  if (job < 0) break;
  if (job === seen) continue;
  seen = job;
  let failed = 0;
  const rows = state[${ROWS}];
  try {
    const run = kernels[names[state[${EXPORT}]]];
    const fixed = Array.from(args.subarray(0, state[${ARGS}]));
    const chunk = state[${CHUNK}];
    for (let start = Atomics.add(next, 0, chunk); start < rows; start = Atomics.add(next, 0, chunk)) {
      run(...fixed, start, Math.min(rows, start + chunk));
    }
  } catch {
    failed = 1;
    Atomics.store(next, 0, rows);
  }
  Atomics.store(state, ${FAILED}, failed);
  Atomics.store(state, ${DONE}, job);
  Atomics.notify(state, ${DONE});
}
`;

/** Polls of a helper's completion flag before the calling thread sleeps on it. */
const SPINS = 20_000;

interface Helper {
  worker: Worker;
  state: Int32Array;
  args: Float64Array;
  job: number;
}

/** Options of {@link startWasmKernelWorkers}. */
export interface WasmKernelWorkerOptions {
  /**
   * How long the calling thread waits for a helper's rows before it stops using the helpers and
   * throws. Default 60 s (a kernel call takes milliseconds).
   */
  timeoutMs?: number;
  /**
   * Work (multiply-adds, or elements a job reads) below which a job stays on the calling thread.
   * Default {@link MIN_WORK}.
   */
  minWork?: number;
}

/**
 * Default work below which jobs stay on the calling thread: waking a helper that shares its core
 * with XNNPACK's threads took up to 150-200 µs in a training step, more than such a job takes
 * alone (docs/performance.md, "Threads").
 */
const MIN_WORK = 262_144;

class WorkerRowThreads implements RowKernelThreads {
  /** Set when a helper stopped answering: every later job runs on the calling thread alone. */
  private broken = false;

  constructor(
    private readonly helpers: Helper[],
    /** The next row not yet taken, shared by every thread of a job. */
    private readonly next: Int32Array,
    private readonly timeoutMs: number,
    private readonly minWork: number,
  ) {}

  run(kernels: WasmKernelModule, name: RowKernelName, args: number[], rows: number, work: number): void {
    const run = kernels[name] as (...a: number[]) => void;
    if (this.broken || work < this.minWork) return run(...args, 0, rows);
    // Helpers still starting (instantiating the module) are skipped rather than waited for.
    const ready = this.helpers.filter((h) => Atomics.load(h.state, READY) === 1);
    // Rows are taken in chunks as threads come free: a helper woken late, or sharing its core
    // with XNNPACK's spinning threads, takes fewer (an even split measured no faster than one thread).
    const chunk = Math.max(1, Math.floor(rows / (8 * (ready.length + 1))));
    Atomics.store(this.next, 0, 0);
    for (const helper of ready) {
      helper.args.set(args);
      helper.state[EXPORT] = ROW_KERNELS.indexOf(name);
      helper.state[ARGS] = args.length;
      helper.state[ROWS] = rows;
      helper.state[CHUNK] = chunk;
      helper.job += 1;
      Atomics.store(helper.state, JOB, helper.job);
      Atomics.notify(helper.state, JOB);
    }
    let failure: unknown;
    try {
      for (let start = Atomics.add(this.next, 0, chunk); start < rows; start = Atomics.add(this.next, 0, chunk)) {
        run(...args, start, Math.min(rows, start + chunk));
      }
    } catch (err) {
      failure = err;
      // The helpers stop taking rows; they are waited for all the same, since the next job
      // resets the shared row counter.
      Atomics.store(this.next, 0, rows);
    }
    // Always waited for: a helper still running would write into tensors freed after the throw.
    for (const helper of ready) {
      const answered = waitFor(helper, this.timeoutMs);
      if (!answered) {
        this.broken = true;
        failure ??= new Error(
          `a wasm kernel helper thread did not finish its rows in ${this.timeoutMs / 1000} s; the kernels of this ` +
            'backend run on the calling thread from now on (start wasm with one thread, TAG2PIX_WASM_THREADS=1, to never use helpers).',
        );
      } else if (helper.state[FAILED] === 1) {
        failure ??= new Error('a wasm kernel failed on a helper thread (an address outside the heap): this is a bug in tag2pix, please report it.');
      }
    }
    if (failure !== undefined) throw failure;
  }

  stop(): Promise<unknown> {
    for (const h of this.helpers) {
      Atomics.store(h.state, JOB, -1);
      Atomics.notify(h.state, JOB);
    }
    return Promise.all(this.helpers.map((h) => h.worker.terminate()));
  }
}

/** Waits until `helper` reports its current job; false if it does not within `timeoutMs`. */
function waitFor(helper: Helper, timeoutMs: number): boolean {
  for (let i = 0; i < SPINS; i++) {
    if (Atomics.load(helper.state, DONE) === helper.job) return true;
  }
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const done = Atomics.load(helper.state, DONE);
    if (done === helper.job) return true;
    const left = deadline - Date.now();
    if (left <= 0) return false;
    Atomics.wait(helper.state, DONE, done, Math.min(left, 100));
  }
}

const started = new WeakMap<WasmKernelModule, WorkerRowThreads>();

/**
 * Starts `count` helper threads for the row kernels on the wasm backend `backend` (its threaded
 * build: the memory must be shared) and lends them to its kernels. Helpers are unreferenced, so
 * they never keep the process alive. Returns whether helpers run (false on a plain memory or
 * where the kernels cannot run). Idempotent per backend.
 */
export function startWasmKernelWorkers(backend: object, count: number, options: WasmKernelWorkerOptions = {}): boolean {
  const kernels = wasmKernelsOf(backend);
  const memory = wasmMemoryOf(backend);
  if (kernels == null || memory == null || count < 1) return false;
  if (typeof SharedArrayBuffer === 'undefined' || !(memory.buffer instanceof SharedArrayBuffer)) return false;
  if (started.has(kernels)) return true;
  const modules = wasmKernelModules(true);
  const next = new SharedArrayBuffer(4);
  const helpers = Array.from({ length: count }, () => {
    const control = new SharedArrayBuffer(ARG_OFFSET + MAX_ARGS * 8);
    const worker = new Worker(HELPER_SOURCE, { eval: true, workerData: { memory, modules, control, next, names: ROW_KERNELS } });
    worker.unref();
    return { worker, state: new Int32Array(control, 0, 16), args: new Float64Array(control, ARG_OFFSET, MAX_ARGS), job: 0 };
  });
  const threads = new WorkerRowThreads(helpers, new Int32Array(next), options.timeoutMs ?? 60_000, options.minWork ?? MIN_WORK);
  started.set(kernels, threads);
  setRowKernelThreads(kernels, threads);
  return true;
}

/** Stops the helpers of `backend`'s kernels; its row kernels run on the calling thread again. */
export async function stopWasmKernelWorkers(backend: object): Promise<void> {
  const kernels = wasmKernelsOf(backend);
  const threads = kernels && started.get(kernels);
  if (!kernels || !threads) return;
  started.delete(kernels);
  setRowKernelThreads(kernels, undefined);
  await threads.stop();
}

/**
 * Makes the helpers of `backend`'s kernels exit without telling the kernels, as if they had
 * died: the next job waits for them until its timeout (tests of that path).
 */
export async function killWasmKernelWorkersForTest(backend: object): Promise<void> {
  const kernels = wasmKernelsOf(backend);
  const threads = kernels && started.get(kernels);
  if (threads) await threads.stop();
}
