import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import * as tf from '@tensorflow/tfjs-core';
import { MathBackendCPU } from '@tensorflow/tfjs-backend-cpu';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { isFastKernel } from '../../src/kernels/register.js';
import { busyCoresNow, idleCores, initBackend, TENSORFLOW_PACKAGES, type CpuSample } from '../../src/node/backend.js';

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
    // XNNPACK's pool runs on one worker; the build's 7 other prestarted workers are gone.
    const pool = (tf.backend() as unknown as { wasm: { PThread: { runningWorkers: unknown[]; unusedWorkers: unknown[] } } }).wasm.PThread;
    expect(pool.runningWorkers.length).toBe(1);
    expect(pool.unusedWorkers.length).toBe(0);
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

  it("'auto' wasm threads are the cores other processes leave idle, at least 1", async () => {
    expect(idleCores(2, 0)).toBe(2);
    expect(idleCores(2, 0.4)).toBe(2);
    expect(idleCores(2, 0.6)).toBe(1);
    expect(idleCores(2, 9.5)).toBe(1);
    expect(idleCores(8, 3.2)).toBe(5);
    expect(idleCores(4, 0)).toBe(4);
    // 'auto' is accepted wherever a count is.
    expect((await initBackend('cpu', { env: { TAG2PIX_WASM_THREADS: 'auto' } })).backend).toBe('cpu');
    expect((await initBackend('cpu', { wasmThreads: 'auto' })).backend).toBe('cpu');
  });

  it("counts the cores other processes keep busy now, not this process's own work", async () => {
    const cores = os.cpus().length;
    // Scripted samples: over the window all cores advance 1000 ms each (total cores·1000), of
    // which `busy` ms were busy and `own` ms were this process's.
    const scripted = (busy: number, own: number) => {
      const samples: CpuSample[] = [
        { busyMs: 5000, totalMs: 90_000, ownMs: 100 },
        { busyMs: 5000 + busy, totalMs: 90_000 + cores * 1000, ownMs: 100 + own },
      ];
      return () => samples.shift()!;
    };
    expect(await busyCoresNow(1, scripted(0, 0))).toBe(0);
    expect(await busyCoresNow(1, scripted(1000, 0))).toBeCloseTo(1, 6); // another process on one core
    expect(await busyCoresNow(1, scripted(1000, 1000))).toBeCloseTo(0, 6); // only us
    expect(await busyCoresNow(1, scripted(1500, 1000))).toBeCloseTo(0.5, 6);
    expect(await busyCoresNow(1, scripted(0, 50))).toBe(0); // never negative
    // A real sample while this process spins: its own time is not counted as another's.
    const spin = busyCoresNow(200);
    const until = Date.now() + 150;
    while (Date.now() < until) Math.sqrt(Math.random());
    const busy = await spin;
    expect(busy).toBeGreaterThanOrEqual(0);
    expect(busy).toBeLessThanOrEqual(cores);
  });
});

// tfjs-backend-wasm's Emscripten glue adds process listeners that rethrow every uncaught error:
// the process then printed ~20 KB of minified glue and exited with code 7. A user's process must
// report its own errors as it would without tag2pix. Each case runs in a child process.
describe('initBackend leaves the process error handling alone', () => {
  const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
  const backendModule = pathToFileURL(path.join(repoRoot, 'src/node/backend.ts')).href;
  const dir = mkdtempSync(path.join(os.tmpdir(), 'tag2pix-process-errors-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  async function runChild(name: string, threads: number, body: string) {
    const script = path.join(dir, `${name}.mts`);
    writeFileSync(
      script,
      `import { initBackend } from ${JSON.stringify(backendModule)};\n` +
        `const report = await initBackend('wasm', { wasmThreads: ${threads} });\n` +
        `console.log('backend', report.backend, report.wasmThreads);\n${body}\n`,
    );
    try {
      const { stdout, stderr } = await promisify(execFile)(process.execPath, ['--import', 'tsx', script], { cwd: repoRoot });
      return { code: 0, stdout, stderr };
    } catch (err) {
      const e = err as { code: number; stdout: string; stderr: string };
      return { code: e.code, stdout: e.stdout, stderr: e.stderr };
    }
  }

  for (const threads of [1, 2]) {
    it(`an uncaught exception and an unhandled rejection exit with code 1 and the user's error (wasm, ${threads} thread${threads > 1 ? 's' : ''})`, async () => {
      const [thrown, rejected] = await Promise.all([
        runChild(`throw-${threads}`, threads, "setTimeout(() => { throw new Error('user code failed'); }, 0);"),
        runChild(`reject-${threads}`, threads, "Promise.reject(new Error('user promise failed'));"),
      ]);
      for (const [run, message] of [[thrown, 'user code failed'], [rejected, 'user promise failed']] as const) {
        expect(run.stdout).toContain(`backend wasm ${threads}`);
        expect(run.code, run.stderr.slice(0, 500)).toBe(1);
        expect(run.stderr).toContain(`Error: ${message}`);
        expect(run.stderr).not.toContain('WasmBackendModule');
        expect(run.stderr.length).toBeLessThan(2000);
      }
    });
  }

  // The memory guard (installed by initBackend) throws from the backend's malloc: with the glue's
  // listeners gone, an uncaught one is still one clear error, not a dump of the glue.
  it('an uncaught WasmMemoryError exits with code 1 and its message (wasm, 2 threads)', async () => {
    const tfModule = pathToFileURL(createRequire(import.meta.url).resolve('@tensorflow/tfjs-core')).href;
    const guardModule = pathToFileURL(path.join(repoRoot, 'src/kernels/wasm_memory.ts')).href;
    const run = await runChild(
      'heap-full',
      2,
      `const tf = await import(${JSON.stringify(tfModule)});\n` +
        `const { guardWasmMemory } = await import(${JSON.stringify(guardModule)});\n` +
        // Tensors may not grow the heap past its present size, so it fills within a few hundred.
        'guardWasmMemory({ limitBytes: tf.engine().registry.wasm.wasm.HEAPU8.length, reserveBytes: 0 });\n' +
        'const kept = [];\n' +
        'setTimeout(() => { for (;;) kept.push(tf.fill([1 << 20], 1)); }, 0);',
    );
    expect(run.stdout).toContain('backend wasm 2');
    expect(run.code, run.stderr.slice(0, 500)).toBe(1);
    expect(run.stderr).toMatch(/The wasm backend is out of memory: a 4 MB tensor does not fit/);
    expect(run.stderr).not.toContain('WasmBackendModule');
    expect(run.stderr.length).toBeLessThan(2000);
  });

  it("lets the user's own uncaughtException handler keep the process alive", async () => {
    const run = await runChild(
      'handled',
      1,
      "process.on('uncaughtException', (e) => { console.log('handled:', e.message); });\n" +
        "setTimeout(() => { throw new Error('user code failed'); }, 0);\n" +
        "setTimeout(() => console.log('still running'), 50);",
    );
    expect(run.code, run.stderr.slice(0, 500)).toBe(0);
    expect(run.stdout).toContain('handled: user code failed');
    expect(run.stdout).toContain('still running');
  });
});
