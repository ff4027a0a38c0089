import { readFileSync } from 'node:fs';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { describe, expect, it } from 'vitest';
import {
  PixelShuffleDecoderBlock,
  SEResNeXtBottleneck,
  exportTorchStateDict,
  loadTorchStateDict,
} from '../../src/index.js';
import { checkGradients, randomTensor } from '../helpers/gradcheck.js';
import { expectNoTensorLeak } from '../helpers/memory.js';
import { maxAbsDiff, saveAndLoad } from '../helpers/roundtrip.js';
import { disposeFixture, loadFixture, seedWeights } from './torch_fixture.js';

/** `module → key → shape` from the reference's state-dict key list (256 px). */
function referenceKeys(module: string, prefix: string): Array<[string, number[]]> {
  const text = readFileSync(new URL('../fixtures/reference/state-dict-keys-256.tsv', import.meta.url), 'utf8');
  const rows: Array<[string, number[]]> = [];
  for (const line of text.split('\n')) {
    const [m, key, shape] = line.split('\t');
    if (m === module && key?.startsWith(prefix)) rows.push([key.slice(prefix.length), JSON.parse(shape) as number[]]);
  }
  expect(rows.length, `${module} ${prefix} in the key list`).toBeGreaterThan(0);
  return rows;
}

function exportedKeys(layer: tfl.layers.Layer): Array<[string, number[]]> {
  const sd = exportTorchStateDict(layer);
  const rows = Object.entries(sd).map(([k, t]): [string, number[]] => [k, t.shape]);
  tf.dispose(Object.values(sd));
  return rows;
}

describe('SEResNeXtBottleneck: PyTorch keys and shapes', () => {
  const cases: Array<[string, string, string, () => SEResNeXtBottleneck, number[][]]> = [
    ['discriminator, first bottleneck (downsample)', 'Discriminator', 'conv2.0.0.', () => new SEResNeXtBottleneck({ filters: 64 }), [[null, 8, 8, 32]] as number[][]],
    ['discriminator, second bottleneck', 'Discriminator', 'conv2.0.1.', () => new SEResNeXtBottleneck({ filters: 64 }), [[null, 8, 8, 64]]],
    ['discriminator conv6 (512 → 512)', 'Discriminator', 'conv6.0.0.', () => new SEResNeXtBottleneck({ filters: 512 }), [[null, 2, 2, 512]]],
    ['CIT extractor layer2.0 (stride 2, SE convs with bias, 32 groups)', 'SEResNeXt_Half', 'layer2.0.',
      () => new SEResNeXtBottleneck({ filters: 512, width: 256, cardinality: 32, strides: 2, excitation: 'se-conv' }), [[null, 8, 8, 256]]],
    ['CIT extractor layer2.1', 'SEResNeXt_Half', 'layer2.1.',
      () => new SEResNeXtBottleneck({ filters: 512, width: 256, cardinality: 32, excitation: 'se-conv' }), [[null, 4, 4, 512]]],
  ] as never;
  for (const [what, module, prefix, make, shape] of cases) {
    it(`${what}: every key and shape in PyTorch order`, () => {
      const layer = make();
      layer.build(shape.length === 1 ? shape[0] : shape);
      expect(exportedKeys(layer)).toEqual(referenceKeys(module, prefix));
    });
  }

  it('the generator decoder blocks deconv4 (5 blocks) and deconv1 (12 blocks, 1024 ch)', () => {
    const deconv4 = new PixelShuffleDecoderBlock({ filters: 128, blocks: 5 });
    deconv4.build([[null, 64, 64, 96], [null, 64]]);
    expect(exportedKeys(deconv4)).toEqual(referenceKeys('Generator', 'deconv4.'));
    const deconv1 = new PixelShuffleDecoderBlock({ filters: 1024, blocks: 12 });
    deconv1.build([[null, 16, 16, 576], [null, 64]]);
    expect(exportedKeys(deconv1)).toEqual(referenceKeys('Generator', 'deconv1.'));
  });

  it('without BatchNorm has no bn keys and a bare 1×1 projection', () => {
    const layer = new SEResNeXtBottleneck({ filters: 32, cardinality: 8, batchNorm: false, excitation: 'secat' });
    layer.build([[null, 4, 4, 16], [null, 8]]);
    expect(exportedKeys(layer).map(([k]) => k)).toEqual([
      'conv1.weight', 'conv2.weight', 'conv3.weight', 'selayer.fc.0.weight', 'selayer.fc.2.weight', 'downsample.0.weight',
    ]);
    const none = new SEResNeXtBottleneck({ filters: 32, cardinality: 8, excitation: 'none' });
    none.build([null, 4, 4, 32]);
    expect(exportedKeys(none).some(([k]) => k.startsWith('selayer') || k.startsWith('downsample'))).toBe(false);
  });
});

