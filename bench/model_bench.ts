// One measurement in a fresh process (so peak RSS belongs to it): a backend, a model, a task.
// Usage: tsx bench/model_bench.ts --backend wasm --model small --task train [--batch N] [--runs 5] [--warmup 1] [--recompute]
// Prints one JSON line. bench/run.ts drives it.
import * as tf from '@tensorflow/tfjs-core';
import { parseArgs } from 'node:util';
import { initBackend } from '../src/node/backend.js';
import { MODELS, type ModelName } from './models.js';
import { timeMedian } from './util.js';

const { values } = parseArgs({
  options: {
    backend: { type: 'string', default: 'wasm' },
    model: { type: 'string', default: 'small' },
    task: { type: 'string', default: 'colourise' },
    runs: { type: 'string', default: '5' },
    warmup: { type: 'string', default: '1' },
    threads: { type: 'string', default: '1' },
    // Batch size; default the model's (bench/models.ts).
    batch: { type: 'string' },
    profile: { type: 'boolean', default: false },
    // Build G and D with gradient checkpointing (bottlenecks recomputed in the backward pass).
    recompute: { type: 'boolean', default: false },
  },
});
const spec = MODELS[values.model as ModelName];
if (!spec) throw new Error(`--model must be one of ${Object.keys(MODELS).join(', ')}`);
const task = values.task!;
if (task !== 'colourise' && task !== 'train') throw new Error('--task must be colourise or train');

const report = await initBackend(values.backend, { wasmThreads: Number(values.threads) });
const { buildCITExtractor, buildTag2PixDiscriminator, buildTag2PixGenerator } = await import('../src/index.js');
const { Tag2PixTrainer } = await import('../src/training/index.js');

const s = spec.size;
const batch = values.batch != null ? Number(values.batch) : task === 'train' ? spec.trainBatch : spec.colorizeBatch;
if (!Number.isInteger(batch) || batch < (task === 'train' ? 2 : 1)) {
  throw new Error(`--batch must be an integer >= ${task === 'train' ? 2 : 1} for ${task}, got '${values.batch}'`);
}
const recompute = values.recompute!;
const generator = buildTag2PixGenerator({ inputSize: s, decoderLayers: spec.layers, recompute });
const citExtractor = buildCITExtractor({ inputSize: s, batchNormMode: 'batch-stats' });
const lineArt = tf.randomUniform([batch, s, s, 1]) as tf.Tensor4D;
const cvt = tf.cast(tf.less(tf.randomUniform([batch, 115]), 0.05), 'float32') as tf.Tensor2D;

let step: () => Promise<void>;
if (task === 'colourise') {
  step = async () => {
    const out = tf.tidy(() => {
      const features = citExtractor.apply(lineArt, { training: false }) as tf.Tensor;
      return generator.apply([lineArt, features, cvt], { training: false }) as tf.Tensor[];
    });
    await out[0]!.data();
    tf.dispose(out);
  };
} else {
  const discriminator = buildTag2PixDiscriminator({ inputSize: s, recompute });
  const trainer = new Tag2PixTrainer({ generator, discriminator, citExtractor });
  const color = tf.sub(tf.mul(tf.randomUniform([batch, s, s, 3]), 2), 1) as tf.Tensor4D;
  const cit = tf.cast(tf.less(tf.randomUniform([batch, 370]), 0.05), 'float32') as tf.Tensor2D;
  step = async () => {
    await trainer.trainStep({ lineArt, color, cit, cvt });
  };
}

const warmup = Number(values.warmup);
const runs = Number(values.runs);
const all: number[] = [];
let before = 0;
try {
  for (let i = 0; i < warmup; i++) await step();
  before = tf.memory().numTensors;
  for (let i = 0; i < runs; i++) {
    const start = performance.now();
    await step();
    all.push(performance.now() - start);
  }
} catch (err) {
  // One line for bench/run.ts's table (a cell that does not fit says so), then a failing exit.
  const message = String((err as Error)?.message ?? err).split('\n')[0];
  console.log(JSON.stringify({ backend: values.backend, model: values.model, task, error: message }));
  process.exit(1);
}
const leaked = tf.memory().numTensors - before;

let profile: Array<{ kernel: string; ms: number; calls: number }> | undefined;
if (values.profile) {
  // Exclusive time per kernel over one more step: the engine's kernel runner is wrapped, and a
  // kernel's time excludes the kernels it runs itself (ours are built from other kernels; cpu
  // and wasm kernels are synchronous, so wall time inside the call is compute time).
  const engine = tf.engine() as unknown as { runKernelFunc: (p: { kernelName?: string }) => unknown };
  const original = engine.runKernelFunc;
  const byKernel = new Map<string, { ms: number; calls: number }>();
  const childTime: number[] = [];
  engine.runKernelFunc = function (this: unknown, params: { kernelName?: string }) {
    childTime.push(0);
    const start = performance.now();
    try {
      return original.call(this, params);
    } finally {
      const total = performance.now() - start;
      const children = childTime.pop()!;
      if (childTime.length > 0) childTime[childTime.length - 1]! += total;
      const name = params.kernelName ?? 'custom op';
      const entry = byKernel.get(name) ?? { ms: 0, calls: 0 };
      entry.ms += total - children;
      entry.calls += 1;
      byKernel.set(name, entry);
    }
  };
  await step();
  engine.runKernelFunc = original;
  profile = [...byKernel].map(([kernel, v]) => ({ kernel, ...v })).sort((a, b) => b.ms - a.ms);
}
const sorted = [...all].sort((a, b) => a - b);
console.log(JSON.stringify({
  backend: values.backend,
  threads: report.wasmThreads ?? 1,
  adapter: report.webgpuAdapter?.description,
  threadsNote: report.wasmThreadsNote,
  model: values.model,
  task,
  recompute,
  batch,
  medianMs: sorted[Math.floor(sorted.length / 2)],
  runsMs: all,
  peakRssMB: process.resourceUsage().maxRSS / 1024,
  leakedTensors: leaked,
  profile,
}));
