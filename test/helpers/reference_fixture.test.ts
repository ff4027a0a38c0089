import { readFileSync } from 'node:fs';
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { readSafetensors, readSafetensorsMetadata, writeSafetensors } from '../../src/io/safetensors.js';
import { decodeReferenceFixture, loadReferenceFixture, seededValues } from './reference_fixture.js';

// The parity tests draw the reference's weights and inputs again from their seeds; the drawing
// must agree with make_reference_fixtures.py bit for bit, and say so when it does not.
describe('reference fixtures', () => {
  const bytes = new Uint8Array(readFileSync(new URL('../fixtures/reference/cit_extractor.safetensors', import.meta.url)));

  it('draws the seeded entries PyTorch used (SHA-256 of every value) beside the stored outputs', () => {
    const before = tf.memory().numTensors;
    const { tensors, metadata } = loadReferenceFixture('cit_extractor');
    const recipes = JSON.parse(metadata['seeded']!) as Array<[string, number[]]>;
    expect(Object.keys(tensors)).toEqual(expect.arrayContaining(['output.feature', 'input.x', 'conv1.weight', 'bn1.running_var']));
    for (const [key, shape] of recipes) expect(tensors[key]!.shape, key).toEqual(shape);
    // The BatchNorm statistics are drawn away from PyTorch's defaults (0 and 1).
    const runningVar = tensors['bn1.running_var']!.dataSync();
    expect(Math.min(...runningVar)).toBeGreaterThanOrEqual(0.5);
    expect(Math.max(...runningVar)).toBeLessThan(1.5);
    expect(new Set(runningVar).size).toBe(runningVar.length);
    tf.dispose(Object.values(tensors));
    expect(tf.memory().numTensors).toBe(before);
  });

  it('fails, naming the file, when a recipe no longer gives the values PyTorch used; no tensor leaks', () => {
    const metadata = readSafetensorsMetadata(bytes);
    const recipes = JSON.parse(metadata['seeded']!) as Array<[string, number[], string, number, number, number]>;
    recipes[0]![5] += 1; // another seed
    const stored = readSafetensors(bytes);
    const tampered = writeSafetensors(stored, { ...metadata, seeded: JSON.stringify(recipes) });
    tf.dispose(Object.values(stored));
    const before = tf.memory().numTensors;
    expect(() => decodeReferenceFixture(tampered, 'tampered.safetensors')).toThrow(
      /tampered\.safetensors: the seeded weights and inputs drawn here \(SHA-256 [0-9a-f]{64}\) are not the ones PyTorch used/,
    );
    expect(tf.memory().numTensors).toBe(before);
    expect(() => decodeReferenceFixture(writeSafetensors({}, {}), 'plain.safetensors')).toThrow(/plain\.safetensors has no 'seeded'/);
  });

  it('draws uniform, clamped and Bernoulli values in their ranges', () => {
    const u = seededValues('uniform', -0.5, 0.25, 7, 4096);
    expect(Math.min(...u)).toBeGreaterThanOrEqual(-0.5);
    expect(Math.max(...u)).toBeLessThan(0.25);
    expect(u.reduce((a, b) => a + b, 0) / u.length).toBeCloseTo(-0.125, 1);
    const r = seededValues('relu-uniform', -1, 1, 7, 4096);
    expect(r.filter((v) => v === 0).length / r.length).toBeCloseTo(0.5, 1);
    expect(Math.min(...r)).toBe(0);
    const b = seededValues('bernoulli', 0.1, 0, 7, 4096);
    expect(new Set(b)).toEqual(new Set([0, 1]));
    expect(b.reduce((a, v) => a + v, 0) / b.length).toBeCloseTo(0.1, 1);
    // Another seed, other values.
    expect(Array.from(seededValues('uniform', 0, 1, 8, 16))).not.toEqual(Array.from(seededValues('uniform', 0, 1, 7, 16)));
  });
});
