import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { describe, expect, it } from 'vitest';
import { gradientsInsideGradient, recomputeInBackward } from '../../src/kernels/recompute.js';
import { ABLATION_BLOCK_KINDS, AblationDecoderBlock } from '../../src/layers/ablation_decoder_block.js';
import { PixelShuffleDecoderBlock, SEResNeXtBottleneck, type SEResNeXtBottleneckArgs } from '../../src/layers/se_resnext.js';
import { buildTag2PixDiscriminator, buildTag2PixGenerator } from '../../src/models/index.js';
import { Tag2PixTrainer } from '../../src/training/trainer.js';
import { checkGradients, randomTensor } from '../helpers/gradcheck.js';
import { maxAbsDiff, saveAndLoad } from '../helpers/roundtrip.js';
import { seedWeights } from '../layers/torch_fixture.js';

// Gradient checkpointing must give the plain path's values, gradients and BatchNorm running
// statistics, keep only the block inputs on the tape, and leak nothing.

/** Largest difference relative to the largest magnitude of `ref`. */
async function relativeDiff(a: tf.Tensor, ref: tf.Tensor): Promise<number> {
  const max = tf.tidy(() => tf.max(tf.abs(ref)));
  const scale = (await max.data())[0]!;
  max.dispose();
  return (await maxAbsDiff(a, ref)) / Math.max(scale, 1e-12);
}

/** Bytes held by the tensors saved on the active tape (distinct tensors). */
function savedBytesOnTape(): number {
  const seen = new Set<number>();
  let bytes = 0;
  for (const node of tf.engine().state.activeTape) {
    for (const t of (node as { saved?: tf.Tensor[] }).saved ?? []) {
      if (!seen.has(t.id)) bytes += t.size * 4;
      seen.add(t.id);
    }
  }
  return bytes;
}

