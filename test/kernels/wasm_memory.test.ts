import * as tf from '@tensorflow/tfjs-core';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../src/node/backend.js';
import { Tag2PixTrainer } from '../../src/training/trainer.js';
import { WASM_HEAP_LIMIT_BYTES, WasmMemoryError, guardWasmMemory } from '../../src/kernels/wasm_memory.js';
import { tinyBatch, tinyDiscriminator, tinyGenerator } from '../training/tiny_models.js';

// The first wasm start of this process asks for the threaded build (the one that used to hang
// or crash when its heap filled); under TAG2PIX_BACKEND=wasm the suite's single-threaded build
// is already up and is the one tested.
let threads = 1;
beforeAll(async () => {
  threads = (await initBackend('wasm', { wasmThreads: 2 })).wasmThreads ?? 1;
});

const heapBytes = () => (tf.engine().registry['wasm'] as unknown as { wasm: { HEAPU8: Uint8Array } }).wasm.HEAPU8.length;

/** Caps tensors at the heap's present size (returned): whatever needs it to grow does not fit. */
function capAtPresentHeap(): number {
  const limit = heapBytes();
  expect(guardWasmMemory({ limitBytes: limit, reserveBytes: 0 })).toBe(true);
  return limit;
}

/** Allocates `bytes`-sized tensors until one does not fit; returns them and the error. */
function fillHeap(bytes: number): { fillers: tf.Tensor[]; error: unknown } {
  const fillers: tf.Tensor[] = [];
  for (let i = 0; i < 100_000; i++) {
    try {
      fillers.push(tf.fill([bytes / 4], 1));
    } catch (error) {
      return { fillers, error };
    }
  }
  return { fillers, error: undefined };
}

afterEach(() => {
  guardWasmMemory();
});

describe(`wasm memory guard (${'wasm'})`, () => {
  it('runs on the wasm backend, threaded when this process started it', () => {
    expect(tf.getBackend()).toBe('wasm');
    expect(threads).toBeGreaterThanOrEqual(1);
  });

  it('a tensor that does not fit is one clear error; the backend and its tensors carry on', () => {
    const kept = tf.tensor1d([1, 2, 3]);
    const before = tf.memory().numTensors;
    const limit = capAtPresentHeap();
    const { fillers, error } = fillHeap(8 * 1024 * 1024);
    expect(error).toBeInstanceOf(WasmMemoryError);
    const e = error as WasmMemoryError;
    expect(e.message).toMatch(/wasm backend is out of memory: a 8 MB tensor does not fit/);
    expect(e.message).toMatch(/recompute: true/);
    expect(e.message).toMatch(/smaller batch/);
    expect(e.requestedBytes).toBe(8 * 1024 * 1024);
    expect(e.limitBytes).toBe(limit);
    tf.dispose(fillers);
    expect(tf.memory().numTensors).toBe(before);
    guardWasmMemory();
    // Nothing was corrupted: old tensors keep their values, new work computes.
    expect(Array.from(kept.dataSync())).toEqual([1, 2, 3]);
    expect(tf.sum(tf.ones([1000])).dataSync()[0]).toBe(1000);
    kept.dispose();
  });

  it('names the bytes tensors hold on the heap, a shared buffer once (tf.memory counts it per tensor)', () => {
    const x = tf.fill([1024 * 1024], 1); // 4 MB
    const clones = Array.from({ length: 10 }, () => tf.clone(x)); // the same buffer, 40 MB more in numBytes
    const limit = capAtPresentHeap();
    const { fillers, error } = fillHeap(256 * 1024);
    expect(error).toBeInstanceOf(WasmMemoryError);
    const e = error as WasmMemoryError;
    expect(e.inUseBytes).toBeLessThanOrEqual(limit);
    expect(tf.memory().numBytes - e.inUseBytes).toBeGreaterThanOrEqual(40 * 1024 * 1024);
    expect(e.message).toContain('tensors already hold');
    tf.dispose([...fillers, ...clones, x]);
    guardWasmMemory();
  });

  it('a training step that runs out of memory fails with it, leaks nothing, and the next step runs', async () => {
    const G = tinyGenerator();
    const D = tinyDiscriminator();
    const trainer = new Tag2PixTrainer({ generator: G, discriminator: D });
    const batch = tinyBatch(4, 8);
    await trainer.trainStep(batch);
    const before = tf.memory().numTensors;
    capAtPresentHeap();
    // Leave less room than a step needs, so it fails part-way through, inside a gradient tape.
    const { fillers, error: fillError } = fillHeap(256 * 1024);
    expect(fillError).toBeInstanceOf(WasmMemoryError);
    await expect(trainer.trainStep(batch)).rejects.toThrow(WasmMemoryError);
    tf.dispose(fillers);
    expect(tf.memory().numTensors).toBe(before);
    guardWasmMemory();
    const result = await trainer.trainStep(batch);
    expect(Number.isFinite(result.generator.total)).toBe(true);
    expect(tf.memory().numTensors).toBe(before);
    G.dispose();
    D.dispose();
    tf.dispose(Object.values(batch));
  });

  it('by default tensors stop 128 MB short of the 4 GB heap limit', () => {
    expect(WASM_HEAP_LIMIT_BYTES).toBe(4294901760);
    // A single tensor larger than what the heap can ever hold is refused up front.
    const huge = () => tf.fill([1100 * 1024 * 1024], 0);
    expect(huge).toThrow(WasmMemoryError);
    expect(huge).toThrow(/3\.9 GB its 32-bit heap can give tensors/);
  });
});