describe('SEResNeXtBottleneck: shapes and errors', () => {
  const configs: Array<[string, ConstructorParameters<typeof SEResNeXtBottleneck>[0], number[], number[]]> = [
    ['se, identity residual', { filters: 32, cardinality: 8 }, [2, 5, 6, 32], [2, 5, 6, 32]],
    ['se, strided, odd size', { filters: 64, strides: 2 }, [3, 7, 9, 32], [3, 4, 5, 64]],
    ['se-conv, cardinality 4, width 16', { filters: 32, width: 16, cardinality: 4, excitation: 'se-conv' }, [1, 3, 3, 8], [1, 3, 3, 32]],
    ['none, no BN, strided', { filters: 16, cardinality: 2, strides: 2, excitation: 'none', batchNorm: false }, [2, 5, 5, 16], [2, 3, 3, 16]],
  ];
  for (const [what, args, inShape, outShape] of configs) {
    it(`${what}: ${JSON.stringify(inShape)} → ${JSON.stringify(outShape)}`, async () => {
      const layer = new SEResNeXtBottleneck(args);
      const y = layer.apply(randomTensor(inShape, 1)) as tf.Tensor;
      expect(y.shape).toEqual(outShape);
      expect(layer.computeOutputShape([null, ...inShape.slice(1)])).toEqual([null, ...outShape.slice(1)]);
      expect(Math.min(...(await y.data()))).toBeGreaterThanOrEqual(0); // final ReLU
    });
  }

  it('secat takes [x, tag] (batch 3)', () => {
    const layer = new SEResNeXtBottleneck({ filters: 32, cardinality: 4, excitation: 'secat' });
    const y = layer.apply([randomTensor([3, 4, 5, 16], 2), randomTensor([3, 12], 3)]) as tf.Tensor;
    expect(y.shape).toEqual([3, 4, 5, 32]);
  });

  it('rejects bad arguments and inputs with clear messages', () => {
    expect(() => new SEResNeXtBottleneck({ filters: 64, cardinality: 5 })).toThrow(/width \(16\) must be divisible by cardinality \(5\)/);
    expect(() => new SEResNeXtBottleneck({ filters: 6 })).toThrow(/width must be a positive integer, got 1.5/);
    expect(() => new SEResNeXtBottleneck({ filters: 64, excitation: 'cat' as never })).toThrow(/excitation must be one of se, secat, se-conv, none/);
    expect(() => new SEResNeXtBottleneck({ filters: 64, batchNormMode: 'eval' as never })).toThrow(/batchNormMode/);
    expect(() => new SEResNeXtBottleneck({ filters: 32, cardinality: 8, excitation: 'secat' }).apply(tf.zeros([1, 2, 2, 32]))).toThrow(/two inputs \[features, tag\]/);
    expect(() => new SEResNeXtBottleneck({ filters: 32, cardinality: 8 }).apply(tf.zeros([1, 2, 32]))).toThrow(/expects NHWC features/);
  });
});

