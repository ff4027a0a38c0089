import * as tf from '@tensorflow/tfjs-core';

/*
 * Counts what the webgpu backend does while a function runs: GPU dispatches (one per program
 * recorded into a compute pass), the kernels that made them, and CPU fallbacks, i.e. kernels
 * that read GPU-resident data back synchronously to compute on the CPU (in Node such a read
 * throws, since tfjs-backend-webgpu reads through an OffscreenCanvas). Needs no real GPU: any
 * WebGPU adapter (lavapipe, SwiftShader) dispatches the same programs.
 */

/** What ran on the webgpu backend during {@link probeWebGPU}. */
export interface WebGPUProbe {
  /** GPU dispatches (`dispatchWorkgroups` calls). */
  dispatches: number;
  /** Dispatches per kernel (the innermost kernel running when the program was recorded). */
  dispatchesByKernel: Map<string, number>;
  /** Kernel invocations through the engine, inner ones (inside our composite kernels) included. */
  kernelCalls: number;
  /** Synchronous reads of GPU-resident data: the backend's CPU fallback. Should stay empty. */
  cpuFallbacks: Array<{ kernel: string; shape: number[]; dtype: string }>;
}

interface TensorDataLike {
  values?: unknown;
  shape: number[];
  dtype: string;
}
interface WebGPUBackendInternals {
  recordAndSubmit: (...args: unknown[]) => unknown;
  readSync: (dataId: object) => unknown;
  tensorMap: { get(dataId: object): TensorDataLike | undefined };
}
interface EngineInternals {
  runKernelFunc: (params: { kernelName?: string }) => unknown;
}

/**
 * Runs `f` on the active webgpu backend and reports its dispatches, kernels and CPU fallbacks.
 * The backend's methods are wrapped for the duration only, also when `f` throws.
 */
export async function probeWebGPU(f: () => unknown | Promise<unknown>): Promise<WebGPUProbe> {
  if (tf.getBackend() !== 'webgpu') {
    throw new Error(`probeWebGPU: the active backend is '${tf.getBackend()}', not 'webgpu'.`);
  }
  const backend = tf.backend() as unknown as WebGPUBackendInternals;
  const engine = tf.engine() as unknown as EngineInternals;
  const probe: WebGPUProbe = { dispatches: 0, dispatchesByKernel: new Map(), kernelCalls: 0, cpuFallbacks: [] };
  const stack: string[] = [];
  const current = () => stack[stack.length - 1] ?? '(outside a kernel)';
  const record = backend.recordAndSubmit;
  const readSync = backend.readSync;
  const runKernelFunc = engine.runKernelFunc;
  backend.recordAndSubmit = function (this: unknown, ...args: unknown[]) {
    probe.dispatches++;
    probe.dispatchesByKernel.set(current(), (probe.dispatchesByKernel.get(current()) ?? 0) + 1);
    return record.apply(this, args);
  };
  backend.readSync = function (this: unknown, dataId: object) {
    const data = backend.tensorMap.get(dataId);
    if (data != null && data.values == null && data.dtype !== 'string') {
      probe.cpuFallbacks.push({ kernel: current(), shape: [...data.shape], dtype: data.dtype });
    }
    return readSync.call(this, dataId);
  };
  engine.runKernelFunc = function (this: unknown, params: { kernelName?: string }) {
    probe.kernelCalls++;
    stack.push(params.kernelName ?? '(custom op)');
    try {
      return runKernelFunc.call(this, params);
    } finally {
      stack.pop();
    }
  };
  try {
    await f();
  } finally {
    backend.recordAndSubmit = record;
    backend.readSync = readSync;
    engine.runKernelFunc = runKernelFunc;
  }
  return probe;
}
