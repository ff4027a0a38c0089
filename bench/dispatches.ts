// Counts the webgpu backend's GPU dispatches per training iteration and per colourisation
// (bench/models.ts configurations), with and without this library's WebGPU programs. Needs a
// WebGPU adapter but no real GPU: the count is the same on lavapipe.
// Usage: tsx bench/dispatches.ts [--models small,256] [--tasks colourise,train] [--json file]
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../src/node/backend.js';
import { probeWebGPU, type WebGPUProbe } from '../src/kernels/webgpu/dispatch_probe.js';
import { registerFastKernels, unregisterFastKernels } from '../src/kernels/register.js';
import { MODELS, type ModelName } from './models.js';
import { loadNote } from './util.js';

const { values } = parseArgs({
  options: {
    models: { type: 'string', default: 'small' },
    tasks: { type: 'string', default: 'colourise,train' },
    json: { type: 'string' },
    top: { type: 'string', default: '12' },
  },
});
const list = (s: string) => s.split(',').map((x) => x.trim()).filter(Boolean);
const report = await initBackend('webgpu');
console.log(`# webgpu dispatches — adapter: ${report.webgpuAdapter?.description}`);
const { buildCITExtractor, buildTag2PixDiscriminator, buildTag2PixGenerator } = await import('../src/index.js');
const { Tag2PixTrainer } = await import('../src/training/index.js');

interface Row { model: string; task: string; ours: boolean; probe: WebGPUProbe; ms: number }
const rows: Row[] = [];
for (const model of list(values.models!) as ModelName[]) {
  const spec = MODELS[model];
  if (!spec) throw new Error(`--models: unknown '${model}'; use ${Object.keys(MODELS).join(', ')}`);
  for (const task of list(values.tasks!)) {
    if (task !== 'colourise' && task !== 'train') throw new Error('--tasks: colourise or train');
    const s = spec.size;
    const batch = task === 'train' ? spec.trainBatch : spec.colorizeBatch;
    const generator = buildTag2PixGenerator({ inputSize: s, decoderLayers: spec.layers });
    const citExtractor = buildCITExtractor({ inputSize: s, batchNormMode: 'batch-stats' });
    const discriminator = task === 'train' ? buildTag2PixDiscriminator({ inputSize: s }) : undefined;
    const trainer = discriminator ? new Tag2PixTrainer({ generator, discriminator, citExtractor }) : undefined;
    const lineArt = tf.randomUniform([batch, s, s, 1]) as tf.Tensor4D;
    const cvt = tf.cast(tf.less(tf.randomUniform([batch, 115]), 0.05), 'float32') as tf.Tensor2D;
    const color = tf.sub(tf.mul(tf.randomUniform([batch, s, s, 3]), 2), 1) as tf.Tensor4D;
    const cit = tf.cast(tf.less(tf.randomUniform([batch, 370]), 0.05), 'float32') as tf.Tensor2D;
    const step = async () => {
      if (trainer) {
        await trainer.trainStep({ lineArt, color, cit, cvt });
        return;
      }
      const out = tf.tidy(() => {
        const features = citExtractor.apply(lineArt, { training: false }) as tf.Tensor;
        return generator.apply([lineArt, features, cvt], { training: false }) as tf.Tensor[];
      });
      await out[0]!.data();
      tf.dispose(out);
    };
    for (const ours of [false, true]) {
      if (ours) registerFastKernels(['webgpu']);
      else unregisterFastKernels(['webgpu']);
      await step(); // warm-up: pipelines compiled, optimizer slots created
      const probe = await probeWebGPU(step);
      const start = performance.now();
      await step();
      const ms = performance.now() - start;
      rows.push({ model, task, ours, probe, ms });
      process.stderr.write(`${model} ${task} ${ours ? 'with' : 'without'} our programs: ${probe.dispatches} dispatches, ${(ms / 1000).toFixed(2)} s\n`);
    }
    registerFastKernels(['webgpu']);
    tf.dispose([lineArt, cvt, color, cit]);
    generator.dispose();
    citExtractor.dispose();
    discriminator?.dispose();
  }
}
const label = (m: string) => (m === '256' ? '256 px [12,8,5,5]' : '64 px [2,2,2,2]');
console.log(`\n${loadNote()}; one timed run each after the counted one (${report.webgpuAdapter?.software ? 'a software adapter: times are CPU times' : 'GPU times'})\n`);
console.log('| model | work | dispatches, composites only | dispatches, with our WebGPU programs | fewer | time, composites only | time, ours | CPU fallbacks |');
console.log('|---|---|---|---|---|---|---|---|');
for (let i = 0; i < rows.length; i += 2) {
  const [before, after] = [rows[i]!, rows[i + 1]!];
  const ratio = before.probe.dispatches / after.probe.dispatches;
  const s = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
  console.log(`| ${label(before.model)} | ${before.task === 'train' ? 'training iteration' : 'colourisation'} | ${before.probe.dispatches} | ${after.probe.dispatches} | ${ratio.toFixed(2)}× | ${s(before.ms)} | ${s(after.ms)} | ${before.probe.cpuFallbacks.length} / ${after.probe.cpuFallbacks.length} |`);
}
const top = Number(values.top);
for (const r of rows) {
  const byKernel = [...r.probe.dispatchesByKernel].sort((a, b) => b[1] - a[1]).slice(0, top);
  console.log(`\n${label(r.model)} ${r.task}, ${r.ours ? 'with our programs' : 'composites only'}: ${byKernel.map(([k, n]) => `${k} ${n}`).join(', ')}`);
}
if (values.json) {
  writeFileSync(values.json, JSON.stringify(rows.map((r) => ({
    model: r.model, task: r.task, ours: r.ours, dispatches: r.probe.dispatches, ms: r.ms,
    byKernel: Object.fromEntries(r.probe.dispatchesByKernel), cpuFallbacks: r.probe.cpuFallbacks,
  })), null, 2));
}