describe('gradientsInsideGradient (tfjs engine internals)', () => {
  it('tfjs still replaces and nulls the outer tape when gradients nest in a backward pass', async () => {
    // If this fails after a tfjs upgrade, gradientsInsideGradient's tape restore may be obsolete
    // or wrong: read engine.gradients/startTape again.
    let depthInBackward = -1;
    let outerTapeWasArray = false;
    let tapeAfterPlainNestedCall: unknown = 'not run';
    const square = tf.customGrad(((x: tf.Tensor, save: tf.GradSaveFunc) => {
      save([x]);
      return {
        value: tf.square(x),
        gradFunc: (dy: tf.Tensor | tf.Tensor[], [saved]: tf.Tensor[]) => {
          const state = tf.engine().state;
          depthInBackward = state.gradientDepth;
          const outer = state.activeTape;
          outerTapeWasArray = Array.isArray(outer);
          const inner = tf.engine().gradients(() => tf.square(saved!), [saved!], dy as tf.Tensor, true);
          tapeAfterPlainNestedCall = state.activeTape;
          state.activeTape = outer; // else the outer call fails, see below
          inner.value.dispose();
          return [inner.grads[0]!];
        },
      };
    }) as unknown as Parameters<typeof tf.customGrad>[0]) as unknown as (x: tf.Tensor) => tf.Tensor;
    const x = tf.tensor1d([1, 2, 3]);
    const [g] = tf.grads((t: tf.Tensor) => tf.sum(square(t)))([x]);
    expect(depthInBackward).toBe(0);
    expect(outerTapeWasArray).toBe(true);
    expect(tapeAfterPlainNestedCall).toBeNull();
    expect(Array.from((await g!.data()))).toEqual([2, 4, 6]);
    tf.dispose([x, g!]);
  });

  it('tape nodes still carry inputs, outputs, gradient and saved tensors', async () => {
    let node: Record<string, unknown> | undefined;
    const x = tf.tensor1d([1, -2]);
    const [g] = tf.grads((t: tf.Tensor) => {
      const y = tf.relu(t);
      node = tf.engine().state.activeTape.at(-1) as unknown as Record<string, unknown>;
      return tf.sum(y);
    })([x]);
    expect(node!['kernelName']).toBe('Relu');
    expect(Object.values(node!['inputs'] as object)[0]).toBe(x);
    expect(Array.isArray(node!['outputs'])).toBe(true);
    expect(typeof node!['gradient']).toBe('function');
    expect((node!['saved'] as tf.Tensor[]).length).toBe(1);
    expect(Array.from((await g!.data()))).toEqual([1, 0]);
    tf.dispose([x, g!]);
  });

  it('accumulates gradients that are the incoming gradient itself without freeing them', async () => {
    // A customGrad whose gradient returns dy unchanged, used twice: the same tensor object is
    // both an output gradient and an input gradient during the pass.
    const passThrough = tf.customGrad(((a: tf.Tensor, save: tf.GradSaveFunc) => {
      save([]);
      return { value: tf.clone(a), gradFunc: (dy: tf.Tensor | tf.Tensor[]) => [dy as tf.Tensor] };
    }) as unknown as Parameters<typeof tf.customGrad>[0]) as unknown as (a: tf.Tensor) => tf.Tensor;
    const x = tf.tensor1d([1, 2, 3]);
    const f = (t: tf.Tensor) =>
      tf.sum(recomputeInBackward(([a]) => tf.mul(tf.add(passThrough(passThrough(a!)), passThrough(a!)), 3), [t], []));
    const [g] = tf.grads(f)([x]);
    expect(Array.from((await g!.data()))).toEqual([6, 6, 6]);
    g!.dispose();
    const before = tf.memory().numTensors;
    tf.dispose(tf.grads(f)([x]));
    expect(tf.memory().numTensors).toBe(before);
    x.dispose();
  });

  it('restores the outer tape: nested gradients give the right values and leak nothing', async () => {
    const x = tf.tensor1d([0.5, -1, 2]);
    const w = tf.variable(tf.tensor1d([3, 1, -2]));
    // y = sum(w · x³), differentiated inside the gradient of a recomputed block.
    const f = (t: tf.Tensor) =>
      tf.sum(tf.mul(recomputeInBackward(([a]) => tf.mul(tf.pow(a!, 3), w), [t], [w]), 2));
    const run = () => tf.variableGrads(() => f(x) as tf.Scalar, [w]);
    const first = run();
    // d/dw of 2·sum(w·x³) = 2x³.
    expect(Array.from((await first.grads[w.name]!.data()))).toEqual([0.25, -2, 16]);
    tf.dispose([first.value, ...Object.values(first.grads)]);
    const [gx] = tf.grads((t: tf.Tensor) => f(t))([x]);
    // d/dx = 6·w·x².
    expect(Array.from((await gx!.data()))).toEqual([4.5, 6, -48]);
    gx!.dispose();
    const before = tf.memory().numTensors;
    for (let i = 0; i < 3; i++) {
      const r = run();
      tf.dispose([r.value, ...Object.values(r.grads)]);
    }
    expect(tf.memory().numTensors).toBe(before);
    expect(tf.engine().state.gradientDepth).toBe(0);
    tf.dispose([x, w]);
  });

  it('gives zeros for inputs and variables that do not reach the output', async () => {
    const x = tf.tensor1d([1, 2]);
    const unused = tf.tensor1d([5, 6, 7]);
    const w = tf.variable(tf.tensor1d([3, 4]));
    const idle = tf.variable(tf.tensor2d([[1, 2]]));
    const r = tf.variableGrads(
      () => tf.sum(recomputeInBackward(([a]) => tf.mul(a!, w), [x, unused], [w, idle])) as tf.Scalar,
      [w, idle],
    );
    expect(Array.from((await r.grads[w.name]!.data()))).toEqual([1, 2]);
    expect(r.grads[idle.name]!.shape).toEqual([1, 2]);
    expect(Array.from((await r.grads[idle.name]!.data()))).toEqual([0, 0]);
    const [gx, gu] = tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.sum(recomputeInBackward(([p]) => tf.mul(p!, w), [a, b], [w])))([x, unused]);
    expect(Array.from((await gx!.data()))).toEqual([3, 4]);
    expect(Array.from((await gu!.data()))).toEqual([0, 0, 0]);
    tf.dispose([x, unused, w, idle, r.value, ...Object.values(r.grads), gx!, gu!]);
  });

  it('refuses higher-order gradients with a clear message', () => {
    const x = tf.tensor1d([1, 2]);
    const inner = (t: tf.Tensor) => tf.sum(recomputeInBackward(([a]) => tf.square(a!), [t], []));
    expect(() => tf.grads((t: tf.Tensor) => tf.sum(tf.grads(inner)([t])[0]!))([x])).toThrow(/cannot be differentiated twice/);
    x.dispose();
  });

  it('without a gradient tape runs the forward once, as a plain call', async () => {
    const x = tf.tensor1d([1, 2]);
    let calls = 0;
    const y = recomputeInBackward(([a]) => {
      calls++;
      return tf.neg(a!);
    }, [x], []);
    expect(calls).toBe(1);
    expect(Array.from((await y.data()))).toEqual([-1, -2]);
    tf.dispose([x, y]);
  });
});

