// Shared checks of the WebAssembly kernels (src/kernels/wasm_module) against their JavaScript loops.
import type * as tf from '@tensorflow/tfjs-core';
import { expect } from 'vitest';
import type { ArrayKernelSpec } from '../../src/kernels/array_kernel.js';
import type { WasmKernelModule } from '../../src/kernels/wasm_module/module.js';
import { Rng } from '../../src/data/random.js';

/** Seeded uniform values in [-scale, scale]. */
export function randoms(size: number, seed: number, scale = 1): Float32Array {
  const rng = new Rng(seed);
  return Float32Array.from({ length: size }, () => rng.uniform(-scale, scale));
}

/** The bytes of a float32 array, so that NaN, -0 and +0 compare exactly. */
export const bits = (a: Float32Array) => Array.from(new Uint32Array(a.buffer.slice(a.byteOffset, a.byteOffset + a.byteLength)));

/** Kernels on a memory, and an allocator of NaN-filled float32 buffers in it. */
export interface KernelHeap {
  kernels: WasmKernelModule;
  alloc(size: number): { offset: number; view: Float32Array };
}

/**
 * Runs `spec`'s JavaScript loop and its WebAssembly loop on random inputs of `shapes` (seeds from
 * `seed` on) and expects the same bits in every element of every output: the WebAssembly outputs
 * start NaN-filled, so an element it skips stays NaN.
 */
export function expectSameBits({ kernels, alloc }: KernelHeap, spec: ArrayKernelSpec, shapes: number[][], attrs: tf.NamedAttrMap, seed: number): void {
  const outShapes = spec.outputShapes(shapes, attrs);
  const size = (s: number[]) => s.reduce((p, q) => p * q, 1);
  const inputs = shapes.map((s, i) => randoms(size(s), seed + i));
  const expected = outShapes.map((s) => new Float32Array(size(s)).fill(Number.NaN));
  spec.compute(inputs, expected, attrs, shapes);
  for (const e of expected) expect(e.some(Number.isNaN)).toBe(false);
  const ins = inputs.map((a) => {
    const b = alloc(a.length);
    b.view.set(a);
    return b;
  });
  const outs = outShapes.map((s) => alloc(size(s)));
  spec.computeWasm!(kernels, ins.map((b) => b.offset), outs.map((o) => o.offset), attrs, shapes);
  outs.forEach((out, i) => expect(bits(out.view), `output ${i}`).toEqual(bits(expected[i]!)));
}
