// Lists the kernels a forward + backward pass of every op our layers use reaches on a backend
// but that the backend has not registered: stock TensorFlow.js by default, with this library's
// kernels given --with-kernels. Usage: tsx bench/missing_kernels.ts [wasm|cpu] [--with-kernels]
import * as tf from '@tensorflow/tfjs-core';
import { unregisterFastKernels } from '../src/kernels/register.js';
import { initBackend } from '../src/node/backend.js';

const backend = process.argv[2] ?? 'wasm';
const useOurs = process.argv.includes('--with-kernels');
await initBackend(backend);
if (!useOurs) unregisterFastKernels([backend]);

const missing = new Map<string, string[]>();
function probe(name: string, f: () => void): void {
  for (;;) {
    try {
      tf.tidy(f);
      return;
    } catch (err) {
      const m = /Kernel '(\w+)' not registered|Cannot find registered kernel '(\w+)'/.exec(
        (err as Error).message,
      );
      if (!m) {
        console.log(`${name}: other error: ${(err as Error).message.split('\n')[0]}`);
        return;
      }
      const kernel = (m[1] ?? m[2])!;
      missing.set(kernel, [...(missing.get(kernel) ?? []), name]);
      // Stand in with zeros of the output shape so the probe reaches the kernels after it.
      if (tf.getKernel(kernel, tf.getBackend()) != null) return;
      tf.registerKernel({
        kernelName: kernel,
        backendName: tf.getBackend(),
        kernelFunc: ({ attrs, backend: b }) => {
          const shape = ((attrs as Record<string, unknown>)['inputShape'] ??
            (attrs as Record<string, unknown>)['filterShape']) as number[];
          const size = shape.reduce((p, q) => p * q, 1);
          const id = (b as unknown as { write: (v: Float32Array, s: number[], d: string) => object }).write(
            new Float32Array(size), shape, 'float32');
          return { dataId: id, shape, dtype: 'float32' } as tf.TensorInfo;
        },
      });
    }
  }
}

