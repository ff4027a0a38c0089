// Scratch harness for the demo's training recipe (issue 15): trains the demo's generator on new
// synthetic characters every step, with the demo's held-out characters and never-seen tag
// pairs, and probes tag accuracy as it goes, so recipes can be compared by steps.
// Usage: npx tsx bench/demo_recipe.ts [--size 64] [--steps 1200] [--batch 16] [--lr 2e-3]
//   [--decay-from 0.5] [--extractor stats|seg|none] [--ext-steps 300] [--probe 200] [--seed 1]
//   [--adv-steps 0] [--test 128] [--json out.json] [--tag name] [--se-reduction 16] [--close-up 0]
//   [--zoom-min 1.6] [--zoom-max 2.2] [--placement centre|anywhere] [--save folder]
//   [--region-weights eyes=10,bow=4]
import { promises as fs } from 'node:fs';
import * as tf from '@tensorflow/tfjs-core';
import type { LayersModel } from '@tensorflow/tfjs-layers';
import { generateCharacter, renderSample, synthBatch, type SynthSample } from '../src/data/synth/dataset.js';
import type { CharacterSpec } from '../src/data/synth/character.js';
import { faceCloseUp } from '../src/data/synth/close_up.js';
import { tagAccuracy, type TagAccuracyReport } from '../src/eval/tag_accuracy.js';
import { colorConfusion as confusion } from './util.js';
import { ChangingLossScheduler } from '../src/losses/changing_loss_scheduler.js';
import { buildTag2PixDiscriminator } from '../src/models/discriminator.js';
import { buildTag2PixGenerator, type DecoderBlockKind } from '../src/models/generator.js';
import { initializeLikeReference } from '../src/models/init.js';
import { countParameters } from '../src/models/parameters.js';
import { buildSynthCitExtractor } from '../src/models/synth_cit_extractor.js';
import { initBackend } from '../src/node/backend.js';
import { DEMO_PALETTE, heldOutPairs, lineArtFeatures } from '../src/demo/index.js';
import { pretrainSynthCitExtractor } from '../src/demo/extractor_pretrain.js';
import { freshSynthBatches } from '../src/demo/sources.js';
import { regionPixelWeights, type RegionWeights } from '../src/data/synth/pixel_weights.js';
import { Tag2PixTrainer } from '../src/training/trainer.js';

const args = process.argv.slice(2);
const text = (name: string, fallback: string): string => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1]! : fallback;
};
const num = (name: string, fallback: number): number => Number(text(name, String(fallback)));
const size = num('size', 64);
const steps = num('steps', 1200);
const batchSize = num('batch', 16);
const lr = num('lr', 2e-3);
const decayFrom = num('decay-from', 0.5);
const extractorKind = text('extractor', 'stats') as 'stats' | 'seg' | 'none';
const extSteps = num('ext-steps', 300);
const extLr = num('ext-lr', 2e-3);
const extFeatures = num('ext-features', 32);
const probeEvery = num('probe', 200);
const seed = num('seed', 1);
const advSteps = num('adv-steps', 0);
const testCount = num('test', 128);
const width = num('width', 0.25);
const decoderBlock = text('block', 'secat') as DecoderBlockKind;
const seReduction = num('se-reduction', 16);
const tag = text('tag', `${extractorKind}-${size}`);
const jsonOut = text('json', '');
// Share of each training batch drawn as a face close-up (zoom uniform in [zoom-min, zoom-max]).
const closeUpFraction = num('close-up', 0);
const zoomMin = num('zoom-min', 1.6);
const zoomMax = num('zoom-max', 2.2);
// Where close-ups put the eyes (or the bow): centre or anywhere (see freshSynthSource).
const placement = text('placement', 'centre') as 'centre' | 'anywhere';
// Weights of regions in the reconstruction loss (none: the published uniform L1).
const regionWeights: RegionWeights = Object.fromEntries(
  text('region-weights', '').split(',').filter(Boolean).map((kv) => { const [k, v] = kv.split('='); return [k!, Number(v)]; }),
);
const weighted = Object.keys(regionWeights).length > 0;

const backend = await initBackend();
const palette = DEMO_PALETTE;
const pairs = heldOutPairs();
const isHeldOut = (s: CharacterSpec): boolean => {
  const tags = new Set(Object.values(s.colors));
  return pairs.some(([a, b]) => tags.has(a) && tags.has(b));
};
const synth = { size, colorChoices: palette };
const test = Array.from({ length: testCount }, (_, i) => generateCharacter(i, { ...synth, seed: seed + 1000, reject: isHeldOut }));
const unseen = Array.from({ length: testCount }, (_, i) => generateCharacter(i, { ...synth, seed: seed + 2000, reject: (s) => !isHeldOut(s) }));
const closeUps = Math.round(closeUpFraction * batchSize);
// The demo's own batches (src/demo/sources.ts), so a recipe found here is the one the demo runs.
const samplesAt = (dataSeed: number, step: number): SynthSample[] =>
  freshSynthBatches({ batchSize, seed: dataSeed, size, colorChoices: palette, reject: isHeldOut, closeUpShare: closeUpFraction, closeUpZoom: [zoomMin, zoomMax], closeUpPlacement: placement })(step);
