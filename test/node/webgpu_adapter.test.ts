// Which adapter initBackend takes (src/node/webgpu.ts), on a real one. The adapter a machine
// offers (a GPU, lavapipe) is simulated by wrapping the real `webgpu` package: each fake reports
// the adapter info a test needs and hands device creation to the real adapter (lavapipe without
// a GPU), so the backend really computes. Needs a Vulkan driver: runs in `npm run test:system`.
import * as tf from '@tensorflow/tfjs-core';
import { afterEach, describe, expect, it } from 'vitest';
import { initBackend } from '../../src/node/backend.js';

const missing = async (specifier: string): Promise<never> => {
  throw new Error(`Cannot find package '${specifier}' imported from tag2pix`);
};

afterEach(async () => {
  await tf.setBackend('cpu');
});

describe('initBackend: webgpu on an adapter', () => {
  type Info = { description: string; vendor: string; architecture: string; isFallbackAdapter: boolean };
  const lavapipe: Info = { description: 'llvmpipe: Mesa 25.0.7 (LLVM 15.0.6)', vendor: 'mesa', architecture: 'software', isFallbackAdapter: true };
  const gpu: Info = { description: 'Test GPU: driver 1.0', vendor: 'nvidia', architecture: 'hopper', isFallbackAdapter: false };
  const fakeWebgpu = async (info: Info) => {
    const real = (await import('webgpu')) as unknown as {
      create(flags: string[]): { requestAdapter(o?: unknown): Promise<Record<string, unknown> & { requestDevice(d: unknown): Promise<unknown> } | null> };
      globals: Record<string, unknown>;
    };
    return {
      globals: real.globals,
      create: (flags: string[]) => {
        const instance = real.create(flags);
        return {
          requestAdapter: async (options?: unknown) => {
            const adapter = await instance.requestAdapter(options);
            if (adapter == null) throw new Error('this machine has no WebGPU adapter at all: install lavapipe (see README)');
            return { info, features: adapter['features'], limits: adapter['limits'], requestDevice: (d: unknown) => adapter.requestDevice(d) };
          },
        };
      },
    };
  };
  const importing = (webgpuModule: unknown) => async (specifier: string): Promise<unknown> => {
    if (specifier === 'webgpu') return webgpuModule;
    if (specifier === '@tensorflow/tfjs-backend-webgpu') return import(specifier);
    return missing(specifier);
  };

  it('never chooses a software adapter automatically, but takes it when asked for', async () => {
    const soft = importing(await fakeWebgpu(lavapipe));
    const auto = await initBackend(undefined, { importModule: soft, env: {} });
    expect(auto.backend).toBe('wasm');
    expect(auto.skipped[0]).toEqual({
      backend: 'webgpu',
      reason: expect.stringMatching(/only WebGPU adapter is a software renderer \(llvmpipe: Mesa .*\), slower than wasm; choose it explicitly/),
    });
    const forced = await initBackend('webgpu', { importModule: soft, env: {} });
    expect(forced).toMatchObject({ backend: 'webgpu', webgpuAdapter: { description: lavapipe.description, software: true } });
    expect(tf.getBackend()).toBe('webgpu');
    // Once running, the automatic choice still passes it over.
    expect((await initBackend(undefined, { importModule: soft, env: {} })).backend).toBe('wasm');
  });

  it('chooses webgpu first on a real GPU, reports the adapter, and computes there', async () => {
    // The backend started in the previous test keeps its adapter: start from a fresh one.
    tf.removeBackend('webgpu');
    const real = importing(await fakeWebgpu(gpu));
    const report = await initBackend(undefined, { importModule: real, env: {} });
    expect(report).toMatchObject({
      backend: 'webgpu', source: 'auto', skipped: [],
      webgpuAdapter: { description: 'Test GPU: driver 1.0', vendor: 'nvidia', architecture: 'hopper', software: false },
    });
    expect(tf.getBackend()).toBe('webgpu');
    const y = tf.matMul(tf.tensor2d([[1, 2], [3, 4]]), tf.tensor2d([[5], [6]]));
    expect(Array.from(await y.data())).toEqual([17, 39]);
    expect(await initBackend('webgpu', { importModule: missing, env: {} })).toMatchObject({ backend: 'webgpu', webgpuAdapter: { software: false } });
  });
});
