// The page's webgpu path in headless Chromium, on SwiftShader (Chromium's software Vulkan): the
// page starts webgpu, colourises with small weights (this library's WebGPU programs run in the
// browser too), and its colours equal the Node colourisation of the same files.
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { exportTorchStateDict } from '../../src/index.js';
import { writeSafetensors } from '../../src/io/index.js';
import { buildCITExtractor, buildTag2PixGenerator } from '../../src/models/index.js';
import { colorize, loadColorizer } from '../../src/node/index.js';
import { outputDir, startPageSession, type PageSession } from './harness.js';

const SIZE = 32;
const dir = join(outputDir, 'colorize-webgpu');
const files = {
  generator: join(dir, 'generator.safetensors'),
  cit: join(dir, 'cit_extractor.safetensors'),
  lineArt: join(dir, 'lineart.png'),
};
let session: PageSession;

beforeAll(async () => {
  await mkdir(dir, { recursive: true });
  const generator = buildTag2PixGenerator({ inputSize: SIZE, widthMultiplier: 0.25, decoderLayers: [1, 1, 1, 1] });
  const cit = buildCITExtractor({ inputSize: SIZE });
  const g = exportTorchStateDict(generator);
  const c = exportTorchStateDict(cit);
  // Amplify the last convolution so the untrained output is not flat.
  const scaled = tf.mul(g['deconv5.2.weight']!, 8);
  g['deconv5.2.weight']!.dispose();
  g['deconv5.2.weight'] = scaled;
  await writeFile(files.generator, writeSafetensors(g));
  await writeFile(files.cit, writeSafetensors(c));
  tf.dispose([...Object.values(g), ...Object.values(c)]);
  generator.dispose();
  cit.dispose();
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${SIZE}" height="${SIZE}"><rect width="100%" height="100%" fill="white"/>
    <circle cx="16" cy="17" r="9" fill="none" stroke="black" stroke-width="1.5"/><path d="M7 15 Q16 2 25 15" stroke="black" fill="none"/></svg>`;
  await sharp(Buffer.from(svg)).greyscale().png().toFile(files.lineArt);
  session = await startPageSession('dist-webgpu', { webgpu: true });
});

afterAll(async () => {
  await session?.close();
});

describe('the page on webgpu (SwiftShader)', () => {
  it('starts webgpu and colourises as Node does', async () => {
    const page = await session.context.newPage();
    const errors: string[] = [];
    page.on('pageerror', (err) => errors.push(err.message));
    await page.goto(`${session.url}?backend=webgpu&tags=blue_hair,red_eyes`);
    await page.waitForFunction(() => document.body.dataset['state'] === 'idle');
    await page.evaluate(() => window.tag2pixDemo.ready);
    expect(await page.getAttribute('#backend-status', 'data-backend')).toBe('webgpu');
    // The page registers this library's WebGPU programs once webgpu runs (importing tag2pix
    // registers nothing), so the grouped convolutions and fused BatchNorms run as one dispatch.
    const kernels = await page.evaluate(() => window.tag2pixDemo.backend?.kernels ?? []);
    expect(kernels).toEqual(expect.arrayContaining(['webgpu/Tag2PixGroupedConv2D', 'webgpu/Tag2PixBatchNormApply', 'webgpu/Tag2PixSpatialMean']));
    await page.setInputFiles('#lineart-input', files.lineArt);
    await page.setInputFiles('#weights-input', [files.generator, files.cit]);
    await page.waitForFunction(() => {
      const info = document.getElementById('weights-info')!.textContent ?? '';
      return info !== '' && !info.startsWith('Reading');
    });
    await page.click('#colorize');
    await page.waitForFunction(() => ['done', 'error'].includes(document.body.dataset['state'] ?? ''), null, { timeout: 180_000 });
    const run = await page.evaluate(() => {
      const s = window.tag2pixDemo;
      return {
        messages: s.messages.map((m) => m.text),
        backend: s.result?.backend,
        tags: s.result?.tags,
        color: Array.from(s.result?.color ?? []),
        tensorsAfter: s.numTensors(),
      };
    });
    expect(errors).toEqual([]);
    expect(run.messages).toEqual([]);
    expect(run.backend).toBe('webgpu');
    expect(run.tags).toEqual(['blue_hair', 'red_eyes']);
    expect(await page.textContent('#timing')).toMatch(/ s on webgpu$/);
    await page.screenshot({ path: join(outputDir, 'colorize-webgpu.png'), fullPage: true });

    const colorizer = await loadColorizer([files.generator, files.cit]);
    const node = await colorize({ lineArt: files.lineArt, tags: ['blue_hair', 'red_eyes'], generator: colorizer.generator, citExtractor: colorizer.citExtractor });
    const expected = await node.data();
    node.dispose();
    colorizer.generator.dispose();
    colorizer.citExtractor?.dispose();
    expect(run.color.length).toBe(expected.length);
    let maxError = 0;
    let spread = 0;
    for (let i = 0; i < expected.length; i++) {
      maxError = Math.max(maxError, Math.abs(run.color[i]! - expected[i]!));
      spread = Math.max(spread, Math.abs(expected[i]! - expected[0]!));
    }
    console.log(`page on webgpu (SwiftShader) vs Node on cpu: max |difference| ${maxError.toExponential(2)}`);
    expect(spread).toBeGreaterThan(1e-2); // the picture is not flat
    expect(maxError).toBeLessThan(1e-3);
    await page.close();
  });
});