interface Case {
  what: string;
  args: SEResNeXtBottleneckArgs;
  x: number[];
  tag?: number;
}

const CASES: Case[] = [
  { what: "'se', identity residual", args: { filters: 32, width: 8, cardinality: 4, reduction: 4 }, x: [2, 5, 6, 32] },
  { what: "'se', projection", args: { filters: 32, width: 8, cardinality: 2, reduction: 4 }, x: [2, 5, 5, 16] },
  { what: "'se', stride 2", args: { filters: 32, width: 8, cardinality: 8, reduction: 4, strides: 2 }, x: [2, 7, 6, 32] },
  { what: "'secat', identity residual", args: { filters: 32, width: 8, cardinality: 4, reduction: 4, excitation: 'secat' }, x: [2, 4, 5, 32], tag: 5 },
  { what: "'secat', projection, stride 2", args: { filters: 32, width: 16, cardinality: 4, reduction: 8, excitation: 'secat', strides: 2 }, x: [3, 6, 6, 16], tag: 7 },
  { what: "'se-conv' (biases), projection, stride 2", args: { filters: 16, width: 8, cardinality: 4, reduction: 4, excitation: 'se-conv', strides: 2 }, x: [2, 5, 5, 8] },
  { what: 'no BatchNorm', args: { filters: 16, width: 8, cardinality: 2, reduction: 4, batchNorm: false }, x: [2, 4, 4, 16] },
];

/** A plain and a recomputed bottleneck with the same (seeded) weights. */
function twins(c: Case, seed: number): { plain: SEResNeXtBottleneck; recomputed: SEResNeXtBottleneck; inputs: tf.Tensor[] } {
  const inputs = [randomTensor(c.x, seed)];
  if (c.tag) inputs.push(randomTensor([c.x[0]!, c.tag], seed + 1, 0, 1));
  const plain = new SEResNeXtBottleneck(c.args);
  const recomputed = new SEResNeXtBottleneck({ ...c.args, recompute: true });
  const shapes = inputs.map((t) => t.shape);
  plain.build(shapes.length === 1 ? shapes[0]! : shapes);
  recomputed.build(shapes.length === 1 ? shapes[0]! : shapes);
  seedWeights(plain, seed);
  recomputed.setWeights(plain.getWeights());
  return { plain, recomputed, inputs };
}

/** Copies of a layer's weights (getWeights returns the live variables). */
function weightValues(layer: tfl.layers.Layer): tf.Tensor[] {
  return layer.getWeights().map((w) => tf.clone(w));
}

/** The output shape of a built layer for concrete inputs. */
function outputShape(layer: tfl.layers.Layer, inputs: tf.Tensor[]): number[] {
  const shapes = inputs.map((t) => t.shape);
  return layer.computeOutputShape(shapes.length === 1 ? shapes[0]! : shapes) as number[];
}

/** Output, gradients w.r.t. the inputs and every trainable weight, and the weights after. */
function trainingCall(layer: tfl.layers.Layer, inputs: tf.Tensor[], probe: tf.Tensor) {
  const xs = inputs.map((t) => tf.variable(t));
  const weights = layer.trainableWeights.map((w) => w.read() as tf.Variable);
  let output: tf.Tensor | undefined;
  const { value, grads } = tf.variableGrads(() => {
    const y = layer.apply(xs.length === 1 ? xs[0]! : xs, { training: true }) as tf.Tensor;
    output = tf.keep(y);
    return tf.sum(tf.mul(y, probe)) as tf.Scalar;
  }, [...xs, ...weights]);
  const ordered = [...xs, ...weights].map((v) => grads[v.name]!);
  const after = weightValues(layer);
  tf.dispose([value, ...xs]);
  return { output: output!, grads: ordered, weightsAfter: after };
}

