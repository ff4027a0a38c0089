// FLOPs of the compute kernels (Conv2D, DepthwiseConv2dNative, BatchMatMul) in one colourisation
// or training iteration on wasm, counted per kernel call, with the kernel-call count and the
// achieved GFLOP/s per kernel. docs/performance.md, "Summary".
// Usage: tsx bench/flops.ts <small|256> <colourise|train> [recompute]
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../src/node/backend.js';
import { MODELS, type ModelName } from './models.js';
await initBackend('wasm');
const { buildCITExtractor, buildTag2PixDiscriminator, buildTag2PixGenerator } = await import('../src/index.js');
const { Tag2PixTrainer } = await import('../src/training/index.js');
const model = (process.argv[2] ?? 'small') as ModelName; const task = process.argv[3] ?? 'train';
const spec = MODELS[model]; const s = spec.size; const batch = task === 'train' ? spec.trainBatch : spec.colorizeBatch;
const recompute = process.argv[4] === 'recompute';
const generator = buildTag2PixGenerator({ inputSize: s, decoderLayers: spec.layers, recompute });
const citExtractor = buildCITExtractor({ inputSize: s, batchNormMode: 'batch-stats' });
const lineArt = tf.randomUniform([batch, s, s, 1]) as tf.Tensor4D;
const cvt = tf.cast(tf.less(tf.randomUniform([batch, 115]), 0.05), 'float32') as tf.Tensor2D;
let step: () => Promise<void>;
if (task === 'colourise') step = async () => { const out = tf.tidy(() => generator.apply([lineArt, citExtractor.apply(lineArt, { training: false }) as tf.Tensor, cvt], { training: false }) as tf.Tensor[]); await out[0]!.data(); tf.dispose(out); };
else { const discriminator = buildTag2PixDiscriminator({ inputSize: s, recompute }); const trainer = new Tag2PixTrainer({ generator, discriminator, citExtractor });
  const color = tf.sub(tf.mul(tf.randomUniform([batch, s, s, 3]), 2), 1) as tf.Tensor4D; const cit = tf.cast(tf.less(tf.randomUniform([batch, 370]), 0.05), 'float32') as tf.Tensor2D;
  step = async () => { await trainer.trainStep({ lineArt, color, cit, cvt }); }; }
await step();
const engine = tf.engine() as any; const orig = engine.runKernelFunc;
const by: Record<string, { flops: number; ms: number; calls: number }> = {}; const stack: number[] = []; let calls = 0;
engine.runKernelFunc = function (params: any) {
  stack.push(0); const st = performance.now(); calls++;
  try { return orig.call(this, params); } finally {
    const total = performance.now() - st; const ch = stack.pop()!; if (stack.length) stack[stack.length - 1] += total;
    const name = params.kernelName; const ins = Object.values(params.inputs ?? {}) as tf.Tensor[]; const a = params.attrs ?? {};
    let f = 0;
    if (name === 'Conv2D' || name === 'DepthwiseConv2dNative') {
      const [x, w] = ins; const info = tf.backend_util.computeConv2DInfo(x!.shape as any, w!.shape as any, a.strides, a.dilations ?? 1, a.pad, a.dimRoundingMode, name !== 'Conv2D');
      f = 2 * info.batchSize * info.outHeight * info.outWidth * info.outChannels * info.filterHeight * info.filterWidth * (name === 'Conv2D' ? info.inChannels : 1);
    } else if (name === 'BatchMatMul' || name === '_FusedMatMul') {
      const [A0, B0] = ins; const A = { shape: A0!.rank === 2 ? [1, ...A0!.shape] : A0!.shape }; const B = { shape: B0!.rank === 2 ? [1, ...B0!.shape] : B0!.shape }; const bs = Math.max(A!.shape[0]!, B!.shape[0]!); const M = a.transposeA ? A!.shape[2]! : A!.shape[1]!; const K = a.transposeA ? A!.shape[1]! : A!.shape[2]!; const N = a.transposeB ? B!.shape[1]! : B!.shape[2]!; f = 2 * bs * M * K * N;
    }
    const key = f > 0 ? name : 'other'; const e = (by[key] ??= { flops: 0, ms: 0, calls: 0 }); e.flops += f; e.ms += total - ch; e.calls++;
  }
};
const st = performance.now(); await step(); const wall = performance.now() - st;
engine.runKernelFunc = orig;
const total = Object.values(by).reduce((a, b) => a + b.flops, 0);
console.log(`${model} ${task}${recompute ? ' recompute' : ''}: ${(total / 1e9).toFixed(2)} GFLOP in compute kernels, ${calls} kernel calls, wall ${wall.toFixed(0)} ms`);
for (const [k, v] of Object.entries(by)) console.log(`  ${k}: ${(v.flops / 1e9).toFixed(2)} GFLOP, ${v.calls} calls, ${v.ms.toFixed(0)} ms${v.flops ? `, ${(v.flops / v.ms / 1e6).toFixed(1)} GFLOP/s` : ''}`);