const r = (shape: number[]) => tf.randomNormal(shape);
function grads(name: string, f: (...xs: tf.Tensor[]) => tf.Tensor, inputs: tf.Tensor[]): void {
  probe(name, () => {
    const g = tf.grads((...xs: tf.Tensor[]) => tf.sum(f(...xs)));
    g(inputs);
  });
}
const x = r([2, 9, 9, 8]);
grads('conv2d s1 p1', (a, k) => tf.conv2d(a as tf.Tensor4D, k as tf.Tensor4D, 1, [[0, 0], [1, 1], [1, 1], [0, 0]]), [x, r([3, 3, 8, 4])]);
grads('conv2d s2 p1', (a, k) => tf.conv2d(a as tf.Tensor4D, k as tf.Tensor4D, 2, [[0, 0], [1, 1], [1, 1], [0, 0]]), [x, r([3, 3, 8, 4])]);
grads('conv2d s2 valid', (a, k) => tf.conv2d(a as tf.Tensor4D, k as tf.Tensor4D, 2, 'valid'), [x, r([3, 3, 8, 4])]);
grads('grouped conv (split/concat)', (a, k) => {
  const xs = tf.split(a, 2, 3);
  const ks = tf.split(k, 2, 3);
  return tf.concat(xs.map((xi, i) => tf.conv2d(xi as tf.Tensor4D, ks[i] as tf.Tensor4D, 1, 'same')), 3);
}, [x, r([3, 3, 4, 8])]);
grads('depthwise s1', (a, k) => tf.depthwiseConv2d(a as tf.Tensor4D, k as tf.Tensor4D, 1, [[0, 0], [1, 1], [1, 1], [0, 0]]), [x, r([3, 3, 8, 2])]);
grads('depthwise s2', (a, k) => tf.depthwiseConv2d(a as tf.Tensor4D, k as tf.Tensor4D, 2, 'valid'), [x, r([3, 3, 8, 1])]);
grads('conv2dTranspose s2', (a, k) => tf.conv2dTranspose(a as tf.Tensor4D, k as tf.Tensor4D, [2, 18, 18, 4], 2, [[0, 0], [1, 0], [1, 0], [0, 0]] as never), [x, r([3, 3, 4, 8])]);
grads('batchnorm arithmetic', (a) => {
  const mean = tf.mean(a, [0, 1, 2]);
  const c = tf.sub(a, mean);
  const v = tf.mean(tf.square(c), [0, 1, 2]);
  return tf.mul(c, tf.rsqrt(tf.add(v, 1e-5)));
}, [x]);
grads('matMul', (a, b) => tf.matMul(a as tf.Tensor2D, b as tf.Tensor2D), [r([4, 6]), r([6, 5])]);
grads('matMul transposeB', (a, b) => tf.matMul(a as tf.Tensor2D, b as tf.Tensor2D, false, true), [r([4, 6]), r([5, 6])]);
for (const [n, f] of [['sigmoid', tf.sigmoid], ['relu', tf.relu], ['tanh', tf.tanh], ['abs', tf.abs], ['log', (t: tf.Tensor) => tf.log(tf.add(tf.abs(t), 1))], ['sqrt', (t: tf.Tensor) => tf.sqrt(tf.add(tf.abs(t), 1))], ['exp', tf.exp], ['neg', tf.neg], ['clip', (t: tf.Tensor) => tf.clipByValue(t, -0.5, 0.5)]] as const) {
  grads(n, f as (t: tf.Tensor) => tf.Tensor, [x]);
}
grads('leakyRelu', (a) => tf.leakyRelu(a, 0.2), [x]);
grads('concat', (a, b) => tf.concat([a, b], 3), [x, r([2, 9, 9, 3])]);
grads('split', (a) => tf.split(a, [3, 5], 3)[1]!, [x]);
grads('slice', (a) => tf.slice(a, [0, 1, 1, 0], [2, 5, 5, 8]), [x]);
grads('stridedSlice', (a) => tf.stridedSlice(a, [0, 0, 0, 0], [2, 9, 9, 8], [1, 2, 2, 1]), [x]);
grads('reshape+transpose', (a) => tf.transpose(tf.reshape(a, [2, 9, 9, 2, 2, 2]), [0, 1, 4, 2, 5, 3]), [x]);
grads('pad', (a) => tf.pad(a, [[0, 0], [1, 2], [1, 2], [0, 0]]), [x]);
grads('mean/sum', (a) => tf.add(tf.mean(a, [1, 2]), tf.sum(a, [1, 2])), [x]);
grads('maxPool', (a) => tf.maxPool(a as tf.Tensor4D, 3, 2, 'same'), [x]);
grads('maxPool explicit pad', (a) => tf.maxPool(tf.pad(a, [[0, 0], [1, 1], [1, 1], [0, 0]], -1e9) as tf.Tensor4D, 3, 2, 'valid'), [x]);
grads('mul/add/sub/div broadcast', (a, b) => tf.div(tf.sub(tf.mul(a, b), b), tf.add(tf.abs(b), 1)), [x, r([8])]);
grads('sigmoid BCE-like', (a) => tf.mul(tf.log(tf.clipByValue(tf.sigmoid(a), 1e-7, 1)), -1), [x]);
grads('maximum/minimum', (a, b) => tf.add(tf.maximum(a, b), tf.minimum(a, b)), [x, r([2, 9, 9, 8])]);
grads('square/pow', (a) => tf.pow(tf.abs(a), 1.5), [x]);
grads('expandDims/tile', (a) => tf.tile(tf.expandDims(a, 0), [2, 1, 1, 1, 1]), [x]);
grads('avgPool', (a) => tf.avgPool(a as tf.Tensor4D, 2, 2, 'valid'), [x]);
grads('resizeBilinear', (a) => tf.image.resizeBilinear(a as tf.Tensor4D, [5, 5]), [x]);

if (missing.size === 0) console.log(`${backend}: no missing kernel`);
for (const [k, users] of missing) console.log(`${backend}: missing ${k} (reached by: ${users.join(', ')})`);
