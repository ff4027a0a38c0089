import * as tf from '@tensorflow/tfjs-core';
import type { KernelArgs } from './tensor_kernel.js';
import { wasmKernelsOf, type WasmKernelModule } from './wasm_module/module.js';

/**
 * A kernel written as one loop over float32 arrays, for the backends whose tensors are plain
 * memory: `wasm` (views of its heap, read and written in place, no copy) and `cpu` (its typed
 * arrays). One such kernel replaces a chain of elementwise kernels (each a full pass over the
 * tensor plus tfjs's per-kernel overhead) with one call and the passes the arithmetic needs.
 * Other backends keep the composition of ops the caller falls back to.
 */
export interface ArrayKernelSpec {
  /** Input names, in the order `compute` receives them. */
  inputs: string[];
  /** Output shapes from the input shapes (in `inputs` order) and the attributes. */
  outputShapes(shapes: number[][], attrs: tf.NamedAttrMap): number[][];
  /** Fills `outputs` (zeroed on cpu, uninitialised on wasm) from `inputs`. */
  compute(inputs: Float32Array[], outputs: Float32Array[], attrs: tf.NamedAttrMap, shapes: number[][]): void;
  /**
   * The same values computed by the WebAssembly kernels (src/kernels/wasm_module), used on the
   * wasm backend when they run there; `inputs` and `outputs` are byte offsets into its heap.
   */
  computeWasm?(kernels: WasmKernelModule, inputs: number[], outputs: number[], attrs: tf.NamedAttrMap, shapes: number[][]): void;
}

/** Backends an array kernel can run on. */
export const ARRAY_BACKENDS = ['wasm', 'cpu'] as const;
export type ArrayBackend = (typeof ARRAY_BACKENDS)[number];

interface WasmBackendLike {
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
  typedArrayFromHeap(info: tf.TensorInfo): Float32Array;
  dataIdMap: { get(dataId: tf.DataId): { memoryOffset: number } };
}

interface CpuBackendLike {
  readSync(dataId: tf.DataId): Float32Array;
  makeTensorInfo(shape: number[], dtype: tf.DataType, values: Float32Array): tf.TensorInfo;
}

function inputsOf(spec: ArrayKernelSpec, args: KernelArgs): tf.TensorInfo[] {
  return spec.inputs.map((name) => {
    const t = args.inputs[name];
    if (t == null || t.dtype !== 'float32') throw new Error(`array kernel: input '${name}' must be a float32 tensor.`);
    return t;
  });
}

/** The kernel function of `spec` on `backend` (one output is returned alone, as tfjs kernels do). */
export function arrayKernelFunc(spec: ArrayKernelSpec, backend: ArrayBackend): tf.KernelFunc {
  if (backend === 'wasm') {
    return ((args: KernelArgs) => {
      const ins = inputsOf(spec, args);
      const shapes = ins.map((t) => t.shape);
      const attrs = args.attrs ?? {};
      const b = args.backend as unknown as WasmBackendLike;
      // Outputs first: allocating may grow the heap, which detaches earlier views.
      const outs = spec.outputShapes(shapes, attrs).map((s) => b.makeOutput(s, 'float32'));
      const kernels = spec.computeWasm && wasmKernelsOf(b);
      if (kernels) {
        const offset = (t: tf.TensorInfo) => b.dataIdMap.get(t.dataId).memoryOffset;
        spec.computeWasm!(kernels, ins.map(offset), outs.map(offset), attrs, shapes);
      } else {
        spec.compute(ins.map((t) => b.typedArrayFromHeap(t)), outs.map((t) => b.typedArrayFromHeap(t)), attrs, shapes);
      }
      return outs.length === 1 ? outs[0] : outs;
    }) as unknown as tf.KernelFunc;
  }
  return ((args: KernelArgs) => {
    const ins = inputsOf(spec, args);
    const shapes = ins.map((t) => t.shape);
    const attrs = args.attrs ?? {};
    const b = args.backend as unknown as CpuBackendLike;
    const outShapes = spec.outputShapes(shapes, attrs);
    const values = outShapes.map((s) => new Float32Array(tf.util.sizeFromShape(s)));
    spec.compute(ins.map((t) => b.readSync(t.dataId)), values, attrs, shapes);
    const outs = outShapes.map((s, i) => b.makeTensorInfo(s, 'float32', values[i]!));
    return outs.length === 1 ? outs[0] : outs;
  }) as unknown as tf.KernelFunc;
}

/**
 * Whether the running backend's array kernels are JavaScript loops over wasm's heap, because its
 * WebAssembly kernels cannot run there (an engine without SIMD): on large tensors those loops
 * lose to compositions of the backend's SIMD kernels. False on cpu and on wasm with its kernels.
 */
export function arrayKernelsAreSlowLoops(): boolean {
  return tf.getBackend() === 'wasm' && wasmKernelsOf(tf.backend()) === undefined;
}

/** Whether the running backend has the array kernel `name` (registered by `registerFastKernels`). */
export function hasArrayKernel(name: string): boolean {
  return tf.getKernel(name, tf.getBackend()) != null;
}
