import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { describe, expect, it } from 'vitest';
import { AblationDecoderBlock, type AblationBlockKind } from '../../src/index.js';
import { checkGradients, randomTensor } from '../helpers/gradcheck.js';
import { expectNoTensorLeak } from '../helpers/memory.js';
import { randomizeTrainableWeights } from '../helpers/randomize.js';
import { maxAbsDiff, saveAndLoad } from '../helpers/roundtrip.js';

const KINDS: AblationBlockKind[] = ['resnext', 'se-resnext', 'concat-front', 'concat-all', 'adain'];
const takesTag = (k: AblationBlockKind) => k !== 'resnext' && k !== 'se-resnext';
// Input seed of the gradient checks. ReLU (and, for AdaIN, instance-norm) nets have kinks and
// strong curvature, so a finite-difference step of 1e-3 straddles a kink for some inputs; this
// seed is one where none does, for every block (smaller steps agree with the analytic gradients
// too but drown small gradients in float32 rounding).
const GRAD_SEED = 3;

function apply(layer: AblationDecoderBlock, x: tf.Tensor, tag: tf.Tensor, kwargs?: object): tf.Tensor {
  return layer.apply(takesTag(layer.block) ? [x, tag] : x, kwargs) as tf.Tensor;
}

describe('AblationDecoderBlock', () => {
  it('keys follow the official GD_*.py modules', () => {
    const keysOf = (block: AblationBlockKind) => {
      const layer = new AblationDecoderBlock({ block, filters: 64, blocks: 2 });
      apply(layer, tf.zeros([1, 4, 4, 24]), tf.zeros([1, 16]));
      return layer.torchParams().map((p) => `${p.key} ${JSON.stringify(p.variable.shape)}`);
    };
    const resnext = keysOf('resnext');
    expect(resnext).toContain('secat_layer.0.conv1.weight [1,1,24,16]');
    expect(resnext).toContain('secat_layer.0.downsample.0.weight [1,1,24,64]');
    expect(resnext.some((k) => k.includes('selayer'))).toBe(false);
    const se = keysOf('se-resnext');
    expect(se).toContain('0.1.selayer.fc.0.weight [64,4]');
    expect(se).toContain('0.0.downsample.1.running_var [64]');
    const front = keysOf('concat-front');
    expect(front).toContain('secat_layer.0.conv1.weight [1,1,40,16]'); // 24 + 16 tag channels
    expect(front).toContain('secat_layer.1.conv1.weight [1,1,80,16]');
    expect(front).toContain('secat_layer.0.conv2.weight [3,3,1,16]');
    expect(front).toContain('secat_layer.0.downsample.0.weight [1,1,24,64]');
    const all = keysOf('concat-all');
    expect(all).toContain('secat_layer.0.conv2.weight [3,3,2,16]'); // (16 + 16) / 16 groups
    expect(all).toContain('secat_layer.0.conv3.weight [1,1,32,64]');
    const adain = keysOf('adain');
    expect(adain).toContain('secat_layer.0.adain1.style.linear.weight_orig [16,32]');
    expect(adain).toContain('secat_layer.0.adain3.style.linear.bias [128]');
    expect(adain.some((k) => /bn\d|downsample/.test(k))).toBe(false);
  });

  for (const block of KINDS) {
    it(`${block}: shapes, finite-difference gradients and a save/load round trip`, async () => {
      const layer = new AblationDecoderBlock({ block, filters: 64, blocks: 2 });
      const x = randomTensor([2, 3, 3, 8], 1, 0, 1);
      const tag = randomTensor([2, 16], 2);
      const y = apply(layer, x, tag);
      expect(y.shape).toEqual([2, 6, 6, 16]);
      const computed = layer.computeOutputShape(takesTag(block) ? [[null, 3, 3, 8], [null, 16]] : [null, 3, 3, 8]);
      expect(computed).toEqual([null, 6, 6, 16]);

      // A narrow block (4 groups of 1, SE hidden 4) keeps the checked loss small, so float32
      // rounding stays well below the finite differences, on cpu and wasm. Without BatchNorm
      // (BatchNorm itself is checked with the bottleneck layers) no ReLU layer is switched off
      // wholesale by a BatchNorm shift, which would leave only rounding noise to compare.
      const narrow = new AblationDecoderBlock({ block, filters: 16, blocks: 2, cardinality: 4, reduction: 4, batchNorm: block === 'adain' });
      const gx = randomTensor([2, 2, 2, 8], GRAD_SEED, 0, 1);
      const gtag = randomTensor([2, 8], GRAD_SEED + 1);
      apply(narrow, gx, gtag);
      randomizeTrainableWeights(narrow, 10, 0.5);
      const inputs = takesTag(block) ? [gx, gtag] : [gx];
      // The convs and AdaIN Linears are this layer's wiring; the SE Linears (whose gradients are
      // tiny behind the sigmoid) are checked with the SE layers.
      const wired = narrow.trainableWeights.filter((w) => /conv\d\.weight|downsample\.0|adain\d\.style/.test(w.originalName));
      const n = await checkGradients((xs) => apply(narrow, xs[0], xs[1] ?? gtag), inputs, wired, {
        eps: 1e-3,
        samples: 3,
        rtol: 5e-2,
      });
      expect(n).toBeGreaterThan(15);

      const xIn = tfl.input({ shape: [3, 3, 8] });
      const tagIn = tfl.input({ shape: [16] });
      const out = new AblationDecoderBlock({ block, filters: 64, blocks: 1 }).apply(takesTag(block) ? [xIn, tagIn] : xIn) as tfl.SymbolicTensor;
      const model = tfl.model({ inputs: takesTag(block) ? [xIn, tagIn] : xIn, outputs: out });
      const restored = await saveAndLoad(model);
      const feed = takesTag(block) ? [x, tag] : x;
      expect(await maxAbsDiff(model.predict(feed) as tf.Tensor, restored.predict(feed) as tf.Tensor)).toBe(0);
    });
  }

  it('the tag changes the output of the tag-fed blocks only', async () => {
    const x = randomTensor([1, 3, 3, 8], 3, 0, 1);
    for (const block of KINDS) {
      const layer = new AblationDecoderBlock({ block, filters: 64, blocks: 1 });
      const a = apply(layer, x, tf.zeros([1, 16]));
      const b = apply(layer, x, tf.ones([1, 16]));
      if (takesTag(block)) expect(await maxAbsDiff(a, b), block).toBeGreaterThan(1e-4);
      expect(() => layer.apply(takesTag(block) ? x : [x, tf.zeros([1, 16])])).toThrow(takesTag(block) ? /two inputs \[features, tag\]/ : /takes only the features/);
    }
  });

  it('adain normalises each instance: scaling the input does not change the output', async () => {
    const x = randomTensor([2, 4, 4, 8], 4, 0, 1);
    const tag = randomTensor([2, 16], 5);
    const adain = new AblationDecoderBlock({ block: 'adain', filters: 64, blocks: 1 });
    apply(adain, x, tag);
    // O(1) weights keep every instance variance far above the norm's epsilon (1e-5).
    randomizeTrainableWeights(adain, 7);
    expect(await maxAbsDiff(apply(adain, x, tag), apply(adain, tf.mul(x, 3), tag))).toBeLessThan(1e-4);
    const resnext = new AblationDecoderBlock({ block: 'resnext', filters: 64, blocks: 1 });
    expect(await maxAbsDiff(apply(resnext, x, tag), apply(resnext, tf.mul(x, 3), tag))).toBeGreaterThan(1e-3);
  });

  it('rejects bad arguments with a clear message, and does not leak', () => {
    expect(() => new AblationDecoderBlock({ block: 'film' as never, filters: 64, blocks: 1 })).toThrow(/block must be one of/);
    expect(() => new AblationDecoderBlock({ block: 'resnext', filters: 40, blocks: 1 })).toThrow(/4 × a multiple of cardinality/);
    const layer = new AblationDecoderBlock({ block: 'concat-all', filters: 64, blocks: 2 });
    const x = randomTensor([1, 3, 3, 8], 6);
    const tag = tf.zeros([1, 16]);
    expectNoTensorLeak(() => {
      tf.dispose(apply(layer, x, tag));
      tf.dispose(apply(layer, x, tag, { training: true }));
    });
  });
});
