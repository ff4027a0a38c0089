import * as tf from '@tensorflow/tfjs-core';
import { MathBackendCPU } from '@tensorflow/tfjs-backend-cpu';
import { afterEach, describe, expect, it } from 'vitest';
import { isFastKernel } from '../../src/kernels/register.js';
import { initBackend, TENSORFLOW_PACKAGES } from '../../src/node/backend.js';
import { isSoftwareAdapter } from '../../src/node/webgpu.js';

// libtensorflow cannot be installed here, so the `tensorflow` packages are simulated through
// the injectable importer: one that fails like a missing package, one that registers a
// stand-in 'tensorflow' backend like tfjs-node does on import.
const missing = async (specifier: string): Promise<never> => {
  throw new Error(`Cannot find package '${specifier}' imported from tag2pix`);
};
const imported: string[] = [];
const fakeTfjsNode = (providing: string) => async (specifier: string): Promise<unknown> => {
  imported.push(specifier);
  if (specifier !== providing) return missing(specifier);
  if (tf.findBackendFactory('tensorflow') == null) {
    tf.registerBackend('tensorflow', () => new MathBackendCPU(), 0);
  }
  return {};
};

afterEach(async () => {
  imported.length = 0;
  if (tf.findBackendFactory('tensorflow') != null) tf.removeBackend('tensorflow');
  await tf.setBackend('cpu');
});

describe('initBackend', () => {
  it('falls back to cpu when tensorflow is missing and wasm is unavailable', async () => {
    // Run first, before wasm is ever initialised in this process: remove its factory for a while.
    const wasmFactory = tf.findBackendFactory('wasm')!;
    expect(wasmFactory).toBeDefined();
    tf.removeBackend('wasm');
    try {
      const report = await initBackend(undefined, { importModule: missing, env: {} });
      expect(report.backend).toBe('cpu');
      expect(tf.getBackend()).toBe('cpu');
      expect(report.skipped.map((s) => s.backend)).toEqual(['webgpu', 'tensorflow', 'wasm']);
      expect(report.skipped[0]!.reason).toMatch(/optional package 'webgpu' does not load/);
      expect(report.skipped[1]!.reason).toMatch(/tfjs-node-gpu.*tfjs-node/);
      expect(report.skipped[2]!.reason).toMatch(/'wasm' is not registered/);
    } finally {
      tf.registerBackend('wasm', wasmFactory, 2);
    }
  });

  it('prefers tensorflow (tfjs-node-gpu first) when a package loads', async () => {
    const report = await initBackend(undefined, { importModule: fakeTfjsNode('@tensorflow/tfjs-node-gpu'), env: {} });
    expect(report).toMatchObject({ backend: 'tensorflow', source: 'auto', tensorflowPackage: '@tensorflow/tfjs-node-gpu' });
    expect(report.skipped.map((s) => s.backend)).toEqual(['webgpu']);
    expect(tf.getBackend()).toBe('tensorflow');
    expect(imported).toEqual(['webgpu', '@tensorflow/tfjs-node-gpu']);
  });

  it('tries tfjs-node when tfjs-node-gpu is missing', async () => {
    const report = await initBackend(undefined, { importModule: fakeTfjsNode('@tensorflow/tfjs-node'), env: {} });
    expect(report.tensorflowPackage).toBe('@tensorflow/tfjs-node');
    expect(tf.getBackend()).toBe('tensorflow');
    expect(imported).toEqual(['webgpu', ...TENSORFLOW_PACKAGES]);
  });

  it('skips a package that loads but registers no backend; starts wasm threaded when asked', async () => {
    // The first wasm initialisation of this process: it asks for the threaded build.
    const report = await initBackend(undefined, { importModule: async () => ({}), env: { TAG2PIX_WASM_THREADS: '2' } });
    expect(report.backend).toBe('wasm');
    expect(report.skipped[0]!.reason).toMatch(/'webgpu' does not load \(it does not export create\(\)\)/);
    expect(report.skipped[1]!.reason).toMatch(/registered no 'tensorflow' backend/);
    expect(report.wasmThreadsNote).toBeUndefined();
    expect(report.wasmThreads).toBe(2);
    // The threaded build computes like cpu.
    const x = tf.tidy(() => tf.reshape(tf.range(0, 2 * 6 * 6 * 3), [2, 6, 6, 3]));
    const k = tf.tidy(() => tf.reshape(tf.sin(tf.range(0, 27 * 4)), [3, 3, 3, 4]));
    const onWasm = tf.conv2d(x as tf.Tensor4D, k as tf.Tensor4D, 2, 1).dataSync();
    await tf.setBackend('cpu');
    const onCpu = tf.conv2d(x as tf.Tensor4D, k as tf.Tensor4D, 2, 1).dataSync();
    let err = 0;
    onCpu.forEach((v, i) => (err = Math.max(err, Math.abs(v - onWasm[i]!))));
    expect(err).toBeLessThan(1e-3);
    expect(Math.max(...Array.from(onCpu, Math.abs))).toBeGreaterThan(10);
  });

  it('rejects a bad thread count with a clear message', async () => {
    await expect(initBackend('cpu', { env: { TAG2PIX_WASM_THREADS: 'two' } })).rejects.toThrow(
      /wasm threads must be a positive integer, got 'two'/,
    );
  });

  it('chooses wasm when tensorflow is missing, with our kernels registered', async () => {
    const report = await initBackend(undefined, { importModule: missing, env: {} });
    expect(report).toMatchObject({ backend: 'wasm', source: 'auto' });
    expect(report.skipped.map((s) => s.backend)).toEqual(['webgpu', 'tensorflow']);
    expect(tf.getBackend()).toBe('wasm');
    expect(isFastKernel('Conv2DBackpropFilter', 'wasm')).toBe(true);
    expect(isFastKernel('Conv2DBackpropInput', 'wasm')).toBe(true);
    // wasm really computes: a conv gradient needs the kernel wasm lacks on its own.
    const g = tf.grad((k: tf.Tensor) => tf.sum(tf.conv2d(tf.ones([1, 4, 4, 2]) as tf.Tensor4D, k as tf.Tensor4D, 1, 'valid')));
    expect(Array.from(g(tf.ones([3, 3, 2, 1])).dataSync())).toEqual(new Array(18).fill(4));
  });

  it('honours TAG2PIX_BACKEND, and an argument over it', async () => {
    let report = await initBackend(undefined, { importModule: missing, env: { TAG2PIX_BACKEND: 'cpu' } });
    expect(report).toMatchObject({ backend: 'cpu', source: 'TAG2PIX_BACKEND', skipped: [] });
    report = await initBackend('wasm', { importModule: missing, env: { TAG2PIX_BACKEND: 'cpu' } });
    expect(report).toMatchObject({ backend: 'wasm', source: 'argument' });
    expect(tf.getBackend()).toBe('wasm');
    report = await initBackend(undefined, { importModule: fakeTfjsNode('@tensorflow/tfjs-node'), env: { TAG2PIX_BACKEND: 'tensorflow' } });
    expect(report).toMatchObject({ backend: 'tensorflow', source: 'TAG2PIX_BACKEND' });
    // An empty variable means "choose automatically".
    report = await initBackend(undefined, { importModule: missing, env: { TAG2PIX_BACKEND: '' } });
    expect(report.source).toBe('auto');
  });

  it('names the problem when a forced backend cannot start or is unknown', async () => {
    await expect(initBackend('tensorflow', { importModule: missing, env: {} })).rejects.toThrow(
      /Backend 'tensorflow' could not start: .*Install @tensorflow\/tfjs-node/,
    );
    await expect(initBackend(undefined, { importModule: missing, env: { TAG2PIX_BACKEND: 'webgl2' } })).rejects.toThrow(
      /Unknown backend 'webgl2' in TAG2PIX_BACKEND\. Choose one of: webgpu, tensorflow, wasm, cpu/,
    );
    await expect(initBackend('gpu')).rejects.toThrow(/Unknown backend 'gpu'\./);
  });

  it('reads TAG2PIX_BACKEND from process.env by default', async () => {
    const saved = process.env['TAG2PIX_BACKEND'];
    process.env['TAG2PIX_BACKEND'] = 'cpu';
    try {
      expect((await initBackend()).source).toBe('TAG2PIX_BACKEND');
    } finally {
      if (saved == null) delete process.env['TAG2PIX_BACKEND'];
      else process.env['TAG2PIX_BACKEND'] = saved;
    }
  });
});