describe('applyBottleneckRecomputed vs applyBottleneck', () => {
  for (const [i, c] of CASES.entries()) {
    it(`${c.what}: same output, gradients (x, tag, every weight) and running statistics`, async () => {
      const { plain, recomputed, inputs } = twins(c, 11 + 7 * i);
      const probe = randomTensor(outputShape(plain, inputs), 99);
      const a = trainingCall(plain, inputs, probe);
      const b = trainingCall(recomputed, inputs, probe);
      expect(b.output.shape).toEqual(a.output.shape);
      expect(await relativeDiff(b.output, a.output)).toBeLessThanOrEqual(1e-6);
      expect(b.grads.length).toBe(inputs.length + plain.trainableWeights.length);
      for (const [k, g] of b.grads.entries()) {
        expect(g.shape).toEqual(a.grads[k]!.shape);
        expect(await relativeDiff(g, a.grads[k]!), `gradient ${k}`).toBeLessThanOrEqual(1e-5);
      }
      // Running statistics (and every other weight) after one training step: updated once.
      for (const [k, w] of a.weightsAfter.entries()) {
        expect(await maxAbsDiff(b.weightsAfter[k]!, w), plain.weights[k]!.originalName).toBeLessThanOrEqual(1e-6);
      }
      tf.dispose([probe, ...inputs, a.output, b.output, ...a.grads, ...b.grads, ...a.weightsAfter, ...b.weightsAfter]);
      for (const w of [...plain.weights, ...recomputed.weights]) w.dispose();
    });
  }

  it('updates the running statistics exactly once per training step', async () => {
    const c = CASES[4]!;
    const { recomputed, inputs } = twins(c, 5);
    const runningKeys = recomputed.weights.map((w, k) => [w.originalName, k] as const).filter(([n]) => /running_/.test(n));
    expect(runningKeys.length).toBe(8);
    const before = weightValues(recomputed);
    const probe = randomTensor(outputShape(recomputed, inputs), 3);
    const r = trainingCall(recomputed, inputs, probe);
    // The forward alone (no tape) must move them the same way: momentum 0.1 applied once.
    const single = new SEResNeXtBottleneck({ ...c.args });
    single.build(inputs.map((t) => t.shape));
    single.setWeights(before);
    tf.dispose(single.apply(inputs, { training: true }) as tf.Tensor);
    const once = weightValues(single);
    for (const [name, k] of runningKeys) {
      expect(await maxAbsDiff(r.weightsAfter[k]!, once[k]!), name).toBeLessThanOrEqual(1e-7);
      expect(await maxAbsDiff(r.weightsAfter[k]!, before[k]!), `${name} moved`).toBeGreaterThan(1e-4);
    }
    tf.dispose([probe, ...inputs, r.output, ...r.grads, ...r.weightsAfter, ...before, ...once]);
  });

  it('passes a finite-difference gradient check in training mode', async () => {
    const layer = new SEResNeXtBottleneck({ filters: 16, cardinality: 2, reduction: 4, excitation: 'secat', recompute: true });
    const x = randomTensor([2, 3, 4, 8], 7);
    const tag = randomTensor([2, 3], 6);
    layer.apply([x, tag]);
    seedWeights(layer, 2);
    const n = await checkGradients(
      (xs) => layer.apply(xs, { training: true }) as tf.Tensor,
      [x, tag],
      layer.trainableWeights,
      { eps: 1e-3, rtol: 0.05, samples: 4 },
    );
    expect(n).toBeGreaterThan(50);
    tf.dispose([x, tag]);
  });

  it('inference calls take the plain path and give identical outputs', async () => {
    const { plain, recomputed, inputs } = twins(CASES[3]!, 21);
    expect(await maxAbsDiff(recomputed.apply(inputs) as tf.Tensor, plain.apply(inputs) as tf.Tensor)).toBe(0);
  });
});