describe('SEResNeXtBottleneck: parity with the reference', () => {
  it('plain SE bottleneck, depthwise 3×3 (se_bottleneck fixture)', async () => {
    const f = loadFixture('se_bottleneck');
    const layer = new SEResNeXtBottleneck({ filters: 64, excitation: 'se' });
    layer.build(f.inputs['x'].shape);
    const report = loadTorchStateDict(layer, f.params);
    expect(report.ignored).toHaveLength(3);
    expect(await maxAbsDiff(layer.apply(f.inputs['x']) as tf.Tensor, f.outputs['out'])).toBeLessThanOrEqual(1e-4);
    disposeFixture(f);
  });

  it('SECat bottleneck with 1×1+BN projection (secat_bottleneck fixture)', async () => {
    const f = loadFixture('secat_bottleneck');
    const layer = new SEResNeXtBottleneck({ filters: 128, excitation: 'secat' });
    const inputs = [f.inputs['x'], f.inputs['cat_feature']];
    layer.build(inputs.map((t) => t.shape));
    loadTorchStateDict(layer, f.params);
    expect(await maxAbsDiff(layer.apply(inputs) as tf.Tensor, f.outputs['out'])).toBeLessThanOrEqual(1e-4);
    disposeFixture(f);
  });

  // secat_bottleneck_train.safetensors comes from test/fixtures/make_secat_bottleneck_train.py:
  // PyTorch 1.13, the secat_bottleneck weights and inputs, one forward in train mode.
  it('a training call uses batch statistics and updates running stats as PyTorch', async () => {
    const f = loadFixture('secat_bottleneck');
    const t = loadFixture('secat_bottleneck_train');
    const layer = new SEResNeXtBottleneck({ filters: 128, excitation: 'secat' });
    const inputs = [f.inputs['x'], f.inputs['cat_feature']];
    layer.build(inputs.map((x) => x.shape));
    loadTorchStateDict(layer, f.params);
    const y = layer.apply(inputs, { training: true }) as tf.Tensor;
    expect(await maxAbsDiff(y, t.outputs['out'])).toBeLessThanOrEqual(1e-4);
    const after = exportTorchStateDict(layer);
    const stats = Object.keys(t.after).filter((k) => k.includes('running_'));
    expect(stats).toHaveLength(8);
    for (const k of stats) {
      // Before the call these differ from the expected values by ~1e-1.
      expect(await maxAbsDiff(after[k], f.params[k]), k).toBeGreaterThan(1e-3);
      expect(await maxAbsDiff(after[k], t.after[k]), k).toBeLessThanOrEqual(1e-5);
    }
    tf.dispose(Object.values(after));
    disposeFixture(f);
    disposeFixture(t);
  });

  it("batchNormMode 'batch-stats' normalises with batch statistics outside training, without updating", async () => {
    const f = loadFixture('secat_bottleneck');
    const t = loadFixture('secat_bottleneck_train');
    const layer = new SEResNeXtBottleneck({ filters: 128, excitation: 'secat', batchNormMode: 'batch-stats' });
    const inputs = [f.inputs['x'], f.inputs['cat_feature']];
    layer.build(inputs.map((x) => x.shape));
    loadTorchStateDict(layer, f.params);
    expect(await maxAbsDiff(layer.apply(inputs) as tf.Tensor, t.outputs['out'])).toBeLessThanOrEqual(1e-4);
    const after = exportTorchStateDict(layer);
    expect(await maxAbsDiff(after['bn1.running_mean'], f.params['bn1.running_mean'])).toBe(0);
    tf.dispose(Object.values(after));
    disposeFixture(f);
    disposeFixture(t);
  });

  it("'se-conv' computes what 'se' computes with the same weights and zero biases", async () => {
    const x = randomTensor([2, 5, 5, 16], 4);
    const se = new SEResNeXtBottleneck({ filters: 32, cardinality: 4, strides: 2 });
    const conv = new SEResNeXtBottleneck({ filters: 32, cardinality: 4, strides: 2, excitation: 'se-conv' });
    se.apply(x);
    conv.apply(x);
    const sd = exportTorchStateDict(se);
    const mapped: Record<string, tf.Tensor> = {};
    for (const [k, v] of Object.entries(sd)) {
      if (k === 'selayer.fc.0.weight') mapped['selayer.conv1.weight'] = tf.reshape(v, [...v.shape, 1, 1]);
      else if (k === 'selayer.fc.2.weight') mapped['selayer.conv2.weight'] = tf.reshape(v, [...v.shape, 1, 1]);
      else mapped[k] = v;
    }
    mapped['selayer.conv1.bias'] = tf.zeros([2]);
    mapped['selayer.conv2.bias'] = tf.zeros([32]);
    loadTorchStateDict(conv, mapped);
    expect(await maxAbsDiff(se.apply(x) as tf.Tensor, conv.apply(x) as tf.Tensor)).toBeLessThan(1e-6);
  });
});

