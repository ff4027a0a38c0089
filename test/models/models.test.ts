import * as fs from 'node:fs';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { describe, expect, it } from 'vitest';
import {
  buildCITExtractor,
  buildSEResNeXt50,
  buildTag2PixDiscriminator,
  buildTag2PixGenerator,
  countParameters,
  initializeLikeReference,
  resolveGeneratorConfig,
  type DecoderBlockKind,
} from '../../src/index.js';
import { exportTorchStateDict } from '../../src/io/torch_state_dict.js';
import { randomTensor } from '../helpers/gradcheck.js';
import { maxAbsDiff, saveAndLoad } from '../helpers/roundtrip.js';

/** The reference's key table for one module (256 px, from the official code): key → shape. */
function referenceKeys(module: string): Map<string, string> {
  const file = new URL('../fixtures/reference/state-dict-keys-256.tsv', import.meta.url);
  const rows = fs.readFileSync(file, 'utf8').trim().split('\n').map((l) => l.split('\t'));
  return new Map(rows.filter((r) => r[0] === module).map((r) => [r[1], r[2]]));
}

/** Our model's state-dict keys and PyTorch shapes, as exportTorchStateDict writes them. */
function ourKeys(model: tfl.LayersModel): Map<string, string> {
  const dict = exportTorchStateDict(model);
  const keys = new Map(Object.entries(dict).map(([k, t]) => [k, JSON.stringify(t.shape)]));
  tf.dispose(Object.values(dict));
  return keys;
}

function expectSameKeys(ours: Map<string, string>, reference: Map<string, string>): void {
  const missing = [...reference.keys()].filter((k) => !ours.has(k));
  const extra = [...ours.keys()].filter((k) => !reference.has(k));
  const shapes = [...reference.keys()].filter((k) => ours.has(k) && ours.get(k) !== reference.get(k));
  expect({ missing, extra, shapes: shapes.map((k) => `${k}: ${ours.get(k)} vs ${reference.get(k)}`) }).toEqual({
    missing: [],
    extra: [],
    shapes: [],
  });
  expect(ours.size).toBe(reference.size);
}

describe('published-size models: parameter counts and state-dict keys', () => {
  it('generator: 15,809,398 parameters and every key of the 256 px reference', () => {
    const g = buildTag2PixGenerator();
    expect(countParameters(g)).toBe(15_809_398);
    expectSameKeys(ourKeys(g), referenceKeys('Generator'));
    expect(g.inputs.map((i) => i.shape)).toEqual([[null, 256, 256, 1], [null, 32, 32, 512], [null, 115]]);
    expect(g.outputs.map((o) => o.shape)).toEqual([[null, 256, 256, 3], [null, 256, 256, 3]]);
  });

  it('discriminator: 4,515,558 parameters and every key of the reference', () => {
    const d = buildTag2PixDiscriminator();
    expect(countParameters(d)).toBe(4_515_558);
    expectSameKeys(ourKeys(d), referenceKeys('Discriminator'));
    expect(d.outputs.map((o) => o.shape)).toEqual([[null, 1], [null, 370], [null, 115]]);
  });

  it('CIT extractor: 1,564,784 parameters and every key of SEResNeXt_Half', () => {
    const cit = buildCITExtractor();
    expect(countParameters(cit)).toBe(1_564_784);
    expectSameKeys(ourKeys(cit), referenceKeys('SEResNeXt_Half'));
    expect(cit.outputs[0].shape).toEqual([null, 32, 32, 512]);
  });

  it('SE-ResNeXt-50 classifier: the CIT extractor is its first half; 3-channel and logits variants', () => {
    const full = buildSEResNeXt50({ inputSize: 64 });
    const fullKeys = ourKeys(full);
    for (const key of referenceKeys('SEResNeXt_Half').keys()) expect(fullKeys.has(key), key).toBe(true);
    expect(fullKeys.get('layer4.2.conv3.weight')).toBe('[2048,1024,1,1]');
    expect(fullKeys.get('fc.weight')).toBe('[370,2048]');
    expect(full.outputs[0].shape).toEqual([null, 370]);
    // Two more input channels add 64·7·7·2 stem weights; 360 fewer classes remove 360·(2048 + 1).
    const shallow = { inputSize: 32, layers: [1, 1, 1, 1] as [number, number, number, number] };
    const grey = buildSEResNeXt50(shallow);
    const rgb = buildSEResNeXt50({ ...shallow, inputChannels: 3, numClasses: 10, logits: true });
    expect(countParameters(rgb) - countParameters(grey)).toBe(64 * 7 * 7 * 2 + (10 - 370) * 2049);
    const logits = rgb.predict(tf.zeros([2, 32, 32, 3])) as tf.Tensor;
    expect(logits.shape).toEqual([2, 10]);
    const probabilities = grey.predict(randomTensor([1, 32, 32, 1], 3, 0, 1)) as tf.Tensor;
    expect(tf.tidy(() => tf.min(probabilities).dataSync()[0])).toBeGreaterThan(0);
  });
});

