import * as tf from '@tensorflow/tfjs-core';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { initBackend } from '../../src/node/backend.js';
import { adamUpdateSpec, type AdamUpdateAttrs } from '../../src/kernels/adam_update.js';
import { im2colSpec, type Im2ColAttrs } from '../../src/kernels/im2col.js';
import { swappedTapsSpec } from '../../src/kernels/swapped_taps.js';
import { batchNormGradInputSpec, batchNormGradSumsSpec, channelMomentsSpec } from '../../src/kernels/batch_norm_passes.js';
import { groupedConvDirectSpec, groupedConvFilterDirectSpec } from '../../src/kernels/grouped_conv.js';
import { instantiateWasmKernels, wasmKernelsOf, type WasmKernelModule } from '../../src/kernels/wasm_module/module.js';
import { bits, expectSameBits, randoms } from '../helpers/wasm_kernels.js';

const PAGE = 65536;

/** A module on a fresh memory of its own, plain or shared (the two builds of tfjs-backend-wasm). */
function moduleOn(shared: boolean) {
  const memory = new WebAssembly.Memory({ initial: 64, maximum: 1024, shared });
  let top = 1024; // Keep address 0 unused, as malloc does.
  const alloc = (size: number, fill = Number.NaN) => {
    const offset = top;
    top += Math.ceil((size * 4) / 16) * 16 + 16;
    expect(top).toBeLessThanOrEqual(64 * PAGE); // The initial memory holds every buffer.
    const view = new Float32Array(memory.buffer, offset, size);
    view.fill(fill);
    return { offset, view };
  };
  return { kernels: instantiateWasmKernels(memory), alloc };
}

