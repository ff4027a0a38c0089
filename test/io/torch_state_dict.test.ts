import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { describe, expect, it } from 'vitest';
import { GroupedConv2D, exportTorchStateDict, loadTorchStateDict } from '../../src/index.js';
import { readSafetensors, writeSafetensors } from '../../src/io/index.js';
import { WeightsError } from '../../src/errors.js';
import { randomTensor } from '../helpers/gradcheck.js';
import { maxAbsDiff } from '../helpers/roundtrip.js';

/**
 * A small model mixing our layers with tfjs built-ins, named by PyTorch module path. Its PyTorch
 * twin:
 *   conv1 = Conv2d(4, 8, 3, padding=1); bn1 = BatchNorm2d(8);
 *   block = Sequential(ReLU(), Conv2d(8, 8, 3, padding=1, groups=2)) → keys `block.1.*`;
 *   fc = Linear(8, 5) after a global average pool.
 */
function buildModel(): tfl.LayersModel {
  const input = tfl.input({ shape: [6, 6, 4] });
  let x = tfl.layers.conv2d({ filters: 8, kernelSize: 3, padding: 'same', name: 'conv1' }).apply(input);
  x = tfl.layers.batchNormalization({ epsilon: 1e-5, name: 'bn1' }).apply(x);
  x = tfl.layers.reLU().apply(x);
  x = new GroupedConv2D({ filters: 8, kernelSize: 3, padding: 1, groups: 2, name: 'block.1' }).apply(x);
  x = tfl.layers.globalAveragePooling2d({}).apply(x);
  const out = tfl.layers.dense({ units: 5, name: 'fc' }).apply(x) as tfl.SymbolicTensor;
  return tfl.model({ inputs: input, outputs: out });
}

// Checked once against PyTorch 1.13 (not part of the suite, which never needs Python): this model
// with random BatchNorm statistics, `writeSafetensors(exportTorchStateDict(model))`, read in
// Python into the twin above with `load_state_dict(sd, strict=True)` ("All keys matched"), and
// the twin in eval mode on the same input (NCHW) matched `model.predict` to 3e-8. The same check
// for SEResNeXtBottleneck and PixelShuffleDecoderBlock is described in docs/layers.md.

const MODEL_KEYS: Array<[string, number[]]> = [
  ['conv1.weight', [8, 4, 3, 3]],
  ['conv1.bias', [8]],
  ['bn1.weight', [8]],
  ['bn1.bias', [8]],
  ['bn1.running_mean', [8]],
  ['bn1.running_var', [8]],
  ['bn1.num_batches_tracked', []],
  ['block.1.weight', [8, 4, 3, 3]],
  ['block.1.bias', [8]],
  ['fc.weight', [5, 8]],
  ['fc.bias', [5]],
];

/** A random state dict in PyTorch layouts (running_var kept positive). */
function randomStateDict(seed: number): Record<string, tf.Tensor> {
  const dict: Record<string, tf.Tensor> = {};
  MODEL_KEYS.forEach(([k, shape], i) => {
    if (k.endsWith('num_batches_tracked')) dict[k] = tf.scalar(3, 'int32');
    else if (k.endsWith('running_var')) dict[k] = randomTensor(shape, seed + i, 0.5, 1.5);
    else dict[k] = randomTensor(shape, seed + i);
  });
  return dict;
}

describe('exportTorchStateDict', () => {
  it('lists every key in PyTorch order and layout, num_batches_tracked as int32 0', () => {
    const model = buildModel();
    const sd = exportTorchStateDict(model);
    expect(Object.keys(sd)).toEqual(MODEL_KEYS.map(([k]) => k));
    for (const [k, shape] of MODEL_KEYS) expect(sd[k].shape, k).toEqual(shape);
    expect(sd['bn1.num_batches_tracked'].dtype).toBe('int32');
    expect(sd['bn1.num_batches_tracked'].dataSync()[0]).toBe(0);
    // conv: tfjs [kh, kw, in, out] → PyTorch [out, in, kh, kw]
    const tfKernel = model.getLayer('conv1').getWeights()[0].arraySync() as number[][][][];
    const torchKernel = sd['conv1.weight'].arraySync() as number[][][][];
    expect(torchKernel[7][2][0][1]).toBe(tfKernel[0][1][2][7]);
    // Linear: tfjs [in, out] → PyTorch [out, in]
    const tfDense = model.getLayer('fc').getWeights()[0].arraySync() as number[][];
    expect((sd['fc.weight'].arraySync() as number[][])[4][6]).toBe(tfDense[6][4]);
    expect(Object.keys(exportTorchStateDict(model, { prefix: 'module.' }))[0]).toBe('module.conv1.weight');
    tf.dispose(Object.values(sd));
  });
});