describe('buildTag2PixGenerator options', () => {
  const small = { inputSize: 32, decoderLayers: [1, 1, 1, 1] as [number, number, number, number], widthMultiplier: 0.25 };

  it('runs a narrow model with the documented input and output shapes, outputs in [-1, 1]', () => {
    const g = buildTag2PixGenerator(small);
    const [color, guide] = g.predict([
      randomTensor([2, 32, 32, 1], 1, 0, 1),
      randomTensor([2, 4, 4, 512], 2, 0, 1),
      tf.cast(tf.oneHot([3, 7], 115), 'float32'),
    ]) as tf.Tensor[];
    expect(color.shape).toEqual([2, 32, 32, 3]);
    expect(guide.shape).toEqual([2, 32, 32, 3]);
    expect(tf.tidy(() => tf.max(tf.abs(color)).dataSync()[0])).toBeLessThanOrEqual(1);
    expect(countParameters(g)).toBeLessThan(countParameters(buildTag2PixGenerator({ ...small, widthMultiplier: 1 })) / 4);
  });

  it('scales channels by widthMultiplier, keeping grouped widths multiples of 16', () => {
    const half = resolveGeneratorConfig({ widthMultiplier: 0.5 }).channels;
    expect(half.encoder).toEqual([8, 16, 32, 64, 128]);
    expect(half.decoderWidths).toEqual([128, 64, 32, 16]);
    const quarter = resolveGeneratorConfig({ widthMultiplier: 0.25 }).channels;
    expect(quarter.decoderWidths).toEqual([64, 32, 16, 16]);
    expect(resolveGeneratorConfig().channels.decoderWidths).toEqual([256, 128, 64, 32]);
  });

  it('seReduction sets the SECat hidden width of every decoder bottleneck', () => {
    const hidden = (g: ReturnType<typeof buildTag2PixGenerator>) =>
      [1, 2, 3, 4].map((k) => JSON.parse(ourKeys(g).get(`deconv${k}.secat_layer.0.selayer.fc.0.weight`)!) as number[]);
    // Bottleneck channels at ×0.25: 256, 128, 64, 64; the SECat input adds the tag vector (16).
    expect(hidden(buildTag2PixGenerator(small)).map((s) => s[0])).toEqual([16, 8, 4, 4]);
    expect(hidden(buildTag2PixGenerator({ ...small, seReduction: 4 })).map((s) => s[0])).toEqual([64, 32, 16, 16]);
    expect(() => buildTag2PixGenerator({ ...small, seReduction: 0 })).toThrow(/seReduction must be a positive integer/);
    expect(() => buildTag2PixGenerator({ ...small, seReduction: 128 })).toThrow(/leave no hidden units/);
  });

  it('tagEncoderWidthMultiplier widens the CVT encoder alone', () => {
    const narrow = resolveGeneratorConfig({ widthMultiplier: 0.25 }).channels;
    const wide = resolveGeneratorConfig({ widthMultiplier: 0.25, tagEncoderWidthMultiplier: 1 }).channels;
    expect([narrow.linear, narrow.colorConv, narrow.embedding]).toEqual([8, 16, 16]);
    expect([wide.linear, wide.colorConv, wide.embedding]).toEqual([32, 64, 64]);
    expect(wide.encoder).toEqual(narrow.encoder);
    expect(wide.decoderWidths).toEqual(narrow.decoderWidths);
    const g = buildTag2PixGenerator({ ...small, tagEncoderWidthMultiplier: 1 });
    const keys = ourKeys(g);
    expect(JSON.parse(keys.get('Linear.weight')!)).toEqual([32 * 2 * 2, 115]);
    // The SECat input is the pooled features plus the 64-value tag embedding.
    expect(JSON.parse(keys.get('deconv1.secat_layer.0.selayer.fc.0.weight')!)[1]).toBe(256 + 64);
    expect(() => buildTag2PixGenerator({ ...small, tagEncoderWidthMultiplier: 0 })).toThrow(/tagEncoderWidthMultiplier must be a number > 0/);
  });

  it('without the guide decoder returns the colour output twice', async () => {
    const g = buildTag2PixGenerator({ ...small, guideDecoder: false });
    expect(g.layers.some((l) => l.name === 'deconv_for_decoder')).toBe(false);
    const [color, guide] = g.predict([tf.ones([1, 32, 32, 1]), tf.zeros([1, 4, 4, 512]), tf.zeros([1, 115])]) as tf.Tensor[];
    expect(await maxAbsDiff(color, guide)).toBe(0);
  });

  it('without the CIT path has inputs [lineArt, cvt] and no featureConv', () => {
    const g = buildTag2PixGenerator({ ...small, citFeatures: false });
    expect(g.inputLayers.map((l) => l.name)).toEqual(['lineArt', 'cvt']);
    expect(g.layers.some((l) => l.name === 'featureConv')).toBe(false);
    const withCit = buildTag2PixGenerator({ ...small });
    // deconv1's first conv sees 256·m fewer channels.
    expect(countParameters(withCit) - countParameters(g)).toBeGreaterThan(0);
    const [color] = g.predict([tf.ones([1, 32, 32, 1]), tf.zeros([1, 115])]) as tf.Tensor[];
    expect(color.shape).toEqual([1, 32, 32, 3]);
  });

  it('without BatchNorm (the 512 px model) has no BatchNorm keys', () => {
    const g = buildTag2PixGenerator({ ...small, batchNorm: false });
    const keys = [...ourKeys(g).keys()];
    expect(keys.some((k) => /running_mean|\.bn\d\./.test(k))).toBe(false);
    expect(keys).toContain('featureConv.network.2.weight');
  });

  it('rejects bad configurations with clear messages', () => {
    expect(() => buildTag2PixGenerator({ inputSize: 100 })).toThrow(/multiple of 16.*try 96/);
    expect(() => buildTag2PixGenerator({ decoderLayers: [1, 1, 1] as never })).toThrow(/4 block counts/);
    expect(() => buildTag2PixGenerator({ widthMultiplier: 0 })).toThrow(/widthMultiplier must be a number > 0/);
    expect(() => buildTag2PixGenerator({ decoderBlock: 'film' as never })).toThrow(/decoderBlock must be one of secat, resnext/);
    expect(() => buildTag2PixGenerator({ inputsize: 256 } as never)).toThrow(/unknown option 'inputsize'/);
    expect(() => buildTag2PixDiscriminator({ outputs: 'raw' as never })).toThrow(/outputs must be one of/);
    expect(() => buildSEResNeXt50({ inputChannels: 2 as never })).toThrow(/inputChannels must be 1/);
  });

  it('saves and loads (topology + weights) with identical outputs', async () => {
    const g = buildTag2PixGenerator({ ...small, decoderBlock: 'secat' });
    const restored = await saveAndLoad(g);
    const x = [randomTensor([1, 32, 32, 1], 5, 0, 1), randomTensor([1, 4, 4, 512], 6, 0, 1), tf.cast(tf.oneHot([9], 115), 'float32')];
    expect(await maxAbsDiff(g.predict(x) as tf.Tensor[], restored.predict(x) as tf.Tensor[])).toBe(0);
  });

  it('does not leak tensors across predictions', () => {
    const g = buildTag2PixGenerator(small);
    const x = [tf.ones([1, 32, 32, 1]), tf.zeros([1, 4, 4, 512]), tf.zeros([1, 115])];
    tf.dispose(g.predict(x) as tf.Tensor[]);
    const before = tf.memory().numTensors;
    for (let i = 0; i < 3; i++) tf.dispose(g.predict(x) as tf.Tensor[]);
    expect(tf.memory().numTensors).toBe(before);
  });
});

