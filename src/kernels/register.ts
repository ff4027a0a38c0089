import * as tf from '@tensorflow/tfjs-core';
import { FAST_KERNEL_FUNCS, type FastKernelName } from './kernels.js';
import type { KernelArgs } from './tensor_kernel.js';
import { wasmMean, wasmSum } from './reduce.js';
import { wasmConcat, wasmIdentity, wasmSlice, wasmSplitV } from './wasm_copy.js';
import { wasmBatchMatMul, wasmConv2D, wasmFusedConv2D } from './wasm_gemm.js';
import { registerLeakyReluGradient, unregisterLeakyReluGradient, wasmLeakyRelu } from './leaky_relu.js';
import { WEBGPU_KERNELS } from './webgpu/index.js';
import { ARRAY_BACKENDS, arrayKernelFunc, type ArrayKernelSpec } from './array_kernel.js';
import { FUSED_ADAM, adamUpdateSpec } from './adam_update.js';
import { PICK_ROWS, pickRowsSpec } from './pick_rows.js';
import { IM2COL, im2colSpec } from './im2col.js';
import { SWAPPED_TAPS, swappedTapsSpec } from './swapped_taps.js';
import {
  GROUPED_CONV2D_DIRECT,
  GROUPED_CONV2D_FILTER_DIRECT,
  groupedConvDirectSpec,
  groupedConvFilterDirectSpec,
} from './grouped_conv.js';
import {
  BATCH_NORM_GRAD_INPUT,
  BATCH_NORM_GRAD_SUMS,
  CHANNEL_MOMENTS,
  batchNormGradInputSpec,
  batchNormGradSumsSpec,
  channelMomentsSpec,
} from './batch_norm_passes.js';
import {
  BATCH_NORM_AFFINE,
  BATCH_NORM_AFFINE_GRAD,
  BATCH_NORM_AFFINE_RUNNING,
  batchNormAffineGradSpec,
  batchNormAffineRunningSpec,
  batchNormAffineSpec,
} from './batch_norm_affine.js';

export type { FastKernelName } from './kernels.js';

const ALL_KERNELS = Object.keys(FAST_KERNEL_FUNCS) as FastKernelName[];

type Wrapper = (args: KernelArgs, fallback: tf.KernelFunc) => tf.TensorInfo | tf.TensorInfo[];

/**
 * Backend-specific replacements that wrap the backend's own kernel (their fallback for what they
 * do not handle, e.g. strings). Only registered when the backend has the kernel.
 */
const WRAPPERS: Record<string, Record<string, Wrapper>> = {
  wasm: {
    Slice: wasmSlice, SplitV: wasmSplitV, Concat: wasmConcat, Identity: wasmIdentity, Sum: wasmSum, Mean: wasmMean, LeakyRelu: wasmLeakyRelu,
    BatchMatMul: wasmBatchMatMul, Conv2D: wasmConv2D, FusedConv2D: wasmFusedConv2D,
  },
};

/**
 * Kernels under names of this library's own (src/kernels/own_kernels.ts), per backend: programs
 * that do in one dispatch what the ops compose from many. Registered even before the backend's
 * package loads (no backend has these names); everywhere else the ops use the composition.
 */
const OWN: Record<string, Record<string, tf.KernelFunc>> = {
  webgpu: WEBGPU_KERNELS,
};

/**
 * Fused kernels of this library's own (no backend has them), written as loops over float32 arrays
 * for the backends whose tensors are plain memory (`ARRAY_BACKENDS`: wasm, cpu). The ops that use
 * them fall back to a composition of standard ops on every other backend.
 */
const ARRAY_KERNELS: Record<string, ArrayKernelSpec> = {
  [FUSED_ADAM]: adamUpdateSpec,
  [PICK_ROWS]: pickRowsSpec,
  [IM2COL]: im2colSpec,
  [SWAPPED_TAPS]: swappedTapsSpec,
  [GROUPED_CONV2D_DIRECT]: groupedConvDirectSpec,
  [GROUPED_CONV2D_FILTER_DIRECT]: groupedConvFilterDirectSpec,
  [BATCH_NORM_AFFINE]: batchNormAffineSpec,
  [BATCH_NORM_AFFINE_GRAD]: batchNormAffineGradSpec,
  [BATCH_NORM_AFFINE_RUNNING]: batchNormAffineRunningSpec,
  [CHANNEL_MOMENTS]: channelMomentsSpec,
  [BATCH_NORM_GRAD_SUMS]: batchNormGradSumsSpec,
  [BATCH_NORM_GRAD_INPUT]: batchNormGradInputSpec,
};

