import * as tf from '@tensorflow/tfjs-core';
import type { LayerVariable, LayersModel } from '@tensorflow/tfjs-layers';
import { isTorchMapped, type TorchLayout } from '../layers/torch_layer.js';

/** Options of {@link initializeLikeReference}. */
export interface InitializeLikeReferenceOptions {
  /**
   * Seed of the draws (each weight uses `seed + its index`), which makes the whole starting
   * point reproducible: the ConvTranspose2d weights the reference leaves at PyTorch's default
   * are then redrawn from that same default distribution, seeded. Default: unseeded.
   */
  seed?: number;
}

interface Target {
  key: string;
  variable: LayerVariable;
  layout: TorchLayout;
  transposed: boolean;
}

function targets(model: LayersModel): Target[] {
  const out: Target[] = [];
  for (const layer of model.layers) {
    if (isTorchMapped(layer)) {
      // Only the GuideDecoder's convolutions are ConvTranspose2d; the reference's init loop
      // leaves those (not nn.Conv2d) at PyTorch's default except for their bias.
      const transposed = layer.getClassName() === 'GuideDecoder';
      for (const p of layer.torchParams()) out.push({ key: p.key, variable: p.variable, layout: p.layout, transposed });
      continue;
    }
    for (const w of layer.weights) {
      const short = w.originalName.split('/').pop()!;
      if (short === 'kernel') out.push({ key: 'weight', variable: w, layout: w.shape.length === 4 ? 'conv' : 'linear', transposed: false });
      if (short === 'bias') out.push({ key: 'bias', variable: w, layout: 'vector', transposed: false });
    }
  }
  return out;
}

/**
 * Re-initialises a generator or discriminator as the official Tag2Pix code does after building
 * its networks: every `nn.Conv2d` weight ~ N(0, 2 / fan_out) (Kaiming normal, fan-out mode),
 * every `nn.Linear` weight ~ N(0, 2 / fan_in), every bias 0 (including the guide decoder's
 * ConvTranspose2d biases, whose weights keep PyTorch's default uniform init), BatchNorm weight 1.
 * BatchNorm running statistics are left alone; AdaIN's `weight_orig` keeps its N(0, 1) (redrawn
 * from it when seeded), and its bias becomes 0 as in `GD_adain.py`. Returns the number of weights re-drawn or reset.
 *
 * The builders' own initialisation (PyTorch's per-module defaults) also trains; this one
 * reproduces the reference's starting point more closely.
 */
export function initializeLikeReference(model: LayersModel, options: InitializeLikeReferenceOptions = {}): number {
  let changed = 0;
  targets(model).forEach((t, i) => {
    const shape = t.variable.shape as number[];
    const seed = options.seed === undefined ? undefined : options.seed + i;
    let value: tf.Tensor | undefined;
    if (/(^|\.)bias$/.test(t.key) || t.key === 'bias') {
      value = tf.zeros(shape);
    } else if (/\.weight_orig$/.test(t.key)) {
      // AdaIN's style weight: the reference keeps its N(0, 1); redrawn only when seeded.
      if (seed !== undefined) value = tf.randomNormal(shape, 0, 1, 'float32', seed);
    } else if (/(^|\.)weight$/.test(t.key) || t.key === 'weight') {
      if (t.layout === 'vector') value = tf.ones(shape); // BatchNorm weight
      else if (t.layout === 'linear') value = tf.randomNormal(shape, 0, Math.sqrt(2 / shape[0]), 'float32', seed);
      else if (t.layout === 'conv' && !t.transposed) {
        const fanOut = shape[0] * shape[1] * shape[3];
        value = tf.randomNormal(shape, 0, Math.sqrt(2 / fanOut), 'float32', seed);
      } else if (t.layout === 'conv' && t.transposed && seed !== undefined) {
        // Kept at PyTorch's default U(±1/√fan_in), fan_in = out·k² for [k, k, out, in]; redrawn
        // only so that a seeded call leaves nothing unseeded.
        const bound = 1 / Math.sqrt(shape[0] * shape[1] * shape[2]);
        value = tf.randomUniform(shape, -bound, bound, 'float32', seed);
      } else if (t.layout === 'conv1x1AsLinear') {
        // A 1×1 nn.Conv2d stored as [in, out]: fan_out = out.
        value = tf.randomNormal(shape, 0, Math.sqrt(2 / shape[1]), 'float32', seed);
      }
    }
    if (value) {
      t.variable.write(value);
      value.dispose();
      changed++;
    }
  });
  return changed;
}
