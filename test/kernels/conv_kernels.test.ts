import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  isFastKernel,
  registerFastKernels,
  unregisterFastKernels,
} from '../../src/kernels/register.js';
import { FAST_KERNEL_FUNCS, type FastKernelName } from '../../src/kernels/kernels.js';
import { initBackend } from '../../src/node/backend.js';
import { randomTensor } from '../helpers/gradcheck.js';

// Every new kernel runs on wasm and on cpu and must match the cpu backend's stock kernel.
type Explicit = [[number, number], [number, number], [number, number], [number, number]];
interface ConvCase {
  n: number; h: number; w: number; c: number; out: number; k: number;
  stride: number; pad: 'valid' | 'same' | number | Explicit;
}
const explicit = (p: number): Explicit => [[0, 0], [p, p], [p, p], [0, 0]];
const CONV_CASES: ConvCase[] = [
  { n: 2, h: 7, w: 8, c: 5, out: 6, k: 3, stride: 1, pad: explicit(1) },
  { n: 2, h: 7, w: 9, c: 4, out: 6, k: 3, stride: 2, pad: explicit(1) },
  { n: 3, h: 8, w: 8, c: 3, out: 4, k: 3, stride: 2, pad: explicit(0) },
  { n: 1, h: 9, w: 7, c: 6, out: 3, k: 3, stride: 2, pad: 'valid' },
  { n: 2, h: 6, w: 6, c: 4, out: 8, k: 1, stride: 1, pad: 'valid' },
  { n: 2, h: 11, w: 10, c: 2, out: 4, k: 7, stride: 2, pad: explicit(3) }, // CIT stem
  { n: 2, h: 5, w: 5, c: 3, out: 2, k: 3, stride: 1, pad: 'same' },
  { n: 2, h: 9, w: 8, c: 3, out: 2, k: 3, stride: 2, pad: 'same' },
  { n: 1, h: 6, w: 7, c: 2, out: 3, k: 3, stride: 1, pad: [[0, 0], [2, 0], [0, 1], [0, 0]] },
  { n: 2, h: 9, w: 8, c: 3, out: 4, k: 3, stride: 2, pad: [[0, 0], [2, 0], [0, 1], [0, 0]] },
  { n: 2, h: 7, w: 6, c: 4, out: 5, k: 1, stride: 2, pad: 'valid' }, // projection shortcut
  { n: 2, h: 10, w: 11, c: 2, out: 3, k: 4, stride: 3, pad: explicit(1) },
  { n: 1, h: 5, w: 5, c: 2, out: 2, k: 2, stride: 3, pad: 'valid' }, // taps < stride: empty phases
];

const BACKENDS = ['wasm', 'cpu'];
let initial = '';

function outSize(size: number, k: number, stride: number, pad: ConvCase['pad'], axis: number): number {
  if (pad === 'same') return Math.ceil(size / stride);
  const [before, after] = pad === 'valid' ? [0, 0] : typeof pad === 'number' ? [pad, pad] : pad[axis]!;
  return Math.floor((size + before + after - k) / stride) + 1;
}

function run(backend: string, f: () => tf.Tensor): Float32Array {
  const previous = tf.getBackend();
  tf.setBackend(backend);
  try {
    return tf.tidy(() => f().dataSync() as Float32Array);
  } finally {
    tf.setBackend(previous);
  }
}

/** Runs `f` on `backend` with our `kernel` in place, also where the backend keeps its own. */
function runOurs(backend: string, kernel: FastKernelName, f: () => tf.Tensor): Float32Array {
  const registered = tf.getKernel(kernel, backend);
  const ours = registered?.kernelFunc === FAST_KERNEL_FUNCS[kernel];
  if (!ours) {
    if (registered) tf.unregisterKernel(kernel, backend);
    tf.registerKernel({ kernelName: kernel, backendName: backend, kernelFunc: FAST_KERNEL_FUNCS[kernel] });
  }
  try {
    return run(backend, f);
  } finally {
    if (!ours) {
      tf.unregisterKernel(kernel, backend);
      if (registered) tf.registerKernel(registered);
    }
  }
}

/** Runs `f` on cpu with the cpu backend's own kernels (ours removed for the call). */
function stockCpu(f: () => tf.Tensor): Float32Array {
  unregisterFastKernels(['cpu']);
  try {
    return run('cpu', f);
  } finally {
    registerFastKernels(['cpu']);
  }
}

function expectClose(actual: Float32Array, expected: Float32Array, label: string): void {
  expect(actual.length, label).toBe(expected.length);
  let scale = 0;
  let err = 0;
  for (let i = 0; i < expected.length; i++) {
    scale = Math.max(scale, Math.abs(expected[i]!));
    err = Math.max(err, Math.abs(actual[i]! - expected[i]!));
  }
  expect(scale, `${label}: reference is all zeros`).toBeGreaterThan(0);
  expect(err / scale, `${label}: max abs error ${err} (scale ${scale})`).toBeLessThan(2e-6);
}