describe('loadTorchStateDict', () => {
  it('loads an exported state dict into a fresh model: identical outputs, via safetensors', async () => {
    const a = buildModel();
    const b = buildModel();
    const x = randomTensor([2, 6, 6, 4], 1);
    // Give BN non-trivial statistics first so they take part.
    loadTorchStateDict(a, randomStateDict(10));
    const bytes = writeSafetensors(exportTorchStateDict(a));
    const report = loadTorchStateDict(b, readSafetensors(bytes));
    expect(report.loaded).toHaveLength(10);
    expect(report.ignored).toEqual(['bn1.num_batches_tracked']);
    expect(report.missing).toEqual([]);
    expect(await maxAbsDiff(a.predict(x) as tf.Tensor, b.predict(x) as tf.Tensor)).toBe(0);
  });

  it('converts layouts: conv OIHW → HWIO, Linear [out, in] → [in, out], vectors as is', () => {
    const model = buildModel();
    const sd = randomStateDict(20);
    loadTorchStateDict(model, sd);
    const torchConv = sd['block.1.weight'].arraySync() as number[][][][];
    const kernel = model.getLayer('block.1').getWeights()[0].arraySync() as number[][][][];
    expect(kernel[2][0][3][5]).toBe(torchConv[5][3][2][0]);
    const fc = model.getLayer('fc').getWeights()[0].arraySync() as number[][];
    expect(fc[1][4]).toBe((sd['fc.weight'].arraySync() as number[][])[4][1]);
    const bnWeights = model.getLayer('bn1').getWeights();
    expect(Array.from(bnWeights[3].dataSync())).toEqual(Array.from(sd['bn1.running_var'].dataSync()));
  });

  it('strict: one error listing every missing key, unused key and shape mismatch', () => {
    const model = buildModel();
    const sd = randomStateDict(30);
    delete sd['conv1.bias'];
    delete sd['fc.bias'];
    sd['extra.weight'] = tf.zeros([2]);
    sd['fc.weight'] = tf.zeros([8, 5]);
    const before = model.getLayer('conv1').getWeights()[0].dataSync().slice();
    let message = '';
    try {
      loadTorchStateDict(model, sd);
    } catch (e) {
      message = (e as Error).message;
    }
    expect(message).toMatch(/2 missing key\(s\)[^]*conv1\.bias[^]*fc\.bias/);
    expect(message).toMatch(/1 unused key\(s\)[^]*extra\.weight/);
    expect(message).toMatch(/fc\.weight: the model expects \[5, 8\] \(PyTorch layout\), the state dict has \[8, 5\]/);
    // Nothing was written.
    expect(Array.from(model.getLayer('conv1').getWeights()[0].dataSync())).toEqual(Array.from(before));
  });

  it('non-strict: loads what matches and reports the rest; shape mismatches still fail', () => {
    const model = buildModel();
    const sd = randomStateDict(40);
    delete sd['fc.bias'];
    sd['extra.weight'] = tf.zeros([2]);
    const report = loadTorchStateDict(model, sd, { strict: false });
    expect(report.missing).toEqual(['fc.bias']);
    expect(report.unused).toEqual(['extra.weight']);
    expect(report.loaded).toHaveLength(9);
    sd['fc.weight'] = tf.zeros([5, 9]);
    expect(() => loadTorchStateDict(model, sd, { strict: false })).toThrow(/fc\.weight: the model expects \[5, 8\]/);
  });

  it("strips DataParallel's module. prefix, a given prefix, and skips ignored keys", async () => {
    const a = buildModel();
    const sd = randomStateDict(50);
    loadTorchStateDict(a, sd);
    const wrapped: Record<string, tf.Tensor> = { 'input.x': tf.zeros([1]) };
    for (const [k, v] of Object.entries(sd)) {
      wrapped[`module.generator.${k}`] = v;
      wrapped[`module.discriminator.${k}`] = tf.zerosLike(v);
    }
    const b = buildModel();
    const report = loadTorchStateDict(b, wrapped, {
      prefix: 'generator',
      ignore: (k) => k.startsWith('input.'),
    });
    expect(report.skipped).toContain('input.x');
    expect(report.skipped).toContain('module.discriminator.fc.weight');
    expect(report.loaded).toContain('fc.weight');
    const x = randomTensor([1, 6, 6, 4], 2);
    expect(await maxAbsDiff(a.predict(x) as tf.Tensor, b.predict(x) as tf.Tensor)).toBe(0);
  });

  it('takes keys relative to a single layer', () => {
    const layer = new GroupedConv2D({ filters: 4, kernelSize: 1, groups: 2 });
    layer.build([null, 3, 3, 4]);
    const weight = randomTensor([4, 2, 1, 1], 3);
    loadTorchStateDict(layer, { weight, bias: tf.tensor1d([1, 2, 3, 4]) });
    expect(Array.from(layer.getWeights()[1].dataSync())).toEqual([1, 2, 3, 4]);
    expect(() => loadTorchStateDict(layer, { 'x.weight': weight })).toThrow(/missing key[^]*weight[^]*bias[^]*unused key[^]*x\.weight/);
  });

  it('names layers whose weights have no PyTorch mapping, and keys claimed twice', () => {
    const input = tfl.input({ shape: [4, 4, 2] });
    const out = tfl.layers.depthwiseConv2d({ kernelSize: 3, name: 'dw' }).apply(input) as tfl.SymbolicTensor;
    const model = tfl.model({ inputs: input, outputs: out });
    expect(() => loadTorchStateDict(model, {})).toThrow(/no PyTorch mapping[^]*dw \(DepthwiseConv2D\)/);

    const i2 = tfl.input({ shape: [3] });
    const d1 = tfl.layers.dense({ units: 2, name: 'fc' }).apply(i2) as tfl.SymbolicTensor;
    const inner = tfl.model({ inputs: i2, outputs: d1, name: 'head' });
    const i3 = tfl.input({ shape: [3] });
    const y = tfl.layers.dense({ units: 3, name: 'head.fc' }).apply(i3) as tfl.SymbolicTensor;
    const outer = tfl.model({ inputs: i3, outputs: inner.apply(y) as tfl.SymbolicTensor });
    expect(() => loadTorchStateDict(outer, {})).toThrow(/'head\.fc' and 'fc' both claim the key 'head\.fc\.weight'/);
  });

  it('keeps tf.memory() flat over repeated export/load', () => {
    const model = buildModel();
    const sd = randomStateDict(60);
    loadTorchStateDict(model, sd);
    const before = tf.memory().numTensors;
    for (let i = 0; i < 3; i++) {
      const out = exportTorchStateDict(model);
      loadTorchStateDict(model, out);
      tf.dispose(Object.values(out));
    }
    expect(tf.memory().numTensors).toBe(before);
  });

  it('refuses NaN or infinite weights, naming them, and writes nothing (issue 17, item 4)', async () => {
    const model = buildModel();
    const good = randomStateDict(70);
    loadTorchStateDict(model, good);
    const kept = exportTorchStateDict(model);
    const before = tf.memory().numTensors;
    for (const bad of [NaN, Infinity, -Infinity]) {
      const sd = { ...good, 'fc.weight': tf.fill([5, 8], bad), 'block.1.bias': tf.tensor1d([0, 1, 2, 3, 4, 5, 6, bad]) };
      let error: unknown;
      try {
        loadTorchStateDict(model, sd);
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(WeightsError);
      expect((error as Error).message).toMatch(/2 weight tensor\(s\) hold NaN or infinite values \((block\.1\.bias, fc\.weight|fc\.weight, block\.1\.bias)\).*Nothing was loaded/);
      tf.dispose([sd['fc.weight']!, sd['block.1.bias']!]);
    }
    expect(tf.memory().numTensors).toBe(before);
    const after = exportTorchStateDict(model);
    for (const k of Object.keys(kept)) expect(await maxAbsDiff(after[k]!, kept[k]!), k).toBe(0);
    tf.dispose([...Object.values(kept), ...Object.values(after)]);
  });

  it('refuses integer tensors as weights instead of casting them (issue 17, item 5)', () => {
    const model = buildModel();
    const sd = randomStateDict(80);
    // What an I32 entry of a safetensors file becomes: an int32 tensor of the right shape.
    const file = writeSafetensors({ ...sd, 'conv1.weight': tf.fill([8, 4, 3, 3], 1065353216, 'int32') });
    const read = readSafetensors(file);
    expect(read['conv1.weight']!.dtype).toBe('int32');
    expect(() => loadTorchStateDict(model, read)).toThrow(WeightsError);
    expect(() => loadTorchStateDict(model, read)).toThrow(/1 weight\(s\) of an integer or bool type .*\n\s+conv1\.weight is int32/);
    tf.dispose([...Object.values(sd), ...Object.values(read)]);
  });
});
