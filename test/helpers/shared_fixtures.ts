import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import { readSafetensors } from '../../src/io/safetensors.js';

/**
 * The large reference fixtures (generator, discriminator, CIT extractor) are not committed: they
 * live in `../shared/fixtures` beside the repository root. Tests that need them fail with this
 * message when that folder is missing, rather than silently skipping.
 */
export const SHARED_FIXTURES = path.resolve(
  path.dirname(fileURLToPath(import.meta.url)),
  '..',
  '..',
  '..',
  'shared',
  'fixtures',
);

/** Reads `<name>.safetensors` from the shared fixtures folder, or throws saying where to get it. */
export function readSharedFixture(name: string): Record<string, tf.Tensor> {
  const file = path.join(SHARED_FIXTURES, `${name}.safetensors`);
  if (!fs.existsSync(file)) {
    throw new Error(
      `Missing reference fixture ${file}. The large golden files (generator_small, ` +
        `discriminator_small, cit_extractor) are not in the repository: place the shared ` +
        `fixtures folder at ${SHARED_FIXTURES} (a sibling of the repository root).`,
    );
  }
  return readSafetensors(new Uint8Array(fs.readFileSync(file)));
}

/** NCHW (PyTorch) → NHWC. */
export function nhwc(t: tf.Tensor): tf.Tensor4D {
  return tf.transpose(t, [0, 2, 3, 1]) as tf.Tensor4D;
}