const trainAt = (step: number): SynthSample[] => samplesAt(seed, step);
// A diagnostic only: held-out characters as close-ups (zoom 1.9), to tell "eyes not learned" from
// "eyes learned large but not small".
const closeUpProbe = test.slice(0, 32).map((s) => renderSample(faceCloseUp(s.spec, 1.9, 0.5), size));

const log = (line: string): void => console.log(`[${tag}] ${line}`);
log(`backend ${backend.backend}; size ${size}, batch ${batchSize}, steps ${steps} (+${advSteps} adversarial), lr ${lr}, extractor ${extractorKind}, seed ${seed}, close-ups ${closeUps}/${batchSize} (zoom ${zoomMin}–${zoomMax}, ${placement}), region weights ${JSON.stringify(regionWeights)}`);

// The CIT stand-in.
let extractor: LayersModel | undefined;
let extSeconds = 0;
if (extractorKind === 'seg') {
  extractor = buildSynthCitExtractor({ inputSize: size, featureChannels: extFeatures, seed: seed + 11 });
  const t = performance.now();
  const last = await pretrainSynthCitExtractor(extractor, {
    steps: extSteps,
    learningRate: extLr,
    batchAt: (step) => samplesAt(seed + 3000, step),
    onStep: (step, l) => {
      if ((step + 1) % 50 === 0) log(`extractor step ${step + 1}: region CE ${l.region.toFixed(3)}, region accuracy ${(l.regionAccuracy * 100).toFixed(1)} %, cit ${l.cit.toFixed(4)}`);
    },
  });
  extSeconds = (performance.now() - t) / 1000;
  log(`extractor: ${countParameters(extractor).toLocaleString('en')} parameters, ${extSteps} steps in ${extSeconds.toFixed(1)} s (${((extSeconds / extSteps) * 1000).toFixed(0)} ms/step), region accuracy ${(last.regionAccuracy * 100).toFixed(1)} %`);
}
const citChannels = extractorKind === 'seg' ? extFeatures : 2;
const features = (lineArt: tf.Tensor4D): tf.Tensor4D | undefined => {
  if (extractorKind === 'none') return undefined;
  if (extractorKind === 'stats') return lineArtFeatures(lineArt);
  return tf.tidy(() => (extractor!.apply(lineArt, { training: false }) as tf.Tensor[])[0] as tf.Tensor4D);
};

const generator = buildTag2PixGenerator({
  inputSize: size,
  widthMultiplier: width,
  decoderLayers: [1, 1, 1, 1],
  decoderBlock,
  seReduction,
  tagEncoderWidthMultiplier: 1,
  citChannels,
  citFeatures: extractorKind !== 'none',
});
const discriminator = buildTag2PixDiscriminator({ inputSize: size, widthMultiplier: width / 2, stageBlocks: [1, 1, 1, 1], topBlocks: 0 });
initializeLikeReference(generator, { seed });
initializeLikeReference(discriminator, { seed: seed + 1 });
log(`G ${countParameters(generator).toLocaleString('en')} parameters`);
const epochSteps = 64;
const warmupEpochs = Math.ceil(steps / epochSteps);
const adam = { learningRate: lr, beta1: 0.5, beta2: 0.999, epsilon: 1e-8 };
const trainer = new Tag2PixTrainer({
  generator,
  discriminator,
  generatorOptimizer: adam,
  discriminatorOptimizer: adam,
  scheduler: ChangingLossScheduler.tag2pix({ warmupEpochs, twoStepEpoch: 1 }),
});
const colorize = ({ lineArt, cvt }: { lineArt: tf.Tensor4D; cvt: tf.Tensor2D }): tf.Tensor4D => {
  const f = features(lineArt);
  const [color, guide] = trainer.generate(lineArt, cvt, f);
  if (f) f.dispose();
  guide.dispose();
  return color;
};
const families = ['hair', 'eyes', 'bow', 'hat', 'shirt', 'skirt', 'dress', 'background'];
const pct = (x: number | undefined): string => (x === undefined || Number.isNaN(x) ? '–' : (x * 100).toFixed(1));
const row = (r: TagAccuracyReport): string => families.map((f) => `${f} ${pct(r.perFamily[f]?.accuracy)}`).join(', ') + `, overall ${pct(r.overall)}, L1 ${r.l1.toFixed(3)}`;
const probes: Array<{ step: number; seconds: number; test: Record<string, number>; unseen: Record<string, number> }> = [];
const famMap = (r: TagAccuracyReport): Record<string, number> => Object.fromEntries(Object.entries(r.perFamily).map(([f, a]) => [f, a.accuracy]));

