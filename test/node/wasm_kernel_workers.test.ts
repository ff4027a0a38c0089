import * as tf from '@tensorflow/tfjs-core';
import { afterAll, describe, expect, it } from 'vitest';
import { groupedConvDirectSpec, groupedConvFilterDirectSpec } from '../../src/kernels/grouped_conv.js';
import { batchNormGradInputSpec, batchNormGradSumsSpec, channelMomentsSpec } from '../../src/kernels/batch_norm_passes.js';
import { wasmKernelsOf } from '../../src/kernels/wasm_module/module.js';
import { hasRowKernelThreads } from '../../src/kernels/wasm_module/rows.js';
import { initBackend } from '../../src/node/backend.js';
import {
  killWasmKernelWorkersForTest,
  startWasmKernelWorkers,
  stopWasmKernelWorkers,
} from '../../src/node/wasm_kernel_workers.js';
import { bits, expectSameBits, randoms } from '../helpers/wasm_kernels.js';

/** A stand-in for a threaded wasm backend: a fresh shared memory, where tensors are plain offsets. */
function sharedHeap() {
  const memory = new WebAssembly.Memory({ initial: 64, maximum: 1024, shared: true });
  let top = 1024;
  const alloc = (values: Float32Array | number) => {
    const size = typeof values === 'number' ? values : values.length;
    const offset = top;
    top += Math.ceil((size * 4) / 16) * 16 + 16;
    const view = new Float32Array(memory.buffer, offset, size);
    if (typeof values === 'number') view.fill(Number.NaN);
    else view.set(values);
    return { offset, view };
  };
  return { backend: { wasm: { wasmMemory: memory } }, alloc };
}



/** One grouped convolution on `heap` through runRows, and the JavaScript loop's result. */
function convolve(heap: ReturnType<typeof sharedHeap>, xShape: number[], kShape: number[], stride: number, groups: number, xOffset?: number) {
  const attrs = { stride, padding: 1, groups } as unknown as tf.NamedAttrMap;
  const shapes = [xShape, kShape];
  const [outShape] = groupedConvDirectSpec.outputShapes(shapes, attrs);
  const size = (s: number[]) => s.reduce((p, q) => p * q, 1);
  const x = randoms(size(xShape), 1);
  const k = randoms(size(kShape), 2);
  const expected = new Float32Array(size(outShape!));
  groupedConvDirectSpec.compute([x, k], [expected], attrs, shapes);
  const [xb, kb, out] = [heap.alloc(x), heap.alloc(k), heap.alloc(size(outShape!))];
  const kernels = wasmKernelsOf(heap.backend)!;
  groupedConvDirectSpec.computeWasm!(kernels, [xOffset ?? xb.offset, kb.offset], [out.offset], attrs, shapes);
  return { got: out.view, expected };
}

