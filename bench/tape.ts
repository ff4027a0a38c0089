// What a training iteration keeps in memory, with and without gradient checkpointing.
// Usage: tsx bench/tape.ts --backend wasm --model small|256 [--batch n] [--recompute] [--no-step] [--no-tape]
// Prints one JSON line:
// - baseMB / stepPeakMB: live tensor bytes after a warm-up iteration (weights, Adam state,
//   inputs) and their peak (tf.profile) over one more whole Tag2PixTrainer iteration (CIT
//   features + D step + G step);
// - tapeMB / tapeNodes: the tensors saved on the gradient tape (distinct, float32) after a
//   generator-step forward pass (G in training mode, then D on its output, as the trainer's G
//   step), before the backward pass;
// - peakRssMB: the process's peak RSS.
// Run each configuration in its own process (a failed cell may leave the engine unusable).
import * as tf from '@tensorflow/tfjs-core';
import { parseArgs } from 'node:util';
import { initBackend } from '../src/node/backend.js';
import { MODELS, type ModelName } from './models.js';

const { values } = parseArgs({
  options: {
    backend: { type: 'string', default: 'wasm' },
    model: { type: 'string', default: 'small' },
    batch: { type: 'string' },
    recompute: { type: 'boolean', default: false },
    'no-step': { type: 'boolean', default: false },
    'no-tape': { type: 'boolean', default: false },
  },
});
const spec = MODELS[values.model as ModelName];
if (!spec) throw new Error(`--model must be one of ${Object.keys(MODELS).join(', ')}`);
await initBackend(values.backend);
const { buildCITExtractor, buildTag2PixDiscriminator, buildTag2PixGenerator } = await import('../src/index.js');
const { Tag2PixTrainer } = await import('../src/training/index.js');

const s = spec.size;
const batch = Number(values.batch ?? spec.trainBatch);
const recompute = values.recompute!;
const generator = buildTag2PixGenerator({ inputSize: s, decoderLayers: spec.layers, recompute });
const discriminator = buildTag2PixDiscriminator({ inputSize: s, recompute });
const citExtractor = buildCITExtractor({ inputSize: s, batchNormMode: 'batch-stats' });
const lineArt = tf.randomUniform([batch, s, s, 1]) as tf.Tensor4D;
const color = tf.sub(tf.mul(tf.randomUniform([batch, s, s, 3]), 2), 1) as tf.Tensor4D;
const cvt = tf.cast(tf.less(tf.randomUniform([batch, 115]), 0.05), 'float32') as tf.Tensor2D;
const cit = tf.cast(tf.less(tf.randomUniform([batch, 370]), 0.05), 'float32') as tf.Tensor2D;
const MB = 1024 * 1024;

/** Saved bytes on the active tape, in total and by kernel (a tensor counts once). */
function tapeNow(): { bytes: number; nodes: number; byKernel: Record<string, number> } {
  const seen = new Set<number>();
  const byKernel = new Map<string, number>();
  let bytes = 0;
  const tape = tf.engine().state.activeTape;
  for (const node of tape) {
    for (const t of (node as { saved?: tf.Tensor[] }).saved ?? []) {
      if (seen.has(t.id)) continue;
      seen.add(t.id);
      bytes += t.size * 4;
      const name = node.kernelName || 'customGrad';
      byKernel.set(name, (byKernel.get(name) ?? 0) + t.size * 4);
    }
  }
  const top = [...byKernel].sort((a, b) => b[1] - a[1]).slice(0, 8);
  return { bytes, nodes: tape.length, byKernel: Object.fromEntries(top.map(([k, b]) => [k, Math.round(b / MB)])) };
}

const result: Record<string, unknown> = { backend: values.backend, model: values.model, batch, recompute };

if (!values['no-step']) {
  const trainer = new Tag2PixTrainer({ generator, discriminator, citExtractor });
  const step = () => trainer.trainStep({ lineArt, color, cit, cvt });
  try {
    await step();
    result['baseMB'] = Math.round(tf.memory().numBytes / MB);
    const info = await tf.profile(async () => {
      await step();
    });
    result['stepPeakMB'] = Math.round(info.peakBytes / MB);
  } catch (e) {
    result['stepError'] = String(e).slice(0, 200);
  }
}

// The G step's forward under the tape; the backward pass is skipped by leaving with an exception
// (the tape's tensors are then never freed, so this comes last).
if (!values['no-tape']) {
  const features = tf.tidy(() => citExtractor.apply(lineArt, { training: false }) as tf.Tensor4D);
  class Measured extends Error {}
  try {
    tf.variableGrads(() => {
      const [fake] = generator.apply([lineArt, features, cvt], { training: true }) as tf.Tensor[];
      discriminator.apply(fake!, { training: true });
      const tape = tapeNow();
      result['tapeMB'] = Math.round(tape.bytes / MB);
      result['tapeNodes'] = tape.nodes;
      result['tapeMBByKernel'] = tape.byKernel;
      throw new Measured();
    }, generator.trainableWeights.map((w) => w.read() as tf.Variable));
  } catch (e) {
    if (!(e instanceof Measured)) result['tapeError'] = String(e).slice(0, 200);
  }
}
result['peakRssMB'] = Math.round(process.resourceUsage().maxRSS / 1024);
console.log(JSON.stringify(result));
