import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import * as tf from '@tensorflow/tfjs-core';
import { readSafetensors, readSafetensorsMetadata } from '../../src/io/safetensors.js';
import { afterAll, beforeAll } from 'vitest';

/**
 * The golden data of the official PyTorch code for the model parity tests lives in
 * `test/fixtures/reference/` (made by `make_reference_fixtures.py` there; see its README). A file
 * holds what PyTorch computed: outputs, intermediates, gradients, the state after Adam steps.
 * Weights, BatchNorm statistics and inputs were drawn from a seeded generator; the file's metadata
 * lists them (`seeded`: key, shape, kind, low, high, seed) and this module draws them again, bit
 * for bit, checked against the SHA-256 of the values PyTorch used (`seeded_sha256`).
 */
export type SeededKind = 'uniform' | 'relu-uniform' | 'bernoulli';
type Recipe = [key: string, shape: number[], kind: SeededKind, low: number, high: number, seed: number];

/** MurmurHash3's 32-bit finaliser, on uint32. */
function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/**
 * `size` seeded float32 values, as make_reference_fixtures.py draws them: u = (fmix32(start + i)
 * >> 8) / 2^24 with start = fmix32(seed); `uniform` is low + (high − low)·u rounded to float32,
 * `relu-uniform` that clamped at 0, `bernoulli` 1 where u < low, else 0.
 */
export function seededValues(kind: SeededKind, low: number, high: number, seed: number, size: number): Float32Array {
  const out = new Float32Array(size);
  const start = fmix32(seed >>> 0);
  for (let i = 0; i < size; i++) {
    const u = (fmix32((start + i) >>> 0) >>> 8) / 16777216;
    if (kind === 'bernoulli') out[i] = u < low ? 1 : 0;
    else {
      const v = Math.fround(low + (high - low) * u);
      out[i] = kind === 'relu-uniform' && v < 0 ? 0 : v;
    }
  }
  return out;
}

export interface ReferenceFixture {
  /** Stored and seeded entries under their PyTorch names, in PyTorch layouts (NCHW). */
  tensors: Record<string, tf.Tensor>;
  metadata: Record<string, string>;
}

/** Decodes a reference fixture's bytes; `source` names it in errors. The caller owns the tensors. */
export function decodeReferenceFixture(bytes: Uint8Array, source: string): ReferenceFixture {
  const metadata = readSafetensorsMetadata(bytes);
  if (metadata['seeded'] === undefined || metadata['seeded_sha256'] === undefined) {
    throw new Error(`${source} has no 'seeded' / 'seeded_sha256' metadata: not a reference fixture.`);
  }
  const recipes = JSON.parse(metadata['seeded']) as Recipe[];
  const sha = createHash('sha256');
  const drawn: Record<string, tf.Tensor> = {};
  for (const [key, shape, kind, low, high, seed] of recipes) {
    const values = seededValues(kind, low, high, seed, shape.reduce((a, b) => a * b, 1));
    sha.update(new Uint8Array(values.buffer)); // little-endian, as the script hashed them
    drawn[key] = tf.tensor(values, shape, 'float32');
  }
  const digest = sha.digest('hex');
  if (digest !== metadata['seeded_sha256']) {
    tf.dispose(Object.values(drawn));
    throw new Error(
      `${source}: the seeded weights and inputs drawn here (SHA-256 ${digest}) are not the ones PyTorch ` +
        `used (${metadata['seeded_sha256']}); test/helpers/reference_fixture.ts and ` +
        `make_reference_fixtures.py must draw them the same way.`,
    );
  }
  return { tensors: { ...readSafetensors(bytes), ...drawn }, metadata };
}

/** Reads `test/fixtures/reference/<name>.safetensors` with its seeded entries. */
export function loadReferenceFixture(name: string): ReferenceFixture {
  const url = new URL(`../fixtures/reference/${name}.safetensors`, import.meta.url);
  return decodeReferenceFixture(new Uint8Array(readFileSync(url)), `test/fixtures/reference/${name}.safetensors`);
}

/** The tensors of {@link loadReferenceFixture}. */
export function readReferenceFixture(name: string): Record<string, tf.Tensor> {
  return loadReferenceFixture(name).tensors;
}

/** NCHW (PyTorch) → NHWC. */
export function nhwc(t: tf.Tensor): tf.Tensor4D {
  return tf.transpose(t, [0, 2, 3, 1]) as tf.Tensor4D;
}

/**
 * A fixture's tensors for the tests of the enclosing `describe`: read before its first test,
 * disposed after its last (`beforeAll`/`afterAll`). Read them as `fixture.tensors` inside a test.
 */
export function useReferenceFixture(name: string): { readonly tensors: Record<string, tf.Tensor> } {
  let tensors: Record<string, tf.Tensor> | undefined;
  beforeAll(() => {
    tensors = readReferenceFixture(name);
  });
  afterAll(() => tf.dispose(Object.values(tensors ?? {})));
  return {
    get tensors() {
      if (tensors === undefined) throw new Error(`fixture ${name} is read in beforeAll; use it inside a test`);
      return tensors;
    },
  };
}