describe('recompute in every ablation decoder block (one bottleneck, other strategies)', () => {
  for (const [i, block] of ABLATION_BLOCK_KINDS.entries()) {
    it(`${block}: same output, gradients (x, tag, every weight) and running statistics as the plain path`, async () => {
      // Two bottlenecks, the first projecting: both residual paths, the tag (where the kind reads
      // it) in every bottleneck; AdaIN's instance norm and the concatenations included.
      const args = { block, filters: 32, blocks: 2, cardinality: 4, reduction: 4 };
      const plain = new AblationDecoderBlock(args);
      const recomputed = new AblationDecoderBlock({ ...args, recompute: true });
      expect(recomputed.recompute).toBe(true);
      const inputs = [randomTensor([2, 3, 4, 16], 31 + i)];
      if (plain.takesTag) inputs.push(randomTensor([2, 16], 41 + i, 0, 1));
      const shapes = inputs.map((t) => t.shape);
      plain.build(shapes.length === 1 ? shapes[0]! : shapes);
      recomputed.build(shapes.length === 1 ? shapes[0]! : shapes);
      seedWeights(plain, 5 + i);
      recomputed.setWeights(plain.getWeights());
      const probe = randomTensor(outputShape(plain, inputs), 97);
      const a = trainingCall(plain, inputs, probe);
      const b = trainingCall(recomputed, inputs, probe);
      expect(await relativeDiff(b.output, a.output)).toBeLessThanOrEqual(1e-6);
      expect(b.grads.length).toBe(inputs.length + plain.trainableWeights.length);
      for (const [k, g] of b.grads.entries()) {
        expect(await relativeDiff(g, a.grads[k]!), `gradient ${k}`).toBeLessThanOrEqual(1e-5);
      }
      for (const [k, w] of a.weightsAfter.entries()) {
        expect(await maxAbsDiff(b.weightsAfter[k]!, w), plain.weights[k]!.originalName).toBeLessThanOrEqual(1e-6);
      }
      // The recomputed bottlenecks keep only their inputs on the tape.
      const tapeBytes = (layer: AblationDecoderBlock) => {
        let saved = 0;
        const weights = layer.trainableWeights.map((w) => w.read() as tf.Variable);
        const r = tf.variableGrads(() => {
          const y = layer.apply(inputs.length === 1 ? inputs[0]! : inputs, { training: true }) as tf.Tensor;
          saved = savedBytesOnTape();
          return tf.sum(y) as tf.Scalar;
        }, weights);
        tf.dispose([r.value, ...Object.values(r.grads)]);
        return saved;
      };
      expect(tapeBytes(recomputed)).toBeLessThan(tapeBytes(plain) / 3);
      tf.dispose([probe, ...inputs, a.output, b.output, ...a.grads, ...b.grads, ...a.weightsAfter, ...b.weightsAfter]);
      for (const w of [...plain.weights, ...recomputed.weights]) w.dispose();
    });
  }
});