const arrayFuncs = new Map<string, tf.KernelFunc>(
  Object.entries(ARRAY_KERNELS).flatMap(([name, spec]) =>
    ARRAY_BACKENDS.map((backend) => [`${backend}/${name}`, arrayKernelFunc(spec, backend)] as [string, tf.KernelFunc]),
  ),
);

/** Every kernel function this library registered, to recognise them. */
const ownFuncs = new WeakSet<tf.KernelFunc>([
  ...Object.values(FAST_KERNEL_FUNCS),
  ...Object.values(OWN).flatMap((table) => Object.values(table)),
  ...arrayFuncs.values(),
]);

/**
 * Kernels a backend does not have at all: they are registered even before the backend's package
 * is loaded (a backend never registers a kernel it lacks, so nothing conflicts later).
 */
const LACKING: Record<string, FastKernelName[]> = {
  wasm: ['Conv2DBackpropFilter', 'DepthwiseConv2dNativeBackpropInput', 'DepthwiseConv2dNativeBackpropFilter'],
};

/**
 * A backend's own kernels that ours replace because they measured faster and match its results
 * (docs/performance.md). Every other backend keeps its own kernels.
 */
const REPLACED: Record<string, FastKernelName[]> = {
  wasm: ['Conv2DBackpropInput'],
  // cpu's own Conv2DBackpropInput is a direct loop that beats a forward conv2d there.
  cpu: ['Conv2DBackpropFilter', 'DepthwiseConv2dNativeBackpropFilter'],
};

/** The backends' own kernels we replaced, so {@link unregisterFastKernels} can put them back. */
const originals = new Map<string, tf.KernelConfig>();
const key = (kernel: string, backend: string) => `${backend}/${kernel}`;

/** True when the kernel registered for `backendName` is this library's. */
export function isFastKernel(kernelName: string, backendName: string): boolean {
  const kernel = tf.getKernel(kernelName, backendName);
  return kernel != null && ownFuncs.has(kernel.kernelFunc);
}

function backendLoaded(backendName: string): boolean {
  return tf.findBackendFactory(backendName) != null;
}

function ours(kernelName: FastKernelName, backendName: string): tf.KernelConfig {
  return { kernelName, backendName, kernelFunc: FAST_KERNEL_FUNCS[kernelName] };
}

/**
 * Registers this library's convolution-gradient kernels, per backend:
 * - a kernel the backend lacks (wasm has no `Conv2DBackpropFilter` nor depthwise gradients)
 *   gets ours, so models can train there; for any other loaded backend that lacks one, ours
 *   (built from its own ops) is the fallback;
 * - a kernel the backend has is replaced only where ours measured faster (wasm's
 *   `Conv2DBackpropInput`, cpu's filter gradients) and only once the backend's package is
 *   loaded, so a backend registering its own kernel later never clashes with ours;
 * - on wasm, `Slice`, `SplitV` and `Concat` are wrapped to copy in place (the stock `Slice`
 *   copies its whole input out of the wasm heap first), and `Sum`/`Mean` over leading axes
 *   become one average pooling (no transpose), and `LeakyRelu` is `x · step(x, α)` forward and
 *   backward (tfjs's kernel and gradient are scalar loops there), each with the stock kernel as
 *   fallback;
 * - on wasm and cpu, this library's own fused kernels (`ARRAY_KERNELS`: Adam's update, row
 *   picking), which no backend has; the ops that call them compose standard ops elsewhere;
 * - webgpu gets this library's WebGPU programs under names of our own (grouped convolution and
 *   its gradients …: `OWN` above), which the ops use when the active backend has them;
 * - every other kernel of every backend stays as it is.
 *
 * Nothing registers them on import: call this once the backend is up (`tag2pix/node`'s
 * `initBackend` does), and again after loading another backend package. Idempotent. Returns the
 * `backend/kernel` pairs registered by this call.
 */
