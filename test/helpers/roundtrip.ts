import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import type { io } from '@tensorflow/tfjs-core';
import { expect } from 'vitest';

/**
 * Saves a model to memory (topology JSON + weights) and loads it back, as a user would with
 * `tf.io.withSaveHandler` / `tf.io.fromMemory`. Returns the restored model.
 */
export async function saveAndLoad(model: tfl.LayersModel): Promise<tfl.LayersModel> {
  let saved: io.ModelArtifacts | undefined;
  await model.save(
    tf.io.withSaveHandler(async (artifacts) => {
      saved = artifacts;
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
    }),
  );
  // The topology goes through a JSON string, as it would on disk.
  const artifacts = JSON.parse(
    JSON.stringify({ ...saved!, weightData: undefined }),
  ) as io.ModelArtifacts;
  artifacts.weightData = saved!.weightData;
  return tfl.loadLayersModel(tf.io.fromMemory(artifacts));
}

/**
 * Largest absolute difference between two tensors (or lists of tensors), read asynchronously so
 * it runs on every backend (webgpu in Node has no synchronous read).
 */
export async function maxAbsDiff(a: tf.Tensor | tf.Tensor[], b: tf.Tensor | tf.Tensor[]): Promise<number> {
  const as = Array.isArray(a) ? a : [a];
  const bs = Array.isArray(b) ? b : [b];
  if (as.length !== bs.length) throw new Error(`maxAbsDiff: ${as.length} vs ${bs.length} tensors`);
  let m = 0;
  for (const [i, t] of as.entries()) {
    if (t.shape.join(',') !== bs[i].shape.join(',')) {
      throw new Error(`maxAbsDiff: shapes [${t.shape}] vs [${bs[i].shape}]`);
    }
    const d = tf.tidy(() => tf.max(tf.abs(tf.sub(t, bs[i]))));
    m = Math.max(m, (await d.data())[0]!);
    d.dispose();
  }
  return m;
}

/**
 * The save/load round trip every layer test makes: `layer` in a one-layer model on inputs of
 * `inputShape` (without the batch), saved and loaded back, is restored as its own class and
 * gives exactly the same outputs on `x`. Returns the restored layer, for checks of its config.
 */
export async function expectLayerRoundTrip(
  layer: tfl.layers.Layer,
  inputShape: number[],
  x: tf.Tensor,
): Promise<tfl.layers.Layer> {
  const input = tfl.input({ shape: inputShape });
  const outputs = layer.apply(input) as tfl.SymbolicTensor | tfl.SymbolicTensor[];
  const model = tfl.model({ inputs: input, outputs });
  const restored = await saveAndLoad(model);
  expect(restored.layers[1]).toBeInstanceOf(layer.constructor);
  expect(await maxAbsDiff(model.predict(x) as tf.Tensor | tf.Tensor[], restored.predict(x) as tf.Tensor | tf.Tensor[])).toBe(0);
  return restored.layers[1]!;
}

/** Largest |a − b| over max(|b|, 1e-6), read asynchronously. */
export async function relativeDiff(a: tf.Tensor, b: tf.Tensor): Promise<number> {
  const both = tf.tidy(() => tf.stack([tf.max(tf.abs(tf.sub(a, b))), tf.max(tf.abs(b))]));
  const [diff, scale] = await both.data();
  both.dispose();
  return diff! / Math.max(scale!, 1e-6);
}
