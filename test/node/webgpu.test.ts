// Starting WebGPU in Node (src/node/webgpu.ts) where it cannot start: the optional `webgpu`
// package missing, or Dawn finding no adapter. Needs no Vulkan driver (simulated through the
// injectable importer); test/node/webgpu_adapter.test.ts starts real adapters (test:system).
import * as tf from '@tensorflow/tfjs-core';
import { afterEach, describe, expect, it } from 'vitest';
import { initBackend } from '../../src/node/backend.js';
import { isSoftwareAdapter } from '../../src/node/webgpu.js';

const missing = async (specifier: string): Promise<never> => {
  throw new Error(`Cannot find package '${specifier}' imported from tag2pix`);
};
/** The `webgpu` package on a machine whose Dawn finds no adapter at all. */
const noAdapter = async (specifier: string): Promise<unknown> =>
  specifier === 'webgpu' ? { globals: {}, create: () => ({ requestAdapter: async () => null }) } : missing(specifier);

afterEach(async () => {
  await tf.setBackend('cpu');
});

describe('initBackend: webgpu without an adapter', () => {
  it('recognises software adapters', () => {
    const lavapipe = { description: 'llvmpipe: Mesa 25.0.7 (LLVM 15.0.6)', vendor: 'mesa', architecture: 'software', isFallbackAdapter: true };
    expect(isSoftwareAdapter(lavapipe)).toBe(true);
    expect(isSoftwareAdapter({ ...lavapipe, isFallbackAdapter: undefined })).toBe(true);
    expect(isSoftwareAdapter({ vendor: 'google', architecture: 'swiftshader', description: '' })).toBe(true);
    expect(isSoftwareAdapter({ description: 'Test GPU: driver 1.0', vendor: 'nvidia', architecture: 'hopper', isFallbackAdapter: false })).toBe(false);
  });

  it('names both causes and both fixes when the package is missing or no adapter exists', async () => {
    const both = /npm install webgpu.*Vulkan driver.*lavapipe/;
    await expect(initBackend('webgpu', { importModule: missing, env: {} })).rejects.toThrow(
      /Backend 'webgpu' could not start: the optional package 'webgpu' does not load \(Cannot find package 'webgpu'/,
    );
    await expect(initBackend('webgpu', { importModule: missing, env: {} })).rejects.toThrow(both);
    await expect(initBackend('webgpu', { importModule: noAdapter, env: {} })).rejects.toThrow(/Dawn found no WebGPU adapter/);
    await expect(initBackend('webgpu', { importModule: noAdapter, env: {} })).rejects.toThrow(both);
  });

  it('the automatic choice skips it, saying why, and goes on', async () => {
    const report = await initBackend(undefined, { importModule: noAdapter, env: {} });
    expect(report.backend).toBe('wasm');
    expect(report.skipped[0]).toEqual({ backend: 'webgpu', reason: 'Dawn found no WebGPU adapter (no Vulkan driver it can use)' });
    expect(tf.getBackend()).toBe('wasm');
  });
});