/**
 * These blocks have hundreds of ReLUs, so some sampled elements always sit within a step of a
 * kink; the helper sets those aside (their one-sided slopes disagree) and compares the rest. A
 * step of 1e-3 keeps most elements smooth; float32 noise at that step needs a 5% tolerance. The
 * analytic gradients of the same bottleneck were also compared once with PyTorch autograd in
 * float64 (same weights, inputs and projection): max difference 5e-7 over every weight.
 */
const GRAD_CHECK = { eps: 1e-3, rtol: 0.05 };

describe('SEResNeXtBottleneck: gradients, serialisation, memory', () => {
  const small = () => new SEResNeXtBottleneck({ filters: 16, cardinality: 2, reduction: 4, excitation: 'secat' });

  it('passes a finite-difference gradient check in inference mode (inputs and all weights)', async () => {
    const layer = small();
    const x = randomTensor([2, 3, 4, 8], 7);
    const tag = randomTensor([2, 3], 6);
    layer.apply([x, tag]);
    seedWeights(layer, 2);
    const n = await checkGradients((xs) => layer.apply(xs) as tf.Tensor, [x, tag], layer.trainableWeights, GRAD_CHECK);
    expect(n).toBeGreaterThan(80);
  });

  it('passes a finite-difference gradient check in training mode (batch statistics)', async () => {
    const layer = new SEResNeXtBottleneck({ filters: 16, cardinality: 2, reduction: 4, strides: 2, excitation: 'se-conv' });
    const x = randomTensor([2, 5, 5, 8], 10);
    layer.apply(x);
    seedWeights(layer, 1);
    const n = await checkGradients((xs) => layer.apply(xs[0], { training: true }) as tf.Tensor, [x], layer.trainableWeights, GRAD_CHECK);
    expect(n).toBeGreaterThan(80);
  });

  it('survives a save/load round trip with identical outputs (incl. running stats and config)', async () => {
    const f = loadFixture('secat_bottleneck');
    const x = tfl.input({ shape: [8, 8, 96] });
    const tag = tfl.input({ shape: [64] });
    const layer = new SEResNeXtBottleneck({ filters: 128, excitation: 'secat', batchNormMode: 'batch-stats', name: 'block' });
    const model = tfl.model({ inputs: [x, tag], outputs: layer.apply([x, tag]) as tfl.SymbolicTensor });
    loadTorchStateDict(model, Object.fromEntries(Object.entries(f.params).map(([k, v]) => [`block.${k}`, v])));
    const restored = await saveAndLoad(model);
    const back = restored.getLayer('block') as SEResNeXtBottleneck;
    expect(back).toBeInstanceOf(SEResNeXtBottleneck);
    expect(back.batchNormMode).toBe('batch-stats');
    const inputs = [f.inputs['x'], f.inputs['cat_feature']];
    expect(await maxAbsDiff(model.predict(inputs) as tf.Tensor, restored.predict(inputs) as tf.Tensor)).toBe(0);
    disposeFixture(f);
  });

  it('keeps tf.memory() flat over inference and training calls', () => {
    const layer = small();
    const x = randomTensor([2, 3, 3, 8], 10);
    const tag = randomTensor([2, 3], 11);
    expectNoTensorLeak(() => {
      tf.dispose(layer.apply([x, tag], { training: true }) as tf.Tensor);
      tf.dispose(layer.apply([x, tag]) as tf.Tensor);
    });
  });
});