beforeAll(async () => {
  initial = tf.getBackend();
  await initBackend('wasm');
  await initBackend('cpu');
  tf.setBackend(initial);
});
afterAll(() => {
  tf.setBackend(initial);
});

describe('registration', () => {
  it('puts our kernels on wasm (which lacks them) and on cpu only where they are faster', () => {
    for (const k of ['Conv2DBackpropFilter', 'Conv2DBackpropInput', 'DepthwiseConv2dNativeBackpropInput', 'DepthwiseConv2dNativeBackpropFilter'] as const) {
      expect(isFastKernel(k, 'wasm'), `wasm ${k}`).toBe(true);
    }
    expect(isFastKernel('Conv2DBackpropFilter', 'cpu')).toBe(true);
    expect(isFastKernel('DepthwiseConv2dNativeBackpropFilter', 'cpu')).toBe(true);
    // cpu's own input gradient is faster than ours there, so it stays.
    expect(isFastKernel('Conv2DBackpropInput', 'cpu')).toBe(false);
  });

  it('is idempotent and restores the stock kernels on request', () => {
    expect(registerFastKernels()).toEqual([]);
    const ownKernel = tf.getKernel('Conv2DBackpropFilter', 'cpu');
    unregisterFastKernels(['cpu']);
    expect(isFastKernel('Conv2DBackpropFilter', 'cpu')).toBe(false);
    expect(tf.getKernel('Conv2DBackpropFilter', 'cpu')).not.toBe(ownKernel);
    expect(tf.getKernel('Conv2DBackpropFilter', 'cpu')).toBeDefined();
    expect(registerFastKernels(['cpu']).length).toBeGreaterThan(0);
    expect(isFastKernel('Conv2DBackpropFilter', 'cpu')).toBe(true);
  });

  it('leaves backends that already have a kernel and are not on its list alone', () => {
    const stock: tf.KernelConfig = {
      kernelName: 'Conv2DBackpropFilter', backendName: 'tag2pix-test-backend', kernelFunc: () => {
        throw new Error('not called');
      },
    };
    tf.registerKernel(stock);
    try {
      registerFastKernels(['tag2pix-test-backend']);
      expect(tf.getKernel('Conv2DBackpropFilter', 'tag2pix-test-backend')).toBe(stock);
    } finally {
      tf.unregisterKernel('Conv2DBackpropFilter', 'tag2pix-test-backend');
    }
  });
});

describe.each(CONV_CASES)('conv2d gradients %o', (cs) => {
  const xShape = [cs.n, cs.h, cs.w, cs.c];
  const fShape: [number, number, number, number] = [cs.k, cs.k, cs.c, cs.out];
  const dyShape = [cs.n, outSize(cs.h, cs.k, cs.stride, cs.pad, 1), outSize(cs.w, cs.k, cs.stride, cs.pad, 2), cs.out];
  const attrs = { strides: cs.stride, pad: cs.pad, dataFormat: 'NHWC', dimRoundingMode: undefined };
  const filterGrad = () =>
    tf.engine().runKernel('Conv2DBackpropFilter', { x: randomTensor(xShape, 1), dy: randomTensor(dyShape, 2) },
      { ...attrs, filterShape: fShape } as never) as tf.Tensor;
  const inputGrad = () =>
    tf.engine().runKernel('Conv2DBackpropInput', { dy: randomTensor(dyShape, 2), filter: randomTensor(fShape, 3) },
      { ...attrs, inputShape: xShape } as never) as tf.Tensor;
  const stockFilter = stockCpu(filterGrad);
  const stockInput = stockCpu(inputGrad);
  for (const backend of BACKENDS) {
    it(`Conv2DBackpropFilter on ${backend}`, () =>
      expectClose(runOurs(backend, 'Conv2DBackpropFilter', filterGrad), stockFilter, backend));
    it(`Conv2DBackpropInput on ${backend}`, () =>
      expectClose(runOurs(backend, 'Conv2DBackpropInput', inputGrad), stockInput, backend));
  }
});