describe('recompute: tape and memory', () => {
  it('a recomputed bottleneck leaves only its inputs on the tape', () => {
    for (const c of [CASES[1]!, CASES[4]!]) {
      const { plain, recomputed, inputs } = twins(c, 3);
      const inputBytes = inputs.reduce((s, t) => s + t.size * 4, 0);
      const measure = (layer: SEResNeXtBottleneck) => {
        let bytes = 0;
        const weights = layer.trainableWeights.map((w) => w.read() as tf.Variable);
        const r = tf.variableGrads(() => {
          const y = layer.apply(inputs.length === 1 ? inputs[0]! : inputs, { training: true }) as tf.Tensor;
          bytes = savedBytesOnTape();
          return tf.sum(y) as tf.Scalar;
        }, weights);
        tf.dispose([r.value, ...Object.values(r.grads)]);
        return bytes;
      };
      expect(measure(recomputed)).toBe(inputBytes);
      // The plain bottleneck keeps every BatchNorm's, conv's and ReLU's tensors.
      expect(measure(plain)).toBeGreaterThan(4 * inputBytes);
    }
  });

  it('lowers the peak of a training step through a stack of bottlenecks, by keeping only block inputs (tf.profile peak bytes)', async () => {
    // Measured across a stack, on every backend: within one bottleneck the recomputed backward
    // rebuilds the tape the plain forward kept, so one block alone shows no gain where that tape
    // is small already (webgpu's fused programs: 1.50 vs 1.52 MB for one block; the composed ops
    // of cpu and wasm keep more, 2.1 vs 3.9 MB). What recompute promises is that each further
    // block adds its inputs, not its tape.
    const inputs = [randomTensor([2, 12, 12, 64], 8), randomTensor([2, 4], 9, 0, 1)];
    const activation = inputs[0]!.size * 4;
    const peak = async (blocks: number, recompute: boolean) => {
      const block = new PixelShuffleDecoderBlock({ filters: 64, blocks, cardinality: 4, reduction: 4, recompute });
      tf.dispose(block.apply(inputs) as tf.Tensor);
      const weights = block.trainableWeights.map((w) => w.read() as tf.Variable);
      const step = () => {
        const r = tf.variableGrads(() => tf.sum(block.apply(inputs, { training: true }) as tf.Tensor) as tf.Scalar, weights);
        tf.dispose([r.value, ...Object.values(r.grads)]);
      };
      step();
      const base = tf.memory().numBytes;
      const info = await tf.profile(step);
      tf.dispose(block.getWeights());
      return info.peakBytes - base;
    };
    const plain = [await peak(1, false), await peak(4, false)];
    const recomputed = [await peak(1, true), await peak(4, true)];
    // Measured (bytes, activation 73,728): cpu and wasm plain 3.94M / 13.2M, recomputed 2.13M /
    // 2.63M; webgpu plain 1.52M / 4.53M, recomputed 1.50M / 2.00M.
    expect(plain[1]!).toBeGreaterThan(30 * activation);
    expect(recomputed[1]!).toBeLessThan(0.6 * plain[1]!);
    // Per further block: about two activations with recompute (its input and output), its whole
    // tape without (webgpu 13.6 activations, cpu and wasm 42).
    const perBlock = (p: number[]) => (p[1]! - p[0]!) / 3;
    expect(perBlock(recomputed)).toBeLessThan(3 * activation);
    expect(perBlock(recomputed)).toBeLessThan(0.25 * perBlock(plain));
    tf.dispose(inputs);
  });

  it('keeps tf.memory() flat over repeated variableGrads through recomputed decoder blocks', () => {
    const block = new PixelShuffleDecoderBlock({ filters: 16, blocks: 2, cardinality: 2, reduction: 4, recompute: true });
    const inputs = [randomTensor([2, 3, 3, 6], 14), randomTensor([2, 3], 15)];
    block.apply(inputs);
    const weights = block.trainableWeights.map((w) => w.read() as tf.Variable);
    const step = () => {
      const r = tf.variableGrads(() => tf.sum(block.apply(inputs, { training: true }) as tf.Tensor) as tf.Scalar, weights);
      expect(Object.keys(r.grads).length).toBe(weights.length);
      tf.dispose([r.value, ...Object.values(r.grads)]);
    };
    step();
    const before = tf.memory().numTensors;
    for (let i = 0; i < 4; i++) step();
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose(inputs);
  });
});

