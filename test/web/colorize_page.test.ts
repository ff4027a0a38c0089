// End to end in headless Chromium: the demo page colourises a line art with weights the test
// makes, and its numbers equal the Node colourisation of the same files.
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import type { Page } from 'playwright-core';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeSafetensors } from '../../src/io/index.js';
import { exportTorchStateDict } from '../../src/index.js';
import type { LayersModel } from '@tensorflow/tfjs-layers';
import { buildCITExtractor, buildTag2PixDiscriminator, buildTag2PixGenerator, colorizeTensor } from '../../src/models/index.js';
import { saveCheckpoint } from '../../src/node/checkpoint.js';
import { lineArtFeatures } from '../../src/demo/index.js';
import { colorize, loadColorizer } from '../../src/node/index.js';
import { Tag2PixTrainer } from '../../src/training/index.js';
import { outputDir, startPageSession, type PageSession } from './harness.js';

const SIZE = 64;
const TAGS = ['blue_hair', 'red_eyes'];
const dir = join(outputDir, 'colorize');
const files = {
  generator: join(dir, 'generator.safetensors'),
  cit: join(dir, 'cit_extractor.safetensors'),
  broken: join(dir, 'generator-broken.safetensors'),
  demoCheckpoint: join(dir, 'checkpoint.safetensors'),
  lineArt: join(dir, 'lineart-64.png'),
  wideLineArt: join(dir, 'lineart-96x72.png'),
};

let session: PageSession;

