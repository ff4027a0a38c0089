import * as tf from '@tensorflow/tfjs-core';
import type { KernelArgs } from './tensor_kernel.js';

/** The parts of tfjs-backend-wasm's backend the copy kernels use. */
interface WasmBackendLike {
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
  typedArrayFromHeap(info: tf.TensorInfo): Float32Array | Int32Array | Uint8Array;
}

type Heap = Float32Array | Int32Array | Uint8Array;

/** Copies `count` rows of `length` elements between strided positions of two arrays. */
function copyRows(
  src: Heap, srcStart: number, srcStride: number,
  dst: Heap, dstStart: number, dstStride: number,
  length: number, count: number,
): void {
  if (length >= 16) {
    for (let r = 0; r < count; r++) {
      const s = srcStart + r * srcStride;
      dst.set(src.subarray(s, s + length), dstStart + r * dstStride);
    }
    return;
  }
  // Short rows (a few channels): a plain loop beats a subarray + set per row.
  for (let r = 0; r < count; r++) {
    const s = srcStart + r * srcStride;
    const d = dstStart + r * dstStride;
    for (let i = 0; i < length; i++) dst[d + i] = src[s + i]!;
  }
}

/**
 * Copies the box `begin`/`size` of `src` (shape `shape`) into the whole of `dst`, row by row
 * over the innermost axis that is not copied whole.
 */
function copyBox(src: Heap, shape: number[], begin: number[], size: number[], dst: Heap): void {
  const rank = shape.length;
  const strides = tf.util.computeStrides(shape);
  // Merge trailing axes that are taken whole into one contiguous run.
  let inner = rank - 1;
  let run = size[inner]!;
  while (inner > 0 && size[inner] === shape[inner] && begin[inner] === 0) {
    inner--;
    run *= size[inner]!;
  }
  const outer = size.slice(0, inner);
  const rows = outer.reduce((a, b) => a * b, 1);
  const base = begin.reduce((acc, b, axis) => acc + b * (axis < rank - 1 ? strides[axis]! : 1), 0);
  if (outer.length === 0) {
    dst.set(src.subarray(base, base + run), 0);
    return;
  }
  // The last outer axis is walked with copyRows (fixed source stride); the others by counters.
  const lastOuter = outer.length - 1;
  const lastCount = outer[lastOuter]!;
  const lastStride = strides[lastOuter]!;
  const index = new Array<number>(lastOuter).fill(0);
  let dstOffset = 0;
  for (let done = 0; done < rows; done += lastCount) {
    let srcOffset = base;
    for (let a = 0; a < lastOuter; a++) srcOffset += index[a]! * strides[a]!;
    copyRows(src, srcOffset, lastStride, dst, dstOffset, run, run, lastCount);
    dstOffset += run * lastCount;
    for (let a = lastOuter - 1; a >= 0; a--) {
      if (++index[a]! < outer[a]!) break;
      index[a] = 0;
    }
  }
}

function sliceInto(backend: WasmBackendLike, x: tf.TensorInfo, begin: number[], size: number[]): tf.TensorInfo {
  // Output first: allocating may grow the wasm memory and detach earlier heap views.
  const out = backend.makeOutput(size, x.dtype);
  if (tf.util.sizeFromShape(size) === 0) return out;
  copyBox(backend.typedArrayFromHeap(x), x.shape, begin, size, backend.typedArrayFromHeap(out));
  return out;
}

/**
 * `Slice` for wasm reading the input in place. The stock kernel first copies the whole input
 * out of the wasm heap (`readSync`) for every slice, so taking k slices of a tensor costs k full
 * copies: that made filter-tap windows and grouped-conv splits a large share of a step.
 */
export function wasmSlice(args: KernelArgs, fallback: tf.KernelFunc): tf.TensorInfo | tf.TensorInfo[] {
  const x = args.inputs['x']!;
  if (x.dtype === 'string') return fallback(args as never);
  const attrs = args.attrs as unknown as tf.SliceAttrs;
  const [begin, size] = tf.slice_util.parseSliceParams(x, attrs.begin, attrs.size);
  tf.slice_util.assertParamsValid(x, begin, size);
  return sliceInto(args.backend as unknown as WasmBackendLike, x, begin, size);
}

/** `SplitV` for wasm: its slices read the input in place (see {@link wasmSlice}). */
export function wasmSplitV(args: KernelArgs, fallback: tf.KernelFunc): tf.TensorInfo | tf.TensorInfo[] {
  const x = args.inputs['x']!;
  if (x.dtype === 'string') return fallback(args as never);
  const attrs = args.attrs as unknown as tf.SplitVAttrs;
  const axis = tf.util.parseAxisParam(attrs.axis, x.shape)[0]!;
  const sizes = tf.backend_util.prepareSplitSize(x as tf.Tensor, attrs.numOrSizeSplits, axis);
  const begin = new Array<number>(x.shape.length).fill(0);
  return sizes.map((s) => {
    const size = x.shape.slice();
    size[axis] = s;
    const out = sliceInto(args.backend as unknown as WasmBackendLike, x, begin.slice(), size);
    begin[axis]! += s;
    return out;
  });
}

/**
 * `Concat` for wasm with short rows copied by a plain loop: concatenating on the channel axis
 * (U-Net skips, grouped convolutions) copies a few channels per pixel, where the stock kernel's
 * subarray + set per row costs more than the copy.
 */
export function wasmConcat(args: KernelArgs, fallback: tf.KernelFunc): tf.TensorInfo | tf.TensorInfo[] {
  const inputs = (args.inputs as unknown as tf.TensorInfo[]).filter((t) => tf.util.sizeFromShape(t.shape) > 0);
  if (inputs.length < 2 || inputs[0]!.dtype === 'string') return fallback(args as never);
  const axis = tf.util.parseAxisParam((args.attrs as unknown as tf.ConcatAttrs).axis, inputs[0]!.shape)[0]!;
  tf.backend_util.assertParamsConsistent(inputs.map((t) => t.shape), axis);
  const outShape = tf.backend_util.computeOutShape(inputs.map((t) => t.shape), axis);
  const backend = args.backend as unknown as WasmBackendLike;
  const out = backend.makeOutput(outShape, inputs[0]!.dtype);
  const dst = backend.typedArrayFromHeap(out);
  const rows = tf.util.sizeFromShape(outShape.slice(0, axis));
  const rowLength = tf.util.sizeFromShape(outShape.slice(axis));
  let offset = 0;
  for (const t of inputs) {
    const length = tf.util.sizeFromShape(t.shape.slice(axis));
    copyRows(backend.typedArrayFromHeap(t), 0, length, dst, offset, rowLength, length, rows);
    offset += length;
  }
  return out;
}

/**
 * `Identity` for wasm sharing the input's data (as wasm's `Reshape` does) instead of copying it.
 * tfjs tensors are immutable, and tfjs clones every tensor it saves for a gradient (each kernel's
 * saved inputs, each `customGrad` save): with the stock copy, a 64 px training step copied
 * 3,500 tensors, and every saved activation was held twice until the backward pass ended.
 */
export function wasmIdentity(args: KernelArgs, fallback: tf.KernelFunc): tf.TensorInfo | tf.TensorInfo[] {
  const x = args.inputs['x']!;
  if (x.dtype === 'string') return fallback(args as never);
  args.backend.incRef(x.dataId);
  return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
}
