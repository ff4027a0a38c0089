// Measures the demo page with the full-size published architecture (256 px generator, width 1,
// 15.8 M parameters, and the CIT extractor) in headless Chromium: time to load the weights and
// to colourise, per backend. Random weights: the cost does not depend on their values.
//
//   npx tsx examples/web/measure.ts [--backends wasm,webgl,webgpu] [--runs 3]
//
// Needs Debian's Chromium (`apt-get install -y chromium`). Writes the weights and the page
// build under test-output/web/measure/.
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import sharp from 'sharp';
import { buildCITExtractor, buildTag2PixGenerator, exportTorchStateDict } from 'tag2pix';
import { writeSafetensors } from 'tag2pix/io';
import { initBackend } from 'tag2pix/node';
import { buildPage, launchChromium, outputDir, servePage } from '../../test/web/harness.js';

const args = process.argv.slice(2);
const option = (name: string, fallback: string) => {
  const i = args.indexOf(name);
  return i >= 0 && args[i + 1] ? args[i + 1]! : fallback;
};
const backends = option('--backends', 'wasm,webgl').split(',');
const runs = Number(option('--runs', '3'));
const dir = join(outputDir, 'measure');

await initBackend('cpu');
await mkdir(dir, { recursive: true });
const files = { generator: join(dir, 'generator-256.safetensors'), cit: join(dir, 'cit-256.safetensors'), art: join(dir, 'lineart-256.png') };
for (const [model, file] of [
  [buildTag2PixGenerator(), files.generator],
  [buildCITExtractor(), files.cit],
] as const) {
  const stateDict = exportTorchStateDict(model);
  await writeFile(file, writeSafetensors(stateDict));
  tf.dispose(Object.values(stateDict));
  model.dispose();
}
// A 256 × 256 line art: thin random strokes on white.
const strokes = Array.from({ length: 40 }, (_, i) => {
  const [x1, y1, x2, y2] = [37, 91, 53, 19].map((k) => (i * k * 7) % 256);
  return `<line x1="${x1}" y1="${y1}" x2="${x2}" y2="${y2}" stroke="black" stroke-width="2"/>`;
}).join('');
await sharp(Buffer.from(`<svg xmlns="http://www.w3.org/2000/svg" width="256" height="256"><rect width="256" height="256" fill="white"/>${strokes}</svg>`))
  .greyscale()
  .png()
  .toFile(files.art);

const server = await servePage(await buildPage('measure/dist'));
const browser = await launchChromium({ webgpu: backends.includes('webgpu') });
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
try {
  console.log(`| backend | load weights (s) | colourise 256 px, first (s) | colourise, median of ${runs} after (s) |`);
  console.log('|---|---|---|---|');
  for (const backend of backends) {
    const page = await browser.context.newPage();
    await page.goto(`${server.url}?backend=${backend}&tags=blue_hair,red_eyes`);
    await page.waitForFunction(() => document.body.dataset['state'] === 'idle');
    const started = await page.evaluate(() => window.tag2pixDemo.ready.then((s) => s.backend));
    await page.setInputFiles('#lineart-input', files.art);
    const t0 = Date.now();
    await page.setInputFiles('#weights-input', [files.generator, files.cit]);
    await page.waitForFunction(
      () => {
        const info = document.getElementById('weights-info')!.textContent ?? '';
        return info !== '' && !info.startsWith('Reading');
      },
      null,
      { timeout: 600_000 },
    );
    const load = (Date.now() - t0) / 1000;
    const times: number[] = [];
    for (let i = 0; i <= runs; i++) {
      await page.click('#colorize');
      await page.waitForFunction(() => ['done', 'error'].includes(document.body.dataset['state'] ?? ''), null, {
        timeout: 600_000,
      });
      const ms = await page.evaluate(() => window.tag2pixDemo.result?.milliseconds ?? NaN);
      const errors = await page.evaluate(() => window.tag2pixDemo.messages.filter((m) => m.kind === 'error'));
      if (errors.length > 0) throw new Error(errors.map((e) => e.text).join('\n'));
      times.push(ms / 1000);
      await page.evaluate(() => (document.body.dataset['state'] = 'idle'));
    }
    const name = started === backend ? backend : `${started} (asked: ${backend})`;
    console.log(`| ${name} | ${load.toFixed(2)} | ${times[0]!.toFixed(2)} | ${median(times.slice(1)).toFixed(2)} |`);
    await page.close();
  }
} finally {
  await browser.close();
  await server.close();
}