describe('buildTag2PixDiscriminator options', () => {
  it('stageBlocks and topBlocks set the bottlenecks per stage, keeping the published key names', () => {
    const full = buildTag2PixDiscriminator({ inputSize: 32, widthMultiplier: 0.25 });
    const light = buildTag2PixDiscriminator({ inputSize: 32, widthMultiplier: 0.25, stageBlocks: [1, 1, 1, 1], topBlocks: 0 });
    const fullKeys = [...ourKeys(full).keys()];
    const lightKeys = [...ourKeys(light).keys()];
    // Every key of the light critic is one of the full critic's (same names, same shapes).
    expect(lightKeys.filter((k) => !fullKeys.includes(k))).toEqual([]);
    const blocks = (keys: string[]) => [...new Set(keys.map((k) => /^(conv\d\.0\.\d)\./.exec(k)?.[1]).filter(Boolean))].sort();
    expect(blocks(lightKeys)).toEqual(['conv2.0.0', 'conv3.0.0', 'conv4.0.0', 'conv5.0.0']);
    expect(blocks(fullKeys)).toEqual([
      'conv2.0.0', 'conv2.0.1', 'conv3.0.0', 'conv3.0.1', 'conv4.0.0', 'conv4.0.1', 'conv5.0.0', 'conv5.0.1', 'conv6.0.0', 'conv7.0.0', 'conv8.0.0',
    ]);
    const deeper = buildTag2PixDiscriminator({ inputSize: 32, widthMultiplier: 0.25, stageBlocks: [3, 1, 1, 1], topBlocks: 1 });
    expect(blocks([...ourKeys(deeper).keys()])).toEqual(['conv2.0.0', 'conv2.0.1', 'conv2.0.2', 'conv3.0.0', 'conv4.0.0', 'conv5.0.0', 'conv6.0.0']);
    expect(countParameters(light)).toBeLessThan(countParameters(full));
    const x = randomTensor([2, 32, 32, 3], 3, -1, 1);
    const out = light.predict(x) as tf.Tensor[];
    expect(out.map((o) => o.shape)).toEqual([[2, 1], [2, 370], [2, 115]]);
    tf.dispose([x, ...out]);
  });

  it('rejects bad block counts with clear messages', () => {
    expect(() => buildTag2PixDiscriminator({ stageBlocks: [1, 1, 1] as never })).toThrow(/stageBlocks must list 4 bottleneck counts/);
    expect(() => buildTag2PixDiscriminator({ stageBlocks: [1, 0, 1, 1] })).toThrow(/stageBlocks\[1\] must be a positive integer/);
    expect(() => buildTag2PixDiscriminator({ topBlocks: -1 })).toThrow(/topBlocks must be an integer >= 0/);
  });

  it('a light critic saves and loads with identical outputs', async () => {
    const d = buildTag2PixDiscriminator({ inputSize: 32, widthMultiplier: 0.25, stageBlocks: [1, 2, 1, 1], topBlocks: 1 });
    const restored = await saveAndLoad(d);
    const x = randomTensor([1, 32, 32, 3], 8, -1, 1);
    expect(await maxAbsDiff(d.predict(x) as tf.Tensor[], restored.predict(x) as tf.Tensor[])).toBe(0);
  });
});