/** A small line art: a head with hair strands and eyes, black strokes on white, grey PNG. */
async function drawLineArt(path: string, width: number, height: number): Promise<void> {
  const s = Math.min(width, height) / 64;
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}">
    <rect width="100%" height="100%" fill="white"/>
    <g transform="translate(${(width - 64 * s) / 2} ${(height - 64 * s) / 2}) scale(${s})"
       fill="none" stroke="black" stroke-width="1.6">
      <circle cx="32" cy="34" r="17"/>
      <path d="M14 30 Q32 4 50 30 M18 24 Q24 40 20 52 M46 24 Q40 40 44 52 M26 14 Q30 22 28 30"/>
      <ellipse cx="25" cy="36" rx="3" ry="4"/><ellipse cx="39" cy="36" rx="3" ry="4"/>
      <path d="M28 46 Q32 49 36 46 M10 64 Q32 52 54 64"/>
    </g></svg>`;
  await sharp(Buffer.from(svg)).greyscale().png().toFile(path);
}

/** A narrow generator and the CIT extractor, saved as PyTorch-keyed safetensors. */
async function makeWeights(): Promise<void> {
  const generator = buildTag2PixGenerator({ inputSize: SIZE, widthMultiplier: 0.25, decoderLayers: [1, 1, 1, 1] });
  const cit = buildCITExtractor({ inputSize: SIZE });
  const g = exportTorchStateDict(generator);
  const c = exportTorchStateDict(cit);
  // PyTorch's default init leaves an untrained generator's output nearly flat and nearly blind
  // to the tags; amplify the tag path and the last convolution so both show.
  for (const [key, factor] of [['Linear.weight', 20], ['colorFC.3.weight', 30], ['deconv5.2.weight', 8]] as const) {
    const scaled = tf.mul(g[key]!, factor);
    g[key]!.dispose();
    g[key] = scaled;
  }
  await writeFile(files.generator, writeSafetensors(g));
  await writeFile(files.cit, writeSafetensors(c));
  // Weights that do not fit: one key missing, one of the wrong shape, one the network lacks.
  const broken: Record<string, tf.Tensor> = { ...g };
  delete broken['colorFC.1.bias'];
  const wrongShape = tf.zeros([g['colorFC.2.weight']!.shape[0]!, 3]);
  const extra = tf.zeros([2]);
  broken['colorFC.2.weight'] = wrongShape;
  broken['extra_head.weight'] = extra;
  await writeFile(files.broken, writeSafetensors(broken));
  tf.dispose([...Object.values(g), ...Object.values(c), wrongShape, extra]);
  generator.dispose();
  cit.dispose();
}

/**
 * A training checkpoint as `npm run demo` writes it (the real writer): a narrow generator whose
 * CIT features are the demo's pooled line-art statistics (2 channels). Returns its generator.
 */
async function makeDemoCheckpoint(): Promise<LayersModel> {
  const generator = buildTag2PixGenerator({ inputSize: SIZE, widthMultiplier: 0.25, decoderLayers: [1, 1, 1, 1], citChannels: 2 });
  const discriminator = buildTag2PixDiscriminator({ inputSize: SIZE, widthMultiplier: 0.25 });
  for (const key of ['cvt_encoder/Linear.weight', 'deconv5.2/weight']) {
    const w = generator.weights.find((v) => v.originalName === key)!;
    w.write(tf.tidy(() => tf.mul(w.read(), 8)));
  }
  const trainer = new Tag2PixTrainer({ generator, discriminator });
  await saveCheckpoint(files.demoCheckpoint, trainer, { seed: 1, dataCursor: null, config: { demo: true, size: SIZE } });
  discriminator.dispose();
  return generator;
}

let demoGenerator: LayersModel;

beforeAll(async () => {
  await mkdir(dir, { recursive: true });
  await Promise.all([
    drawLineArt(files.lineArt, SIZE, SIZE),
    drawLineArt(files.wideLineArt, 96, 72),
    makeWeights(),
  ]);
  demoGenerator = await makeDemoCheckpoint();
  session = await startPageSession('dist-colorize');
});

afterAll(async () => {
  demoGenerator?.dispose();
  await session?.close();
});

async function open(query: string): Promise<Page> {
  const page = await session.context.newPage();
  page.on('pageerror', (err) => console.error(`page error: ${err.message}`));
  await page.goto(session.url + query);
  await page.waitForFunction(() => document.body.dataset['state'] === 'idle');
  await page.evaluate(() => window.tag2pixDemo.ready);
  return page;
}

async function loadWeights(page: Page, paths: string[]): Promise<void> {
  await page.setInputFiles('#weights-input', paths);
  await page.waitForFunction(() => {
    const info = document.getElementById('weights-info')!.textContent ?? '';
    return info !== '' && !info.startsWith('Reading');
  });
}

/** Colourises and waits for the result (or an error), returning the page's state. */
async function colorizeInPage(page: Page) {
  await page.click('#colorize');
  await page.waitForFunction(() => ['done', 'error'].includes(document.body.dataset['state'] ?? ''), null, {
    timeout: 60_000,
  });
  return page.evaluate(() => {
    const s = window.tag2pixDemo;
    return {
      state: document.body.dataset['state'],
      messages: s.messages.map((m) => m.text),
      result: s.result && {
        width: s.result.width,
        height: s.result.height,
        colorWidth: s.result.colorWidth,
        colorHeight: s.result.colorHeight,
        color: Array.from(s.result.color),
        tags: s.result.tags,
        backend: s.result.backend,
        milliseconds: s.result.milliseconds,
      },
      lineArt: s.lineArt && { width: s.lineArt.width, height: s.lineArt.height, data: Array.from(s.lineArt.data) },
    };
  });
}

/** Pixels of the output canvas: size, and how many distinct colours it holds. */
function canvasSummary(page: Page) {
  return page.evaluate(() => {
    const canvas = document.getElementById('output-canvas') as HTMLCanvasElement;
    const data = canvas.getContext('2d')!.getImageData(0, 0, canvas.width, canvas.height).data;
    const colors = new Set<number>();
    for (let i = 0; i < data.length; i += 4) colors.add((data[i]! << 16) | (data[i + 1]! << 8) | data[i + 2]!);
    return { width: canvas.width, height: canvas.height, colors: colors.size };
  });
}

describe('colourising in Chromium', () => {
  it('colourises with two tags on wasm, equal to the Node colourisation of the same files within 1e-3', async () => {
    const page = await open('?backend=wasm');
    await page.setInputFiles('#lineart-input', files.lineArt);
    await loadWeights(page, [files.generator, files.cit]);
    expect(await page.textContent('#weights-info')).toBe(
      'generator.safetensors + cit_extractor.safetensors: generator 64 px, width × 0.25, decoder blocks [1, 1, 1, 1], with CIT extractor',
    );
    // Two tags: one picked from the search results, one typed.
    await page.fill('#tag-search', 'blue h');
    await page.click('#tag-groups .chip[data-tag="blue_hair"]');
    await page.fill('#tag-search', 'red eyes');
    await page.press('#tag-search', 'Enter');

    const run = await colorizeInPage(page);
    expect(run.messages).toEqual([]);
    expect(run.state).toBe('done');
    expect(run.result!.tags).toEqual(TAGS);
    expect(run.result!.backend).toBe('wasm');
    expect(await page.textContent('#timing')).toMatch(/^\d+\.\d\d s on wasm$/);

    const canvas = await canvasSummary(page);
    expect([canvas.width, canvas.height]).toEqual([SIZE, SIZE]);
    expect(canvas.colors).toBeGreaterThan(50); // not blank, not flat
    // Download PNG gives the picture on the canvas, at the line art's size.
    const [download] = await Promise.all([page.waitForEvent('download'), page.click('#download')]);
    expect(download.suggestedFilename()).toBe('tag2pix.png');
    const downloaded = join(dir, 'downloaded.png');
    await download.saveAs(downloaded);
    const meta = await sharp(downloaded).metadata();
    expect([meta.format, meta.width, meta.height]).toEqual(['png', SIZE, SIZE]);
    await page.screenshot({ path: join(outputDir, 'colorize-wasm.png'), fullPage: true });

    // The page decoded the PNG to the same grey values as Node.
    const { data: greyBytes } = await sharp(files.lineArt).greyscale().raw().toBuffer({ resolveWithObject: true });
    expect(run.lineArt!.data.length).toBe(SIZE * SIZE);
    let decodeError = 0;
    for (let i = 0; i < greyBytes.length; i++) {
      decodeError = Math.max(decodeError, Math.abs(run.lineArt!.data[i]! - greyBytes[i]! / 255));
    }
    expect(decodeError).toBeLessThan(1e-6);

    // Node (cpu backend), from the same files.
    const colorizer = await loadColorizer([files.generator, files.cit]);
    const node = await colorize({
      lineArt: files.lineArt,
      tags: TAGS,
      generator: colorizer.generator,
      citExtractor: colorizer.citExtractor,
    });
    expect(node.shape).toEqual([SIZE, SIZE, 3]);
    expect([run.result!.colorHeight, run.result!.colorWidth]).toEqual([SIZE, SIZE]);
    const expected = await node.data();
    node.dispose();
    colorizer.generator.dispose();
    colorizer.citExtractor?.dispose();
    let maxError = 0;
    for (let i = 0; i < expected.length; i++) maxError = Math.max(maxError, Math.abs(run.result!.color[i]! - expected[i]!));
    expect(run.result!.color.length).toBe(expected.length);
    expect(maxError).toBeLessThan(1e-3);
    // The tags reach the network: without them the same page (same backend, deterministic) gives
    // other colours. An untrained generator reacts only weakly to tags, hence the small bound.
    await page.click('#chosen-tags .chip[data-tag="blue_hair"]');
    await page.click('#chosen-tags .chip[data-tag="red_eyes"]');
    const tensorsBefore = await page.evaluate(() => window.tag2pixDemo.numTensors());
    const untagged = await colorizeInPage(page);
    expect(untagged.result!.tags).toEqual([]);
    expect(await page.evaluate(() => window.tag2pixDemo.numTensors())).toBe(tensorsBefore); // no leak
    let tagEffect = 0;
    for (let i = 0; i < expected.length; i++) {
      tagEffect = Math.max(tagEffect, Math.abs(untagged.result!.color[i]! - run.result!.color[i]!));
    }
    expect(tagEffect).toBeGreaterThan(1e-5);
    await page.close();
  });

  it('keeps a non-square line art at its own size (scaled to the model and back)', async () => {
    const page = await open('?backend=wasm&tags=green_hair,blue_eyes');
    await page.setInputFiles('#lineart-input', files.wideLineArt);
    await loadWeights(page, [files.cit, files.generator]);
    // Choosing weights again replaces the networks without leaking the old ones.
    const loadedOnce = await page.evaluate(() => window.tag2pixDemo.numTensors());
    await page.setInputFiles('#weights-input', []);
    await loadWeights(page, [files.cit, files.generator]);
    expect(await page.evaluate(() => window.tag2pixDemo.numTensors())).toBe(loadedOnce);
    const run = await colorizeInPage(page);
    expect(run.messages).toEqual([]);
    expect(run.result!.tags).toEqual(['green_hair', 'blue_eyes']);
    // 96 × 72 fits the 64 px model as 64 × 48 (centred on a white square), then goes back.
    expect([run.result!.colorWidth, run.result!.colorHeight]).toEqual([64, 48]);
    const canvas = await canvasSummary(page);
    await page.screenshot({ path: join(outputDir, 'colorize-wide.png'), fullPage: true });
    expect([canvas.width, canvas.height]).toEqual([96, 72]);
    expect(canvas.colors).toBeGreaterThan(50);
    await page.close();
  });

  it("colourises with the demo trainer's checkpoint, equal to Node's within 1e-3", async () => {
    const page = await open('?backend=wasm&tags=pink_hair,green_eyes');
    await page.setInputFiles('#lineart-input', files.lineArt);
    await loadWeights(page, [files.demoCheckpoint]);
    expect(await page.textContent('#weights-info')).toBe(
      "checkpoint.safetensors (training checkpoint): generator 64 px, width × 0.25, decoder blocks [1, 1, 1, 1], with the demo's line-art statistics as CIT features",
    );
    const run = await colorizeInPage(page);
    expect(run.messages).toEqual([]);
    expect(run.result!.tags).toEqual(['pink_hair', 'green_eyes']);
    // Node: the same generator, with the demo's own feature function.
    const { data } = await sharp(files.lineArt).greyscale().raw().toBuffer({ resolveWithObject: true });
    const lineArt = tf.tidy(() => tf.div(tf.tensor3d(new Uint8Array(data), [SIZE, SIZE, 1], 'int32'), 255));
    const demoFeatures = { predict: (x: tf.Tensor) => lineArtFeatures(x as tf.Tensor4D) } as unknown as LayersModel;
    const node = colorizeTensor({
      lineArt,
      tags: ['pink_hair', 'green_eyes'],
      generator: demoGenerator,
      citExtractor: demoFeatures,
    });
    const expected = await node.data();
    tf.dispose([lineArt, node]);
    expect(run.result!.color.length).toBe(expected.length);
    let maxError = 0;
    for (let i = 0; i < expected.length; i++) maxError = Math.max(maxError, Math.abs(run.result!.color[i]! - expected[i]!));
    expect(maxError).toBeLessThan(1e-3);
    await page.close();
  });

  it('lists every weight that does not fit, and needs the CIT extractor', async () => {
    const page = await open('?backend=wasm');
    const tensorsAtStart = await page.evaluate(() => window.tag2pixDemo.numTensors());
    await loadWeights(page, [files.broken, files.cit]);
    expect(await page.textContent('#weights-info')).toBe('No weights loaded.');
    const shown = await page.evaluate(() => window.tag2pixDemo.messages.map((m) => m.text));
    expect(shown).toHaveLength(1);
    const lines = shown[0]!.split('\n');
    expect(lines[0]).toMatch(/^The weights in 'generator-broken.safetensors' do not fit the generator .*\(3 problems\):$/);
    expect(lines.slice(1).sort()).toEqual(
      [
        expect.stringMatching(/^missing: colorFC\.1\.bias \[16\]$/),
        expect.stringMatching(/^not used by the network: extra_head\.weight \[2\]$/),
        expect.stringMatching(/^wrong shape: colorFC\.2\.weight is \[16, 3\], the network needs \[16, 16\]$/),
      ].sort(),
    );
    // Each problem is an item of a list in the page.
    expect(await page.$$eval('#messages .message.error li', (items) => items.length)).toBe(3);

    await loadWeights(page, [files.generator]);
    const again = await page.evaluate(() => window.tag2pixDemo.messages.map((m) => m.text));
    // In the page's words (not the API's option name, 'sources').
    expect(again.at(-1)).toMatch(/takes CIT features, so it needs a CIT extractor \(.*\), which is missing from the files chosen: give the CIT extractor's weights too\.$/);
    // Networks built for weights that did not fit are disposed.
    expect(await page.evaluate(() => window.tag2pixDemo.numTensors())).toBe(tensorsAtStart);
    expect(await page.isDisabled('#colorize')).toBe(true);
    await page.close();
  });
});