describe('helper threads of the WebAssembly row kernels', () => {
  const heaps: Array<ReturnType<typeof sharedHeap>> = [];
  afterAll(async () => {
    for (const heap of heaps) await stopWasmKernelWorkers(heap.backend);
  });
  const newHeap = () => {
    const heap = sharedHeap();
    heaps.push(heap);
    return heap;
  };
  /** Starts helpers and waits until they have taken a job (they skip jobs until ready). */
  const withHelpers = async (count: number, timeoutMs?: number) => {
    const heap = newHeap();
    expect(startWasmKernelWorkers(heap.backend, count, { timeoutMs, minWork: 0 })).toBe(true);
    expect(hasRowKernelThreads(wasmKernelsOf(heap.backend)!)).toBe(true);
    await new Promise((resolve) => setTimeout(resolve, 500));
    return heap;
  };

  it.each([1, 3])('split the rows of a grouped convolution with %i helper(s), bit for bit the one-thread result', async (count) => {
    const heap = await withHelpers(count);
    for (const [xShape, kShape, stride, groups] of [
      [[2, 33, 17, 32], [3, 3, 4, 32], 1, 8],
      [[1, 40, 12, 16], [3, 3, 8, 16], 2, 2],
      [[3, 5, 9, 8], [3, 3, 2, 8], 1, 4],
    ] as const) {
      const { got, expected } = convolve(heap, [...xShape], [...kShape], stride, groups);
      expect(bits(got)).toEqual(bits(expected));
    }
  });

  it('split the filter gradient (a tap and four output channels per row) with 2 helpers, bit for bit', async () => {
    const heap = await withHelpers(2);
    for (const [xShape, dyShape, stride, groups] of [
      [[2, 17, 13, 32], [2, 17, 13, 32], 1, 8],
      [[1, 20, 12, 16], [1, 10, 6, 16], 2, 2],
      [[3, 5, 9, 8], [3, 5, 9, 8], 1, 4],
    ] as const) {
      const attrs = { stride, padding: 1, groups, filterHeight: 3, filterWidth: 3 } as unknown as tf.NamedAttrMap;
      const shapes = [[...xShape], [...dyShape]];
      const [outShape] = groupedConvFilterDirectSpec.outputShapes(shapes, attrs);
      const size = (s: number[]) => s.reduce((p, q) => p * q, 1);
      const [x, dy] = [randoms(size(shapes[0]!), 4), randoms(size(shapes[1]!), 5)];
      const expected = new Float32Array(size(outShape!));
      groupedConvFilterDirectSpec.compute([x, dy], [expected], attrs, shapes);
      const [xb, dyb, out] = [heap.alloc(x), heap.alloc(dy), heap.alloc(size(outShape!))];
      groupedConvFilterDirectSpec.computeWasm!(wasmKernelsOf(heap.backend)!, [xb.offset, dyb.offset], [out.offset], attrs, shapes);
      expect(bits(out.view)).toEqual(bits(expected));
    }
  });

  it('split BatchNorm\'s passes (16 channels or a pixel per unit) with 2 helpers, bit for bit', async () => {
    const heap = await withHelpers(2);
    const shape = [4, 9, 7, 64];
    const c = [64];
    const onHeap = { kernels: wasmKernelsOf(heap.backend)!, alloc: (size: number) => heap.alloc(size) };
    const relu = { relu: true } as unknown as tf.NamedAttrMap;
    expectSameBits(onHeap, channelMomentsSpec, [shape], {}, 20);
    expectSameBits(onHeap, batchNormGradSumsSpec, [shape, shape, c, c, c, c], relu, 21);
    expectSameBits(onHeap, batchNormGradInputSpec, [shape, shape, c, c, c, c, c, c, c], relu, 22);
  });

  it('start nowhere without a shared memory, and never twice', async () => {
    const plain = { wasm: { asm: { memory: new WebAssembly.Memory({ initial: 1 }) } } };
    expect(startWasmKernelWorkers(plain, 1)).toBe(false);
    expect(hasRowKernelThreads(wasmKernelsOf(plain)!)).toBe(false);
    const heap = await withHelpers(1);
    expect(startWasmKernelWorkers(heap.backend, 1)).toBe(true);
    await stopWasmKernelWorkers(heap.backend);
    expect(hasRowKernelThreads(wasmKernelsOf(heap.backend)!)).toBe(false);
    const { got, expected } = convolve(heap, [1, 8, 8, 8], [3, 3, 2, 8], 1, 4);
    expect(bits(got)).toEqual(bits(expected));
  });

  it('throw on rows outside the heap, wait for every helper, and run the next job right', async () => {
    const heap = await withHelpers(1);
    // An input past the end of the memory: every row reads outside it, on whichever thread.
    expect(() => convolve(heap, [1, 64, 8, 8], [3, 3, 2, 8], 1, 4, 64 * 65536 - 64)).toThrow(/out of bounds|outside the heap/);
    const { got, expected } = convolve(heap, [2, 33, 17, 32], [3, 3, 4, 32], 1, 8);
    expect(bits(got)).toEqual(bits(expected));
  });

  it('give up on a helper that stops answering with one clear error, then run on the calling thread', async () => {
    const heap = await withHelpers(1, 300);
    await killWasmKernelWorkersForTest(heap.backend);
    expect(() => convolve(heap, [1, 32, 8, 8], [3, 3, 2, 8], 1, 4)).toThrow(
      /helper thread did not finish its rows in 0.3 s; the kernels of this backend run on the calling thread from now on/,
    );
    const { got, expected } = convolve(heap, [1, 32, 8, 8], [3, 3, 2, 8], 1, 4);
    expect(bits(got)).toEqual(bits(expected));
  });

  it('start with the threaded wasm backend, one fewer than its threads', async () => {
    const report = await initBackend('wasm', { wasmThreads: 2 });
    const kernels = wasmKernelsOf(tf.backend())!;
    expect(hasRowKernelThreads(kernels)).toBe(report.wasmThreads! > 1);
    // The model's grouped convolution through them equals the one-thread result.
    const x = tf.randomNormal([2, 16, 16, 32], 0, 1, 'float32', 1) as tf.Tensor4D;
    const k = tf.randomNormal([3, 3, 4, 32], 0, 1, 'float32', 2) as tf.Tensor4D;
    const attrs = { stride: 1, padding: 1, groups: 8 } as unknown as tf.NamedAttrMap;
    const run = () => tf.engine().runKernel('Tag2PixGroupedConv2DDirect', { x, filter: k }, attrs) as tf.Tensor;
    const threaded = run();
    await stopWasmKernelWorkers(tf.backend());
    const single = run();
    expect(bits(await threaded.data() as Float32Array)).toEqual(bits(await single.data() as Float32Array));
    tf.dispose([x, k, threaded, single]);
  });
});