describe('the ablation generators of the paper (Table 3)', () => {
  // Parameter counts of the official GD_*.py generators at 256 px, from their layer sizes. The
  // paper's Table 3 rounds them (13.85M, 15.71M, 16.03M, 17.37M, 16.51M, 15.81M); its ResNeXt
  // figure includes a colorFC (19,904 weights) that GD_resnext.py builds but never uses, which
  // this library leaves out.
  const expected: Record<DecoderBlockKind, number> = {
    resnext: 13_849_974 - 19_904,
    'se-resnext': 15_716_278,
    'concat-front': 16_029_046,
    'concat-all': 17_365_238,
    adain: 16_512_630,
    secat: 15_809_398,
  };
  for (const [block, count] of Object.entries(expected) as [DecoderBlockKind, number][]) {
    it(`${block}: ${count.toLocaleString('en')} parameters at full width, and a 256 px forward pass`, () => {
      expect(countParameters(buildTag2PixGenerator({ decoderBlock: block }))).toBe(count);
      const g = buildTag2PixGenerator({ decoderBlock: block, widthMultiplier: 0.125, decoderLayers: [1, 1, 1, 1] });
      const [color, guide] = g.predict([
        randomTensor([1, 256, 256, 1], 7, 0, 1),
        randomTensor([1, 32, 32, 512], 8, 0, 1),
        tf.cast(tf.oneHot([4], 115), 'float32'),
      ]) as tf.Tensor[];
      expect(color.shape).toEqual([1, 256, 256, 3]);
      expect(guide.shape).toEqual([1, 256, 256, 3]);
      expect(tf.tidy(() => tf.all(tf.isFinite(color)).dataSync()[0])).toBe(1);
    });
  }
});