// WebGPU through Dawn's `webgpu` package. The adapter a machine offers (a GPU, lavapipe, none)
// is simulated by wrapping the real package: each fake reports the adapter info a test needs
// and hands device creation to the real adapter (lavapipe here), so the backend really computes.
describe('initBackend: webgpu', () => {
  type Info = { description: string; vendor: string; architecture: string; isFallbackAdapter: boolean };
  const lavapipe: Info = { description: 'llvmpipe: Mesa 25.0.7 (LLVM 15.0.6)', vendor: 'mesa', architecture: 'software', isFallbackAdapter: true };
  const gpu: Info = { description: 'Test GPU: driver 1.0', vendor: 'nvidia', architecture: 'hopper', isFallbackAdapter: false };
  const fakeWebgpu = async (info: Info | null) => {
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
            if (info == null) return null;
            const adapter = await instance.requestAdapter(options);
            if (adapter == null) throw new Error('this machine has no WebGPU adapter at all: install lavapipe (see README)');
            return { info, features: adapter['features'], limits: adapter['limits'], requestDevice: (d: unknown) => adapter.requestDevice(d) };
          },
        };
      },
    };
  };
  const importing = (webgpuModule: unknown) => async (specifier: string): Promise<unknown> => {
    imported.push(specifier);
    if (specifier === 'webgpu') return webgpuModule;
    if (specifier === '@tensorflow/tfjs-backend-webgpu') return import(specifier);
    return missing(specifier);
  };

  it('recognises software adapters', () => {
    expect(isSoftwareAdapter(lavapipe)).toBe(true);
    expect(isSoftwareAdapter({ ...lavapipe, isFallbackAdapter: undefined } as unknown as Info)).toBe(true);
    expect(isSoftwareAdapter({ vendor: 'google', architecture: 'swiftshader', description: '' })).toBe(true);
    expect(isSoftwareAdapter(gpu)).toBe(false);
  });

  it('names both causes and both fixes when the package is missing or no adapter exists', async () => {
    const both = /npm install webgpu.*Vulkan driver.*lavapipe/;
    await expect(initBackend('webgpu', { importModule: missing, env: {} })).rejects.toThrow(
      /Backend 'webgpu' could not start: the optional package 'webgpu' does not load \(Cannot find package 'webgpu'/,
    );
    await expect(initBackend('webgpu', { importModule: missing, env: {} })).rejects.toThrow(both);
    const none = importing(await fakeWebgpu(null));
    await expect(initBackend('webgpu', { importModule: none, env: {} })).rejects.toThrow(/Dawn found no WebGPU adapter/);
    await expect(initBackend('webgpu', { importModule: none, env: {} })).rejects.toThrow(both);
  });

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