describe('conv2d gradients in NCHW', () => {
  it('match the NHWC result transposed (cpu and wasm)', () => {
    const x = () => randomTensor([2, 7, 6, 3], 4);
    const dy = () => randomTensor([2, 4, 3, 5], 5);
    const attrs = { strides: 2, pad: 1, dimRoundingMode: undefined };
    const nhwc = stockCpu(() => tf.engine().runKernel('Conv2DBackpropFilter', { x: x(), dy: dy() },
      { ...attrs, dataFormat: 'NHWC', filterShape: [3, 3, 3, 5] } as never) as tf.Tensor);
    for (const backend of BACKENDS) {
      const nchw = runOurs(backend, 'Conv2DBackpropFilter', () => tf.engine().runKernel('Conv2DBackpropFilter',
        { x: tf.transpose(x(), [0, 3, 1, 2]), dy: tf.transpose(dy(), [0, 3, 1, 2]) },
        { ...attrs, dataFormat: 'NCHW', filterShape: [3, 3, 3, 5] } as never) as tf.Tensor);
      expectClose(nchw, nhwc, `${backend} filter`);
      const f = () => randomTensor([3, 3, 3, 5], 6);
      const dxNhwc = stockCpu(() => tf.engine().runKernel('Conv2DBackpropInput', { dy: dy(), filter: f() },
        { ...attrs, dataFormat: 'NHWC', inputShape: [2, 7, 6, 3] } as never) as tf.Tensor);
      const dxNchw = runOurs(backend, 'Conv2DBackpropInput', () => tf.transpose(tf.engine().runKernel('Conv2DBackpropInput',
        { dy: tf.transpose(dy(), [0, 3, 1, 2]), filter: f() },
        { ...attrs, dataFormat: 'NCHW', inputShape: [2, 3, 7, 6] } as never) as tf.Tensor, [0, 2, 3, 1]));
      expectClose(dxNchw, dxNhwc, `${backend} input`);
    }
  });
});

interface DepthwiseCase { n: number; h: number; w: number; c: number; m: number; k: number; stride: number; pad: ConvCase['pad'] }
const DEPTHWISE_CASES: DepthwiseCase[] = [
  { n: 2, h: 7, w: 8, c: 4, m: 1, k: 3, stride: 1, pad: explicit(1) },
  { n: 2, h: 9, w: 7, c: 3, m: 2, k: 3, stride: 2, pad: explicit(1) },
  { n: 3, h: 8, w: 8, c: 5, m: 3, k: 3, stride: 2, pad: 'valid' },
  { n: 1, h: 6, w: 5, c: 2, m: 1, k: 5, stride: 1, pad: 'same' },
];

describe.each(DEPTHWISE_CASES)('depthwise gradients %o', (cs) => {
  const xShape = [cs.n, cs.h, cs.w, cs.c];
  const fShape: [number, number, number, number] = [cs.k, cs.k, cs.c, cs.m];
  const dyShape = [cs.n, outSize(cs.h, cs.k, cs.stride, cs.pad, 1), outSize(cs.w, cs.k, cs.stride, cs.pad, 2), cs.c * cs.m];
  const attrs = { strides: cs.stride, pad: cs.pad, dilations: 1, dimRoundingMode: undefined };
  const filterGrad = () =>
    tf.engine().runKernel('DepthwiseConv2dNativeBackpropFilter', { x: randomTensor(xShape, 7), dy: randomTensor(dyShape, 8) },
      { ...attrs, filterShape: fShape } as never) as tf.Tensor;
  const inputGrad = () =>
    tf.engine().runKernel('DepthwiseConv2dNativeBackpropInput', { dy: randomTensor(dyShape, 8), filter: randomTensor(fShape, 9) },
      { ...attrs, inputShape: xShape } as never) as tf.Tensor;
  const stockFilter = stockCpu(filterGrad);
  const stockInput = stockCpu(inputGrad);
  for (const backend of BACKENDS) {
    it(`DepthwiseConv2dNativeBackpropFilter on ${backend}`, () =>
      expectClose(runOurs(backend, 'DepthwiseConv2dNativeBackpropFilter', filterGrad), stockFilter, backend));
    it(`DepthwiseConv2dNativeBackpropInput on ${backend}`, () =>
      expectClose(runOurs(backend, 'DepthwiseConv2dNativeBackpropInput', inputGrad), stockInput, backend));
  }
});

describe('memory', () => {
  it('kernels neither leak tensors nor free their inputs (wasm and cpu)', () => {
    for (const backend of BACKENDS) {
      const previous = tf.getBackend();
      tf.setBackend(backend);
      try {
        const x = randomTensor([2, 6, 6, 3], 10);
        const k = randomTensor([3, 3, 3, 4], 11);
        const dk = randomTensor([3, 3, 3, 2], 12);
        const before = tf.memory().numTensors;
        for (let i = 0; i < 3; i++) {
          tf.tidy(() => {
            const g = tf.grads((a: tf.Tensor, b: tf.Tensor, c: tf.Tensor) =>
              tf.add(
                tf.sum(tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, 2, 1)),
                tf.sum(tf.depthwiseConv2d(a as tf.Tensor4D, c as tf.Tensor4D, 1, 'same')),
              ));
            const [gx, gk, gd] = g([x, k, dk]);
            // The wrapped inputs must still be readable after the kernels ran.
            expect(x.dataSync().length).toBe(2 * 6 * 6 * 3);
            expect(gx!.shape).toEqual(x.shape);
            expect(gk!.shape).toEqual(k.shape);
            expect(gd!.shape).toEqual(dk.shape);
          });
        }
        expect(tf.memory().numTensors, backend).toBe(before);
        tf.dispose([x, k, dk]);
      } finally {
        tf.setBackend(previous);
      }
    }
  });
});