describe('initializeLikeReference', () => {
  it("re-draws weights as the official code's init loop: Kaiming normal, zero biases, ConvTranspose weights kept", () => {
    const g = buildTag2PixGenerator({ inputSize: 32, decoderLayers: [1, 1, 1, 1], widthMultiplier: 0.5 });
    const guideBefore = g.getLayer('deconv_for_decoder').getWeights().map((w) => w.dataSync().slice());
    const bn = (g.getLayer('deconv1') as unknown as { torchParams(): { key: string; variable: tfl.LayerVariable }[] }).torchParams();
    const runningVar = bn.find((p) => p.key.endsWith('bn1.running_var'))!.variable;
    runningVar.write(tf.fill(runningVar.shape as number[], 2));
    const changed = initializeLikeReference(g);
    expect(changed).toBeGreaterThan(50);

    const std = (t: tf.Tensor) => tf.tidy(() => Math.sqrt(tf.moments(t).variance.dataSync()[0]));
    // deconv1's first 1×1 conv, [1, 1, in, width]: fan_out = width.
    const conv1 = bn.find((p) => p.key === 'secat_layer.0.conv1.weight')!.variable.read();
    expect(std(conv1)).toBeCloseTo(Math.sqrt(2 / (conv1.shape[3] as number)), 2);
    // The CVT Linear (115 → 32·(S/16)²·m rows): N(0, 2 / 115).
    const linear = g.getLayer('cvt_encoder').getWeights()[0];
    expect(std(linear)).toBeCloseTo(Math.sqrt(2 / 115), 2);
    for (const layer of g.layers) {
      const named = (layer as unknown as { torchParams?(): { key: string; variable: tfl.LayerVariable }[] }).torchParams?.() ?? [];
      for (const p of named.filter((q) => q.key.endsWith('.bias') || q.key === 'bias')) {
        expect(tf.tidy(() => tf.max(tf.abs(p.variable.read())).dataSync()[0]), `${layer.name} ${p.key}`).toBe(0);
      }
    }
    const guideAfter = g.getLayer('deconv_for_decoder').getWeights();
    expect(Array.from(guideAfter[0].dataSync())).toEqual(Array.from(guideBefore[0]));
    expect(Array.from(runningVar.read().dataSync()).every((v) => v === 2)).toBe(true);
  });

  it('with a seed leaves nothing unseeded: two models start identical, ConvTranspose weights from PyTorch’s default range', () => {
    const build = () => buildTag2PixGenerator({ inputSize: 32, decoderLayers: [1, 1, 1, 1], widthMultiplier: 0.25 });
    const [a, b, c] = [build(), build(), build()];
    initializeLikeReference(a, { seed: 7 });
    initializeLikeReference(b, { seed: 7 });
    initializeLikeReference(c, { seed: 8 });
    const values = (m: tfl.LayersModel) => m.weights.map((w) => Array.from(w.read().dataSync()));
    expect(values(b)).toEqual(values(a));
    const guide = (m: tfl.LayersModel) => Array.from(m.getLayer('deconv_for_decoder').getWeights()[0].dataSync());
    expect(guide(c)).not.toEqual(guide(a));
    // deconv0: [3, 3, out, in], PyTorch's fan_in = out·9.
    const w = a.getLayer('deconv_for_decoder').getWeights()[0];
    const bound = 1 / Math.sqrt(9 * (w.shape[2] as number));
    expect(Math.max(...guide(a).map(Math.abs))).toBeLessThanOrEqual(bound);
    expect(Math.max(...guide(a).map(Math.abs))).toBeGreaterThan(0.9 * bound);
    // The AdaIN ablation block's style weight (`weight_orig`, N(0, 1) in the reference) too.
    const adain = () => buildTag2PixGenerator({ inputSize: 32, decoderLayers: [1, 1, 1, 1], widthMultiplier: 0.25, decoderBlock: 'adain' });
    const [e1, e2] = [adain(), adain()];
    initializeLikeReference(e1, { seed: 5 });
    initializeLikeReference(e2, { seed: 5 });
    expect(values(e2)).toEqual(values(e1));
    const styleWeight = e1.weights.find((w) => w.originalName.includes('weight_orig') || w.name.includes('weight_orig'));
    expect(styleWeight, 'an AdaIN style weight').toBeDefined();
    expect(tf.tidy(() => Math.sqrt(tf.moments(styleWeight!.read()).variance.dataSync()[0]))).toBeCloseTo(1, 1);
    const d1 = buildTag2PixDiscriminator({ inputSize: 32, widthMultiplier: 0.25 });
    const d2 = buildTag2PixDiscriminator({ inputSize: 32, widthMultiplier: 0.25 });
    initializeLikeReference(d1, { seed: 3 });
    initializeLikeReference(d2, { seed: 3 });
    expect(values(d2)).toEqual(values(d1));
  });
});