export function registerFastKernels(backendNames?: string[]): string[] {
  const candidates = new Set<string>(backendNames ?? ['wasm', 'cpu', ...Object.keys(OWN)]);
  if (backendNames == null) {
    for (const name of Object.keys(tf.engine().registryFactory)) candidates.add(name);
  }
  const done: string[] = [];
  if (candidates.has('wasm')) registerLeakyReluGradient();
  for (const backend of candidates) {
    for (const [kernelName, kernelFunc] of Object.entries(OWN[backend] ?? {})) {
      if (tf.getKernel(kernelName, backend) != null) continue;
      tf.registerKernel({ kernelName, backendName: backend, kernelFunc });
      done.push(key(kernelName, backend));
    }
    const loaded = backendLoaded(backend);
    for (const kernel of ALL_KERNELS) {
      if (isFastKernel(kernel, backend)) continue;
      const existing = tf.getKernel(kernel, backend);
      if (existing == null) {
        // Before the package loads we only know what it lacks from our list.
        if (!loaded && !(LACKING[backend] ?? []).includes(kernel)) continue;
        tf.registerKernel(ours(kernel, backend));
        done.push(key(kernel, backend));
      } else if ((REPLACED[backend] ?? []).includes(kernel)) {
        originals.set(key(kernel, backend), existing);
        tf.unregisterKernel(kernel, backend);
        tf.registerKernel(ours(kernel, backend));
        done.push(key(kernel, backend));
      }
    }
    for (const kernel of Object.keys(ARRAY_KERNELS)) {
      const kernelFunc = arrayFuncs.get(key(kernel, backend));
      if (kernelFunc == null || tf.getKernel(kernel, backend) != null) continue;
      tf.registerKernel({ kernelName: kernel, backendName: backend, kernelFunc });
      done.push(key(kernel, backend));
    }
    for (const [kernel, wrapper] of Object.entries(WRAPPERS[backend] ?? {})) {
      const existing = tf.getKernel(kernel, backend);
      if (!loaded || existing == null || ownFuncs.has(existing.kernelFunc)) continue;
      const fallback = existing.kernelFunc;
      const kernelFunc = ((args: KernelArgs) => wrapper(args, fallback)) as tf.KernelFunc;
      ownFuncs.add(kernelFunc);
      originals.set(key(kernel, backend), existing);
      tf.unregisterKernel(kernel, backend);
      tf.registerKernel({ ...existing, kernelFunc });
      done.push(key(kernel, backend));
    }
  }
  return done;
}

/**
 * Removes this library's kernels from the given backends (default: all) and puts back the
 * backends' own kernels they replaced. For comparisons and debugging; models need the kernels
 * to train on wasm.
 */
export function unregisterFastKernels(backendNames?: string[]): void {
  const backends = backendNames ?? ['wasm', 'cpu', ...Object.keys(OWN), ...Object.keys(tf.engine().registryFactory)];
  if (backends.includes('wasm')) unregisterLeakyReluGradient();
  for (const backend of new Set(backends)) {
    const names = [
      ...ALL_KERNELS,
      ...Object.keys(ARRAY_KERNELS),
      ...Object.keys(WRAPPERS[backend] ?? {}),
      ...Object.keys(OWN[backend] ?? {}),
    ];
    for (const kernel of names) {
      if (!isFastKernel(kernel, backend)) continue;
      tf.unregisterKernel(kernel, backend);
      const original = originals.get(key(kernel, backend));
      if (original != null) {
        tf.registerKernel(original);
        originals.delete(key(kernel, backend));
        // A kernel with per-backend setup (wasm binds its C function) needs it run again when
        // the backend is already up, since the engine only runs setups at initialisation.
        const instance = tf.engine().registry[backend];
        if (instance != null && original.setupFunc != null) original.setupFunc(instance);
      }
    }
  }
}

