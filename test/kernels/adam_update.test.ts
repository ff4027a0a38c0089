import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { initBackend } from '../../src/node/backend.js';
import { adamUpdate } from '../../src/ops/adam_update.js';
import { FUSED_ADAM } from '../../src/kernels/adam_update.js';

const c = { beta1: 0.5, beta2: 0.999, epsilon: 1e-8, biasCorrection2Sqrt: Math.sqrt(1 - 0.999 ** 3), stepSize: 2e-4 / (1 - 0.5 ** 3) };

/** TorchAdam's composition of ops, as it was before the fused kernel. */
function composed(p: tf.Tensor, m: tf.Tensor, v: tf.Tensor, g: tf.Tensor): tf.Tensor[] {
  const m1 = tf.add(tf.mul(m, c.beta1), tf.mul(g, 1 - c.beta1));
  const v1 = tf.add(tf.mul(v, c.beta2), tf.mul(tf.mul(g, g), 1 - c.beta2));
  const d = tf.add(tf.div(tf.sqrt(v1), c.biasCorrection2Sqrt), c.epsilon);
  return [tf.sub(p, tf.mul(tf.div(m1, d), c.stepSize)), m1, v1];
}

describe.each(['cpu', 'wasm'])('fused Adam update on %s', (backend) => {
  it('equals the composition bit for bit, in one kernel call for a small parameter, and leaks nothing', async () => {
    await initBackend(backend);
    expect(tf.getKernel(FUSED_ADAM, backend)).toBeDefined();
    const [p, m, v, g] = [1, 2, 3, 4].map((s) => tf.randomNormal([7, 5, 3], 0, s === 3 ? 0.01 : 1, 'float32', s));
    const vAbs = tf.abs(v!);
    const before = tf.memory().numTensors;
    let calls = 0;
    const profile = await tf.profile(() => {
      const ours = adamUpdate(p!, m!, vAbs, g!, c);
      const theirs = tf.tidy(() => composed(p!, m!, vAbs, g!));
      for (let i = 0; i < 3; i++) expect(Array.from(ours[i]!.dataSync())).toEqual(Array.from(theirs[i]!.dataSync()));
      tf.dispose([...ours, ...theirs]);
    });
    calls = profile.kernels.filter((k) => k.name === FUSED_ADAM).length;
    expect(calls).toBe(1);
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([p!, m!, v!, g!, vAbs]);
  });

  it('takes the fused kernel for a large parameter too (SIMD WebAssembly on wasm), bit for bit', async () => {
    await initBackend(backend);
    // 50,003 elements: above the JavaScript loop's limit on wasm, and not a multiple of 4.
    const [p, m, v, g] = [1, 2, 3, 4].map((s) => tf.randomNormal([50003], 0, s === 3 ? 0.01 : 1, 'float32', s));
    const vAbs = tf.abs(v!);
    const profile = await tf.profile(() => {
      const ours = adamUpdate(p!, m!, vAbs, g!, c);
      const theirs = tf.tidy(() => composed(p!, m!, vAbs, g!));
      for (let i = 0; i < 3; i++) expect(Array.from(ours[i]!.dataSync())).toEqual(Array.from(theirs[i]!.dataSync()));
      tf.dispose([...ours, ...theirs]);
    });
    expect(profile.kernels.filter((k) => k.name === FUSED_ADAM)).toHaveLength(1);
    tf.dispose([p!, m!, v!, g!, vAbs]);
  });
});