const total = steps + advSteps;
// The learning rate falls linearly from decayFrom·total to the end (as the demo's second half).
const lrAt = (step: number): number => {
  const start = Math.floor(decayFrom * total);
  if (step < start) return lr;
  return lr * Math.max(0.05, (total - step) / (total - start + 1));
};
let trainSeconds = 0;
let warmSeconds = 0;
let advSecondsSum = 0;
const probeCount = Math.min(64, testCount);
for (let step = 0; step < total; step++) {
  const t0 = performance.now();
  const samples = trainAt(step);
  const batch = synthBatch(samples);
  const f = features(batch.lineArt);
  trainer.generatorOptimizer.setLearningRate(lrAt(step));
  trainer.discriminatorOptimizer.setLearningRate(lrAt(step));
  const pixelWeights = weighted ? regionPixelWeights(samples, regionWeights) : undefined;
  const result = await trainer.trainStep({ ...batch, ...(f ? { citFeatures: f } : {}), ...(pixelWeights ? { pixelWeights } : {}) });
  tf.dispose([...Object.values(batch), ...(f ? [f] : []), ...(pixelWeights ? [pixelWeights] : [])]);
  if ((step + 1) % epochSteps === 0) trainer.endEpoch();
  const dt = (performance.now() - t0) / 1000;
  trainSeconds += dt;
  if (step < steps) warmSeconds += dt;
  else advSecondsSum += dt;
  if (step % 50 === 0) log(`step ${step}: L1 ${result.generator.l1Color?.toFixed(3)}, ${dt.toFixed(2)} s`);
  if ((step + 1) % probeEvery === 0 && step + 1 < total) {
    const a = await tagAccuracy(colorize, test.slice(0, probeCount), { families: palette });
    const b = await tagAccuracy(colorize, unseen.slice(0, probeCount), { families: palette });
    probes.push({ step: step + 1, seconds: trainSeconds, test: famMap(a), unseen: famMap(b) });
    log(`probe after ${step + 1} steps (${trainSeconds.toFixed(0)} s): held-out ${row(a)}`);
    log(`probe after ${step + 1} steps: unseen   ${row(b)}`);
    const c = await tagAccuracy(colorize, closeUpProbe, { families: palette });
    log(`probe after ${step + 1} steps: close-ups (diagnostic) eyes ${pct(c.perFamily['eyes']?.accuracy)}, bow ${pct(c.perFamily['bow']?.accuracy)}, hair ${pct(c.perFamily['hair']?.accuracy)}`);
  }
}
const finalTest = await tagAccuracy(colorize, test, { families: palette });
const finalUnseen = await tagAccuracy(colorize, unseen, { families: palette });
log(`final after ${total} steps: held-out ${row(finalTest)}`);
log(`final after ${total} steps: unseen   ${row(finalUnseen)}`);
for (const family of ['hair', 'eyes', 'bow']) {
  log(`${family} by colour, held-out: ${confusion(finalTest, family)}`);
  log(`${family} by colour, unseen: ${confusion(finalUnseen, family)}`);
}
log(`step cost: warm-up ${((warmSeconds / Math.max(1, steps)) * 1000).toFixed(0)} ms, adversarial ${advSteps ? ((advSecondsSum / advSteps) * 1000).toFixed(0) : '–'} ms (data included); extractor pretraining ${extSeconds.toFixed(1)} s`);
if (jsonOut) {
  await fs.writeFile(
    jsonOut,
    JSON.stringify({ tag, args, backend: backend.backend, steps, advSteps, warmSeconds, advSeconds: advSecondsSum, extSeconds, probes, final: { test: famMap(finalTest), unseen: famMap(finalUnseen), overall: [finalTest.overall, finalUnseen.overall] } }, null, 2),
  );
}
const saveDir = text('save', '');
if (saveDir) {
  // Topology and weights as tf.io artifacts (load with tf.io.fromMemory), for grids and probes later.
  await fs.mkdir(saveDir, { recursive: true });
  const save = async (model: LayersModel, name: string): Promise<void> => {
    await model.save(
      tf.io.withSaveHandler(async (a) => {
        await fs.writeFile(`${saveDir}/${name}.json`, JSON.stringify({ ...a, weightData: undefined }));
        await fs.writeFile(`${saveDir}/${name}.bin`, Buffer.from(a.weightData as ArrayBuffer));
        return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
      }),
    );
  };
  await save(generator, 'generator');
  if (extractor) await save(extractor, 'extractor');
  log(`saved to ${saveDir}`);
}
trainer.dispose();
