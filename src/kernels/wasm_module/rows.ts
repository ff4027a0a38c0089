import type { WasmKernelModule } from './module.js';

/** Exports of the kernel modules whose last two arguments are a `[rowStart, rowEnd)` range of units. */
export const ROW_KERNELS = [
  'groupedConv', 'groupedConvFilterGrad', 'matMul', 'im2colRows', 'channelMoments', 'batchNormGradSums', 'batchNormGradInput',
] as const;
export type RowKernelName = (typeof ROW_KERNELS)[number];

/**
 * Threads that share a kernel module's memory and can each run a range of a row kernel's rows
 * (src/node/wasm_kernel_workers.ts starts them in Node; browsers run every row on the calling
 * thread, which may not block there).
 */
export interface RowKernelThreads {
  /**
   * Runs `name(...args, start, end)` over `[0, rows)`, split between this thread and the others
   * when the job's `work` is worth it.
   */
  run(kernels: WasmKernelModule, name: RowKernelName, args: number[], rows: number, work: number): void;
}

const threadsOf = new WeakMap<WasmKernelModule, RowKernelThreads>();

/** Lends `threads` to every row kernel of `kernels` (undefined: the calling thread alone again). */
export function setRowKernelThreads(kernels: WasmKernelModule, threads: RowKernelThreads | undefined): void {
  if (threads) threadsOf.set(kernels, threads);
  else threadsOf.delete(kernels);
}

/** Whether `kernels` has threads lent to it. */
export function hasRowKernelThreads(kernels: WasmKernelModule): boolean {
  return threadsOf.has(kernels);
}

/**
 * `name(...args, 0, rows)`, on the threads lent to `kernels` if any; `work` (multiply-adds, or
 * elements the job reads) lets them keep a small job on the calling thread.
 */
export function runRows(kernels: WasmKernelModule, name: RowKernelName, args: number[], rows: number, work: number): void {
  const threads = threadsOf.get(kernels);
  if (threads && rows > 1) threads.run(kernels, name, args, rows, work);
  else (kernels[name] as (...a: number[]) => void)(...args, 0, rows);
}
