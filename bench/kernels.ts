// Per-kernel timings: our convolution-gradient kernels against each backend's stock kernel, and
// the matMul lead (plain vs transposed operand). Usage: tsx bench/kernels.ts [wasm|cpu ...]
import * as tf from '@tensorflow/tfjs-core';
import { FAST_KERNEL_FUNCS } from '../src/kernels/kernels.js';
import { registerFastKernels, unregisterFastKernels } from '../src/kernels/register.js';
import { initBackend } from '../src/node/backend.js';
import { fmtMs, loadNote, syncRun, timeMedian } from './util.js';

interface Shape { n: number; h: number; c: number; out: number; stride: number }

function convCase(s: Shape) {
  const x = tf.randomNormal([s.n, s.h, s.h, s.c]) as tf.Tensor4D;
  const k = tf.randomNormal([3, 3, s.c, s.out]) as tf.Tensor4D;
  const pad: [[number, number], [number, number], [number, number], [number, number]] = [[0, 0], [1, 1], [1, 1], [0, 0]];
  const dy = tf.keep(tf.conv2d(x, k, s.stride, pad));
  const attrs = { strides: s.stride, pad, dataFormat: 'NHWC', dimRoundingMode: undefined };
  return {
    forward: () => syncRun(() => tf.conv2d(x, k, s.stride, pad)),
    input: () => syncRun(() => tf.engine().runKernel('Conv2DBackpropInput', { dy, filter: k }, { ...attrs, inputShape: x.shape } as never) as tf.Tensor),
    filter: () => syncRun(() => tf.engine().runKernel('Conv2DBackpropFilter', { x, dy }, { ...attrs, filterShape: k.shape } as never) as tf.Tensor),
    dispose: () => tf.dispose([x, k, dy]),
  };
}

const backends = process.argv.slice(2).length ? process.argv.slice(2) : ['wasm', 'cpu'];
console.log(`# kernel timings (${loadNote()})`);
for (const backend of backends) {
  await initBackend(backend);
  const shapes: Shape[] = backend === 'cpu'
    ? [{ n: 1, h: 32, c: 64, out: 64, stride: 1 }, { n: 1, h: 32, c: 32, out: 64, stride: 2 }]
    : [{ n: 1, h: 64, c: 128, out: 128, stride: 1 }, { n: 1, h: 128, c: 64, out: 128, stride: 2 }, { n: 4, h: 32, c: 32, out: 32, stride: 1 }];
  console.log(`\n## ${backend}\n| conv 3×3 (N, H, Cin→Cout, stride) | forward | backprop input stock | ours | backprop filter stock | ours |\n|---|---|---|---|---|---|`);
  for (const s of shapes) {
    const c = convCase(s);
    const runs = backend === 'cpu' ? 3 : 5;
    const fwd = timeMedian(c.forward, runs).median;
    unregisterFastKernels([backend]);
    const stockInput = timeMedian(c.input, runs).median;
    const hasStockFilter = tf.getKernel('Conv2DBackpropFilter', backend) != null;
    const stockFilter = hasStockFilter ? timeMedian(c.filter, runs, 0).median : NaN;
    registerFastKernels([backend]);
    const input = timeMedian(c.input, runs).median;
    const filter = timeMedian(c.filter, runs).median;
    console.log(`| ${s.n}, ${s.h}, ${s.c}→${s.out}, s${s.stride} | ${fmtMs(fwd)} | ${fmtMs(stockInput)} | ${fmtMs(input)} | ${hasStockFilter ? fmtMs(stockFilter) : 'missing'} | ${fmtMs(filter)} |`);
    c.dispose();
  }
  console.log(`\n| depthwise 3×3 (N, H, C × multiplier, stride) | forward | backprop input stock | ours | backprop filter stock | ours |\n|---|---|---|---|---|---|`);
  const dwShapes = backend === 'cpu'
    ? [{ n: 2, h: 16, c: 64, m: 4, stride: 1 }]
    : [{ n: 4, h: 32, c: 64, m: 4, stride: 1 }, { n: 4, h: 16, c: 128, m: 8, stride: 1 }, { n: 1, h: 64, c: 128, m: 1, stride: 2 }];
  for (const d of dwShapes) {
    const x = tf.randomNormal([d.n, d.h, d.h, d.c]) as tf.Tensor4D;
    const f = tf.randomNormal([3, 3, d.c, d.m]) as tf.Tensor4D;
    const pad: [[number, number], [number, number], [number, number], [number, number]] = [[0, 0], [1, 1], [1, 1], [0, 0]];
    const dy = tf.depthwiseConv2d(x, f, d.stride, pad);
    const attrs = { strides: d.stride, pad, dilations: 1, dimRoundingMode: undefined };
    const fwd = () => syncRun(() => tf.depthwiseConv2d(x, f, d.stride, pad));
    const input = () => syncRun(() => tf.engine().runKernel('DepthwiseConv2dNativeBackpropInput', { dy, filter: f }, { ...attrs, inputShape: x.shape } as never) as tf.Tensor);
    const filter = () => syncRun(() => tf.engine().runKernel('DepthwiseConv2dNativeBackpropFilter', { x, dy }, { ...attrs, filterShape: f.shape } as never) as tf.Tensor);
    const runs = backend === 'cpu' ? 3 : 5;
    const tFwd = timeMedian(fwd, runs).median;
    unregisterFastKernels([backend]);
    const stockInput = tf.getKernel('DepthwiseConv2dNativeBackpropInput', backend) ? fmtMs(timeMedian(input, runs).median) : 'missing';
    const stockFilter = tf.getKernel('DepthwiseConv2dNativeBackpropFilter', backend) ? fmtMs(timeMedian(filter, runs).median) : 'missing';
    registerFastKernels([backend]);
    const ours = (name: 'DepthwiseConv2dNativeBackpropInput' | 'DepthwiseConv2dNativeBackpropFilter', g: () => void) => {
      const registered = tf.getKernel(name, backend)!;
      tf.unregisterKernel(name, backend);
      tf.registerKernel({ kernelName: name, backendName: backend, kernelFunc: FAST_KERNEL_FUNCS[name] });
      try {
        return fmtMs(timeMedian(g, runs).median);
      } finally {
        tf.unregisterKernel(name, backend);
        tf.registerKernel(registered);
      }
    };
    console.log(`| ${d.n}, ${d.h}, ${d.c}×${d.m}, s${d.stride} | ${fmtMs(tFwd)} | ${stockInput} | ${ours('DepthwiseConv2dNativeBackpropInput', input)} | ${stockFilter} | ${ours('DepthwiseConv2dNativeBackpropFilter', filter)} |`);
    tf.dispose([x, f, dy]);
  }

  const size = backend === 'cpu' ? 512 : 1024;
  const a = tf.randomNormal([size, size]);
  const b = tf.randomNormal([size, size]);
  const plain = timeMedian(() => syncRun(() => tf.matMul(a, b)), 3).median;
  const transB = timeMedian(() => syncRun(() => tf.matMul(a, b, false, true)), 3).median;
  const transA = timeMedian(() => syncRun(() => tf.matMul(a, b, true, false)), 3).median;
  const gflop = (ms: number) => ((2 * size ** 3) / ms / 1e6).toFixed(1);
  console.log(`\nmatMul ${size}³: plain ${fmtMs(plain)} (${gflop(plain)} GFLOP/s), transposeB ${fmtMs(transB)} (${gflop(transB)}), transposeA ${fmtMs(transA)} (${gflop(transA)})`);
  tf.dispose([a, b]);
}