describe('PixelShuffleDecoderBlock', () => {
  it('matches the reference DecoderBlock, output and pre_shuffle (decoder_block fixture)', async () => {
    const f = loadFixture('decoder_block');
    const block = new PixelShuffleDecoderBlock({ filters: 128, blocks: 2 });
    const inputs = [f.inputs['x'], f.inputs['cat_feature']];
    block.build(inputs.map((t) => t.shape));
    const report = loadTorchStateDict(block, f.params);
    expect(report.loaded).toHaveLength(Object.keys(f.params).length - 7);
    const y = block.apply(inputs) as tf.Tensor;
    expect(y.shape).toEqual([2, 16, 16, 32]);
    expect(await maxAbsDiff(y, f.outputs['out'])).toBeLessThanOrEqual(1e-4);
    expect(await maxAbsDiff(block.preShuffle(inputs), f.outputs['pre_shuffle'])).toBeLessThanOrEqual(1e-4);
    disposeFixture(f);
  });

  it('has the documented shapes for several configurations', () => {
    const cases: Array<[ConstructorParameters<typeof PixelShuffleDecoderBlock>[0], number[], number[]]> = [
      [{ filters: 64, blocks: 1 }, [3, 3, 5, 24], [3, 6, 10, 16]],
      [{ filters: 32, blocks: 2, cardinality: 8, batchNorm: false }, [1, 2, 2, 32], [1, 4, 4, 8]],
      [{ filters: 36, blocks: 1, cardinality: 3, reduction: 4, upscaleFactor: 3 }, [2, 2, 1, 5], [2, 6, 3, 4]],
    ];
    for (const [args, xShape, outShape] of cases) {
      const block = new PixelShuffleDecoderBlock(args);
      const y = block.apply([randomTensor(xShape, 1), randomTensor([xShape[0], 7], 2)]) as tf.Tensor;
      expect(y.shape).toEqual(outShape);
      expect(block.computeOutputShape([[null, ...xShape.slice(1)], [null, 7]])).toEqual([null, ...outShape.slice(1)]);
    }
    expect(() => new PixelShuffleDecoderBlock({ filters: 66, blocks: 1 })).toThrow(/divisible by 4/);
    expect(() => new PixelShuffleDecoderBlock({ filters: 64, blocks: 0 })).toThrow(/blocks must be a positive integer/);
  });

  it('passes a finite-difference gradient check, inference and training mode', async () => {
    const block = new PixelShuffleDecoderBlock({ filters: 16, blocks: 2, cardinality: 2, reduction: 4 });
    const x = randomTensor([2, 3, 2, 6], 17);
    const tag = randomTensor([2, 3], 13);
    block.apply([x, tag]);
    seedWeights(block, 5);
    const options = { ...GRAD_CHECK, samples: 3 };
    expect(await checkGradients((xs) => block.apply(xs) as tf.Tensor, [x, tag], block.trainableWeights, options)).toBeGreaterThan(60);
    expect(
      await checkGradients((xs) => block.apply(xs, { training: true }) as tf.Tensor, [x, tag], block.trainableWeights, options),
    ).toBeGreaterThan(60);
  });

  it('survives a save/load round trip with identical outputs', async () => {
    const f = loadFixture('decoder_block');
    const x = tfl.input({ shape: [8, 8, 96] });
    const tag = tfl.input({ shape: [64] });
    const block = new PixelShuffleDecoderBlock({ filters: 128, blocks: 2, name: 'deconv4' });
    const model = tfl.model({ inputs: [x, tag], outputs: block.apply([x, tag]) as tfl.SymbolicTensor });
    // Keys under the layer's name, as the generator's deconv4.
    const prefixed = Object.fromEntries(Object.entries(f.params).map(([k, v]) => [`deconv4.${k}`, v]));
    loadTorchStateDict(model, prefixed);
    const restored = await saveAndLoad(model);
    const inputs = [f.inputs['x'], f.inputs['cat_feature']];
    const y = restored.predict(inputs) as tf.Tensor;
    expect(await maxAbsDiff(model.predict(inputs) as tf.Tensor, y)).toBe(0);
    expect(await maxAbsDiff(y, f.outputs['out'])).toBeLessThanOrEqual(1e-4);
    disposeFixture(f);
  });

  it('keeps tf.memory() flat over training calls', () => {
    const block = new PixelShuffleDecoderBlock({ filters: 16, blocks: 2, cardinality: 2, reduction: 4 });
    const inputs = [randomTensor([2, 3, 3, 6], 14), randomTensor([2, 3], 15)];
    expectNoTensorLeak(() => tf.dispose(block.apply(inputs, { training: true }) as tf.Tensor));
  });
});