describe('recompute option: models, trainer, serialisation', () => {
  it('a generator and discriminator built with recompute train exactly like the plain ones', async () => {
    const size = 32;
    const gConfig = { inputSize: size, decoderLayers: [1, 1, 1, 1] as [number, number, number, number], widthMultiplier: 0.25, citChannels: 8 };
    const dConfig = { inputSize: size, widthMultiplier: 0.25, cvtCount: 5, citCount: 6 };
    const G1 = buildTag2PixGenerator({ ...gConfig, cvtCount: 5, citCount: 6 });
    const D1 = buildTag2PixDiscriminator(dConfig);
    const G2 = buildTag2PixGenerator({ ...gConfig, cvtCount: 5, citCount: 6, recompute: true });
    const D2 = buildTag2PixDiscriminator({ ...dConfig, recompute: true });
    G2.setWeights(G1.getWeights());
    D2.setWeights(D1.getWeights());
    const t1 = new Tag2PixTrainer({ generator: G1, discriminator: D1 });
    const t2 = new Tag2PixTrainer({ generator: G2, discriminator: D2 });
    const batch = (seed: number) => {
      const r = (shape: number[], s: number) => tf.randomUniform(shape, 0, 1, 'float32', seed * 13 + s);
      return {
        lineArt: r([2, size, size, 1], 1) as tf.Tensor4D,
        color: tf.sub(tf.mul(r([2, size, size, 3], 2), 2), 1) as tf.Tensor4D,
        citFeatures: r([2, size / 8, size / 8, 8], 3) as tf.Tensor4D,
        cit: tf.round(r([2, 6], 4)) as tf.Tensor2D,
        cvt: tf.round(r([2, 5], 5)) as tf.Tensor2D,
      };
    };
    for (const seed of [1, 2]) {
      const b = batch(seed);
      const a = await t1.trainStep(b);
      const c = await t2.trainStep(b);
      for (const side of ['discriminator', 'generator'] as const) {
        for (const [term, v] of Object.entries(a[side])) {
          const w = (c[side] as Record<string, number>)[term]!;
          expect(Math.abs(w - (v as number)), `${side} ${term}`).toBeLessThanOrEqual(1e-5 * Math.max(1, Math.abs(v as number)));
        }
      }
      tf.dispose(Object.values(b));
    }
    // Weights, including BatchNorm running statistics, after two Adam steps.
    for (const [m1, m2] of [[G1, G2], [D1, D2]] as const) {
      const w1 = m1.getWeights();
      const w2 = m2.getWeights();
      let worst = 0;
      for (const [k, w] of w1.entries()) worst = Math.max(worst, await maxAbsDiff(w2[k]!, w));
      expect(worst, m1.name).toBeLessThanOrEqual(1e-5);
    }
    t1.dispose();
    t2.dispose();
    for (const m of [G1, G2, D1, D2]) m.dispose();
  });

  it('round-trips the recompute argument through save/load', async () => {
    const x = tfl.input({ shape: [4, 4, 16] });
    const tag = tfl.input({ shape: [3] });
    const bottleneck = new SEResNeXtBottleneck({ name: 'b', filters: 16, cardinality: 2, reduction: 4, excitation: 'secat', recompute: true });
    const block = new PixelShuffleDecoderBlock({ name: 'd', filters: 16, blocks: 1, cardinality: 2, reduction: 4, recompute: true });
    const y = block.apply([bottleneck.apply([x, tag]) as tfl.SymbolicTensor, tag]) as tfl.SymbolicTensor;
    const model = tfl.model({ inputs: [x, tag], outputs: y });
    const restored = await saveAndLoad(model);
    expect((restored.getLayer('b') as SEResNeXtBottleneck).recompute).toBe(true);
    expect((restored.getLayer('d') as PixelShuffleDecoderBlock).recompute).toBe(true);
    expect(new SEResNeXtBottleneck({ filters: 64 }).getConfig()['recompute']).toBe(false);
    expect(new PixelShuffleDecoderBlock({ filters: 64, blocks: 1 }).getConfig()['recompute']).toBe(false);
    const inputs = [randomTensor([2, 4, 4, 16], 1), randomTensor([2, 3], 2)];
    expect(await maxAbsDiff(restored.predict(inputs) as tf.Tensor, model.predict(inputs) as tf.Tensor)).toBe(0);
    tf.dispose(inputs);
  });

  it('builds every decoder block with recompute, and rejects a recompute that is not a boolean', () => {
    for (const decoderBlock of ABLATION_BLOCK_KINDS) {
      const g = buildTag2PixGenerator({ inputSize: 32, widthMultiplier: 0.25, decoderLayers: [1, 1, 1, 1], decoderBlock, recompute: true });
      expect((g.getLayer('deconv1') as AblationDecoderBlock).recompute, decoderBlock).toBe(true);
      g.dispose();
    }
    expect(() => buildTag2PixGenerator({ recompute: 'yes' as unknown as boolean })).toThrow(/recompute must be true or false/);
    expect(() => buildTag2PixDiscriminator({ recompute: 1 as unknown as boolean })).toThrow(/recompute must be true or false/);
  });
});