describe('the WebAssembly kernels', () => {
  it('binary.ts is compiled from kernels.wat (tools/build_wasm_kernels.mjs --check)', () => {
    const script = fileURLToPath(new URL('../../tools/build_wasm_kernels.mjs', import.meta.url));
    expect(() => execFileSync(process.execPath, [script, '--check'], { stdio: 'pipe' })).not.toThrow();
  });

  it('each build of each module stays under the 4 KB a browser compiles synchronously on its main thread', async () => {
    const { WASM_MODULES } = await import('../../src/kernels/wasm_module/binary.js');
    expect(WASM_MODULES.map((m) => m.name)).toEqual(['batch_norm', 'gemm', 'kernels']);
    for (const { name, shared, plain } of WASM_MODULES) {
      for (const base64 of [shared, plain]) expect(atob(base64).length, name).toBeLessThan(4096);
    }
  });

  describe.each([false, true])('on a memory with shared = %s', (shared) => {
    it('adam equals the JavaScript loop bit for bit, at every length (vector body and scalar tail)', () => {
      const { kernels, alloc } = moduleOn(shared);
      const attrs: AdamUpdateAttrs = {
        beta1: 0.5, beta2: 0.999, epsilon: 1e-8, biasCorrection2Sqrt: Math.sqrt(1 - 0.999 ** 7), stepSize: 2e-4 / (1 - 0.5 ** 7),
      };
      for (const size of [1, 3, 4, 5, 8, 17, 1027]) {
        const inputs = [randoms(size, 1), randoms(size, 2, 0.1), randoms(size, 3, 0.01).map(Math.abs), randoms(size, 4)];
        // Edge values: a zero second moment and gradient (the denominator is epsilon), a huge gradient.
        inputs[2]![0] = 0;
        inputs[3]![0] = 0;
        if (size > 2) inputs[3]![size - 1] = 3e18;
        const expected = [0, 1, 2].map(() => new Float32Array(size));
        adamUpdateSpec.compute(inputs, expected, attrs as unknown as tf.NamedAttrMap, [[size]]);
        const ins = inputs.map((a) => {
          const b = alloc(size);
          b.view.set(a);
          return b;
        });
        const outs = [0, 1, 2].map(() => alloc(size));
        adamUpdateSpec.computeWasm!(kernels, ins.map((b) => b.offset), outs.map((b) => b.offset), attrs as unknown as tf.NamedAttrMap, [[size]]);
        for (let k = 0; k < 3; k++) expect(bits(outs[k]!.view), `size ${size}, output ${k}`).toEqual(bits(expected[k]!));
      }
    });

    const cases: Array<{ shape: [number, number, number, number]; attrs: Partial<Im2ColAttrs> & { filterHeight: number; filterWidth: number } }> = [
      { shape: [2, 5, 6, 3], attrs: { filterHeight: 3, filterWidth: 3, padTop: 1, padLeft: 1, outHeight: 5, outWidth: 6 } },
      { shape: [1, 7, 7, 2], attrs: { filterHeight: 3, filterWidth: 3, strideHeight: 2, strideWidth: 2, padTop: 1, padLeft: 1, outHeight: 4, outWidth: 4 } },
      { shape: [2, 9, 8, 1], attrs: { filterHeight: 7, filterWidth: 7, strideHeight: 2, strideWidth: 2, padTop: 3, padLeft: 3, outHeight: 5, outWidth: 4 } },
      { shape: [1, 6, 6, 5], attrs: { filterHeight: 3, filterWidth: 2, dilationHeight: 2, dilationWidth: 2, padTop: 2, padLeft: 1, outHeight: 6, outWidth: 6 } },
      { shape: [3, 4, 4, 4], attrs: { filterHeight: 1, filterWidth: 1, outHeight: 4, outWidth: 4 } },
      // Every tap outside the image on one side, and a valid (unpadded) convolution.
      { shape: [1, 2, 2, 2], attrs: { filterHeight: 5, filterWidth: 5, padTop: 2, padLeft: 2, outHeight: 2, outWidth: 2 } },
      { shape: [2, 6, 5, 3], attrs: { filterHeight: 3, filterWidth: 3, outHeight: 4, outWidth: 3 } },
    ];
    it.each(cases.flatMap((c) => (['tap', 'channel'] as const).map((rowOrder) => ({ ...c, rowOrder }))))(
      'im2colTap fills every output element as the JavaScript loop does: %o',
      ({ shape, attrs, rowOrder }) => {
        const { kernels, alloc } = moduleOn(shared);
        const a: Im2ColAttrs = {
          strideHeight: 1, strideWidth: 1, dilationHeight: 1, dilationWidth: 1, padTop: 0, padLeft: 0, outHeight: 0, outWidth: 0,
          ...attrs, rowOrder,
        };
        const size = shape.reduce((p, q) => p * q, 1);
        const x = randoms(size, 5);
        const [outShape] = im2colSpec.outputShapes([shape], a as unknown as tf.NamedAttrMap);
        const outSize = outShape!.reduce((p, q) => p * q, 1);
        const expected = new Float32Array(outSize).fill(Number.NaN);
        im2colSpec.compute([x], [expected], a as unknown as tf.NamedAttrMap, [shape]);
        expect(expected.some(Number.isNaN)).toBe(false);
        const xb = alloc(size);
        xb.view.set(x);
        const out = alloc(outSize); // NaN-filled: an element the kernel skips stays NaN.
        im2colSpec.computeWasm!(kernels as WasmKernelModule, [xb.offset], [out.offset], a as unknown as tf.NamedAttrMap, [shape]);
        expect(bits(out.view)).toEqual(bits(expected));
      },
    );

    it.each([
      { shape: [3, 3, 5, 7], taps: [8, 7, 6, 5, 4, 3, 2, 1, 0] },
      { shape: [2, 2, 1, 9], taps: [3, 0] },
      { shape: [1, 1, 6, 1], taps: [0] },
    ])('transpose gives the swapped taps the JavaScript loop gives: %o', ({ shape, taps }) => {
      const { kernels, alloc } = moduleOn(shared);
      const size = shape.reduce((p, q) => p * q, 1);
      const filter = randoms(size, 6);
      const attrs = { taps } as unknown as tf.NamedAttrMap;
      const outSize = taps.length * shape[2]! * shape[3]!;
      const expected = new Float32Array(outSize).fill(Number.NaN);
      swappedTapsSpec.compute([filter], [expected], attrs, [shape]);
      expect(expected.some(Number.isNaN)).toBe(false);
      const fb = alloc(size);
      fb.view.set(filter);
      const out = alloc(outSize);
      swappedTapsSpec.computeWasm!(kernels, [fb.offset], [out.offset], attrs, [shape]);
      expect(bits(out.view)).toEqual(bits(expected));
    });

    it.each([
      // [n, h, w, C], [kh, kw, groupIn, outC], stride, padding, groups
      { x: [2, 9, 11, 8], k: [3, 3, 2, 8], stride: 1, padding: 1, groups: 4 }, // groupOut 2
      { x: [1, 7, 6, 12], k: [3, 3, 3, 8], stride: 1, padding: 1, groups: 4 }, // groupOut 2, groupIn 3
      { x: [1, 8, 13, 16], k: [3, 3, 4, 16], stride: 1, padding: 1, groups: 4 }, // groupOut 4
      { x: [2, 9, 9, 16], k: [3, 3, 8, 16], stride: 2, padding: 1, groups: 2 }, // groupOut 8, stride 2
      { x: [1, 6, 10, 32], k: [3, 3, 16, 32], stride: 1, padding: 1, groups: 2 }, // groupOut 16
      { x: [1, 10, 12, 8], k: [5, 5, 4, 8], stride: 1, padding: 2, groups: 2 },
      { x: [1, 9, 14, 8], k: [3, 3, 4, 8], stride: 1, padding: 0, groups: 2 }, // no padding: every pixel interior
      { x: [1, 3, 3, 8], k: [3, 3, 2, 8], stride: 1, padding: 1, groups: 4 }, // narrower than four pixels
      { x: [2, 5, 7, 16], k: [1, 1, 4, 16], stride: 2, padding: 0, groups: 4 },
    ])('groupedConv gives the JavaScript loop\'s bits for every output element: %o', ({ x: xShape, k: kShape, stride, padding, groups }) => {
      const attrs = { stride, padding, groups } as unknown as tf.NamedAttrMap;
      expectSameBits(moduleOn(shared), groupedConvDirectSpec, [xShape, kShape], attrs, 7);
    });

    it.each([
      // x [n, h, w, C], dy [n, outH, outW, outC], kernel size, stride, padding, groups
      { x: [2, 9, 11, 8], dy: [2, 9, 11, 8], k: 3, stride: 1, padding: 1, groups: 4 }, // groupIn 2, groupOut 2
      { x: [1, 8, 13, 16], dy: [1, 8, 13, 16], k: 3, stride: 1, padding: 1, groups: 4 }, // groupIn 4, groupOut 4
      { x: [2, 9, 9, 16], dy: [2, 5, 5, 16], k: 3, stride: 2, padding: 1, groups: 2 }, // groupIn 8, stride 2
      { x: [1, 6, 10, 32], dy: [1, 6, 10, 32], k: 3, stride: 1, padding: 1, groups: 2 }, // groupIn 16, groupOut 16
      { x: [1, 7, 6, 24], dy: [1, 7, 6, 8], k: 3, stride: 1, padding: 1, groups: 4 }, // groupIn 6 (pairs), groupOut 2
      { x: [1, 10, 12, 8], dy: [1, 10, 12, 8], k: 5, stride: 1, padding: 2, groups: 2 },
      { x: [1, 9, 14, 8], dy: [1, 7, 12, 8], k: 3, stride: 1, padding: 0, groups: 2 },
      { x: [1, 2, 3, 8], dy: [1, 2, 3, 8], k: 5, stride: 1, padding: 2, groups: 4 }, // taps outside on every side
    ])('groupedConvFilterGrad gives the JavaScript loop\'s bits for every filter element: %o', ({ x: xShape, dy: dyShape, k, stride, padding, groups }) => {
      const attrs = { stride, padding, groups, filterHeight: k, filterWidth: k } as unknown as tf.NamedAttrMap;
      expectSameBits(moduleOn(shared), groupedConvFilterDirectSpec, [xShape, dyShape], attrs, 9);
    });

    it.each([[1, 1, 1, 16], [2, 5, 3, 32], [3, 7, 2, 48]])('channelMoments gives the JavaScript loop\'s bits: [%i, %i, %i, %i]', (...shape) => {
      expectSameBits(moduleOn(shared), channelMomentsSpec, [shape], {}, 15);
    });

    it.each([
      { shape: [2, 5, 3, 16], relu: false },
      { shape: [2, 5, 3, 16], relu: true },
      { shape: [1, 4, 7, 48], relu: true },
    ])('batchNormGradSums and batchNormGradInput give the JavaScript loops\' bits: %o', ({ shape, relu }) => {
      const c = [shape[3]!];
      const attrs = { relu } as unknown as tf.NamedAttrMap;
      expectSameBits(moduleOn(shared), batchNormGradSumsSpec, [shape, shape, c, c, c, c], attrs, 16);
      expectSameBits(moduleOn(shared), batchNormGradInputSpec, [shape, shape, c, c, c, c, c, c, c], attrs, 17);
    });

    /**
     * The product `matMul` computes, as its loop does: from the bias (or 0), per k in order, a
     * float32 product then a float32 sum. `aAt(m, k)` reads A in whichever layout.
     */
    function referenceMatMul(aAt: (m: number, k: number) => number, b: Float32Array, bias: Float32Array | undefined, m: number, k: number, n: number) {
      const out = new Float32Array(m * n);
      for (let i = 0; i < m; i++) {
        for (let j = 0; j < n; j++) {
          let sum = bias ? bias[j]! : 0;
          for (let t = 0; t < k; t++) sum = Math.fround(sum + Math.fround(aAt(i, t) * b[t * n + j]!));
          out[i * n + j] = sum;
        }
      }
      return out;
    }

    it.each([
      { m: 4, k: 1, n: 8 },
      { m: 8, k: 3, n: 16, bias: true },
      { m: 68, k: 5, n: 24 }, // two 64-row blocks, the second short
      { m: 132, k: 17, n: 8, bias: true, transposed: true },
      { m: 12, k: 40, n: 32, transposed: true },
    ])('matMul gives the reference loop\'s bits for every output element, its units in any split: %o', ({ m, k, n, bias, transposed }) => {
      const { kernels, alloc } = moduleOn(shared);
      const a = randoms(m * k, 11);
      const b = randoms(k * n, 12);
      const biasValues = bias ? randoms(n, 13) : undefined;
      // A as [m, k], or stored transposed as [k, m] and read with swapped strides.
      const stored = transposed ? Float32Array.from({ length: m * k }, (_, i) => a[(i % m) * k + Math.floor(i / m)]!) : a;
      const expected = referenceMatMul((i, t) => a[i * k + t]!, b, biasValues, m, k, n);
      const [ab, bb] = [alloc(m * k), alloc(k * n)];
      ab.view.set(stored);
      bb.view.set(b);
      const biasBuffer = biasValues ? alloc(n) : undefined;
      biasBuffer?.view.set(biasValues!);
      const strides = transposed ? [4, m * 4] : [k * 4, 4];
      const units = Math.ceil(m / 64) * (n / 8);
      for (const split of [[0, units], [0, 1, units], [0, Math.floor(units / 2), units - 1, units]]) {
        const out = alloc(m * n); // NaN-filled: an element no unit writes stays NaN.
        for (let i = 0; i + 1 < split.length; i++) {
          kernels.matMul(ab.offset, bb.offset, biasBuffer?.offset ?? 0, out.offset, m, k, n, strides[0]!, strides[1]!, split[i]!, split[i + 1]!);
        }
        expect(bits(out.view), `units split at ${split}`).toEqual(bits(expected));
      }
    });

    it.each([
      // [n, h, w, C], kernel, stride, padding (top, left)
      { x: [2, 5, 6, 3], k: [3, 3], stride: [1, 1], pad: [1, 1], out: [5, 6] },
      { x: [1, 7, 7, 4], k: [3, 3], stride: [2, 2], pad: [1, 1], out: [4, 4] },
      { x: [1, 4, 5, 2], k: [2, 3], stride: [1, 2], pad: [0, 1], out: [3, 3] },
      { x: [2, 3, 3, 5], k: [1, 1], stride: [1, 1], pad: [0, 0], out: [3, 3] },
      { x: [1, 2, 2, 2], k: [5, 5], stride: [1, 1], pad: [2, 2], out: [2, 2] }, // taps outside on every side
    ])('im2colRows lays out every output pixel\'s taps as the reference does: %o', ({ x: shape, k, stride, pad, out: outSize }) => {
      const { kernels, alloc } = moduleOn(shared);
      const [n, h, w, c] = shape as [number, number, number, number];
      const [kh, kw] = k as [number, number];
      const [oh, ow] = outSize as [number, number];
      const x = randoms(n * h * w * c, 14);
      const depth = kh * kw * c;
      const expected = new Float32Array(n * oh * ow * depth);
      for (let b = 0; b < n; b++) for (let oy = 0; oy < oh; oy++) for (let ox = 0; ox < ow; ox++) {
        for (let ky = 0; ky < kh; ky++) for (let kx = 0; kx < kw; kx++) for (let ch = 0; ch < c; ch++) {
          const iy = oy * stride[0]! - pad[0]! + ky;
          const ix = ox * stride[1]! - pad[1]! + kx;
          const inside = iy >= 0 && iy < h && ix >= 0 && ix < w;
          expected[((b * oh + oy) * ow + ox) * depth + (ky * kw + kx) * c + ch] = inside ? x[((b * h + iy) * w + ix) * c + ch]! : 0;
        }
      }
      const xb = alloc(x.length);
      xb.view.set(x);
      const out = alloc(expected.length);
      // In two ranges of image rows, as two threads would.
      const rows = n * oh;
      for (const [start, end] of [[0, Math.floor(rows / 2)], [Math.floor(rows / 2), rows]]) {
        kernels.im2colRows(xb.offset, out.offset, h, w, c, oh, ow, kh, kw, stride[0]!, stride[1]!, pad[0]!, pad[1]!, start!, end!);
      }
      expect(bits(out.view)).toEqual(bits(expected));
    });
  });

  it('run on the wasm backend this process started, whichever build it is', async () => {
    await initBackend('wasm');
    expect(wasmKernelsOf(tf.backend())).toBeDefined();
    expect(wasmKernelsOf(tf.engine().registry['cpu'] ?? {})).toBeUndefined();
  });
});
