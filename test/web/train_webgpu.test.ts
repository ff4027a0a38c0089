// Training in the browser on webgpu: the browser entries (tag2pix and tag2pix/training with
// tfjs-backend-webgpu, as a user's bundler makes them) run two Tag2PixTrainer steps of a small G, D and CIT extractor in
// headless Chromium on SwiftShader, with no op falling back to the CPU (a synchronous read of
// GPU data, which in a browser stalls the GPU and in Node throws).
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { BrowserContext } from 'playwright-core';
import * as esbuild from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { repoRoot } from './browser_bundle.js';
import { launchChromium } from './harness.js';

const entry = `
  import * as tf from '@tensorflow/tfjs-core';
  import '@tensorflow/tfjs-backend-webgpu';
  import { buildCITExtractor, buildTag2PixDiscriminator, buildTag2PixGenerator, registerFastKernels } from './src/index.ts';
  import { Tag2PixTrainer } from './src/training/index.ts';
  import { probeWebGPU } from './src/kernels/webgpu/dispatch_probe.ts';

  window.runTraining = async () => {
    if (!(await tf.setBackend('webgpu'))) throw new Error('webgpu did not start');
    // Importing tag2pix registers no kernel: the application asks for ours once the backend runs.
    registerFastKernels();
    const size = 32;
    const generator = buildTag2PixGenerator({ inputSize: size, widthMultiplier: 0.125, decoderLayers: [1, 1, 1, 1] });
    const discriminator = buildTag2PixDiscriminator({ inputSize: size, widthMultiplier: 0.125 });
    const citExtractor = buildCITExtractor({ inputSize: size, batchNormMode: 'batch-stats' });
    const trainer = new Tag2PixTrainer({ generator, discriminator, citExtractor });
    const batch = {
      lineArt: tf.randomUniform([2, size, size, 1], 0, 1, 'float32', 1),
      color: tf.randomUniform([2, size, size, 3], -1, 1, 'float32', 2),
      cit: tf.cast(tf.less(tf.randomUniform([2, 370], 0, 1, 'float32', 3), 0.1), 'float32'),
      cvt: tf.cast(tf.less(tf.randomUniform([2, 115], 0, 1, 'float32', 4), 0.1), 'float32'),
    };
    const first = await trainer.trainStep(batch);
    let second;
    const probe = await probeWebGPU(async () => { second = await trainer.trainStep(batch); });
    return {
      backend: tf.getBackend(),
      losses: [first.generator.total, first.discriminator.total, second.generator.total, second.discriminator.total],
      dispatches: probe.dispatches,
      ownPrograms: [...probe.dispatchesByKernel.keys()].filter((k) => k.startsWith('Tag2Pix')).length,
      cpuFallbacks: probe.cpuFallbacks,
    };
  };
`;

let server: Server;
let url: string;
let browser: { context: BrowserContext; close: () => Promise<void> };

beforeAll(async () => {
  const built = await esbuild.build({
    stdin: { contents: entry, resolveDir: repoRoot, sourcefile: 'train-entry.ts', loader: 'ts' },
    bundle: true, platform: 'browser', format: 'esm', target: 'es2022', write: false, logLevel: 'silent',
  });
  const script = built.outputFiles[0]!.text;
  server = createServer((req, res) => {
    if (req.url === '/train.js') {
      res.setHeader('content-type', 'text/javascript');
      res.end(script);
      return;
    }
    res.setHeader('content-type', 'text/html');
    res.end('<!doctype html><meta charset="utf-8"><script type="module" src="/train.js"></script>');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  browser = await launchChromium({ webgpu: true });
});

afterAll(async () => {
  await browser?.close();
  await new Promise((resolve) => server?.close(resolve));
});

describe('training in Chromium on webgpu', () => {
  it('runs trainer steps with our WebGPU programs and no CPU fallback', { timeout: 600_000 }, async () => {
    const page = await browser.context.newPage();
    const errors: string[] = [];
    page.on('pageerror', (err) => errors.push(err.message));
    await page.goto(url);
    await page.waitForFunction(() => typeof (window as unknown as { runTraining?: unknown }).runTraining === 'function');
    const r = await page.evaluate(() => (window as unknown as { runTraining: () => Promise<{
      backend: string; losses: number[]; dispatches: number; ownPrograms: number;
      cpuFallbacks: Array<{ kernel: string; shape: number[] }>;
    }> }).runTraining());
    expect(errors).toEqual([]);
    expect(r.backend).toBe('webgpu');
    for (const loss of r.losses) expect(Number.isFinite(loss)).toBe(true);
    expect(r.cpuFallbacks).toEqual([]);
    expect(r.ownPrograms).toBeGreaterThanOrEqual(8); // grouped conv, BatchNorm, Adam, SE programs
    expect(r.dispatches).toBeGreaterThan(500);
    await page.close();
  });
});
