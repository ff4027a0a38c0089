import { it } from 'vitest';
import { join } from 'node:path';
import { launchChromium, outputDir } from './harness.js';
it('dev', async () => {
  const b = await launchChromium();
  const dir = join(outputDir, 'colorize');
  for (const be of ['wasm', 'webgl', 'cpu']) {
    const page = await b.context.newPage();
    page.on('pageerror', e => console.log('pageerror:', e.message));
    await page.goto('http://127.0.0.1:5173/?backend=' + be + '&tags=blue_hair,red_eyes');
    await page.waitForFunction(() => document.body.dataset['state'] === 'idle', null, {timeout: 60000});
    await page.evaluate(() => window.tag2pixDemo.ready);
    await page.setInputFiles('#lineart-input', join(dir, 'lineart-64.png'));
    await page.setInputFiles('#weights-input', [join(dir, 'generator.safetensors'), join(dir, 'cit_extractor.safetensors')]);
    await page.waitForFunction(() => { const i = document.getElementById('weights-info')!.textContent ?? ''; return i !== '' && !i.startsWith('Reading'); });
    await page.click('#colorize');
    await page.waitForFunction(() => ['done', 'error'].includes(document.body.dataset['state'] ?? ''), null, { timeout: 60000 });
    await page.click('#colorize');
    await page.waitForFunction(() => ['done', 'error'].includes(document.body.dataset['state'] ?? ''), null, { timeout: 60000 });
    console.log(be, await page.textContent('#timing'), await page.textContent('#messages'));
    const colour = await page.evaluate(() => Array.from(window.tag2pixDemo.result?.colour ?? []));
    (globalThis as any)['c_' + be] = colour;
    await page.close();
  }
  const a = (globalThis as any).c_cpu as number[], w = (globalThis as any).c_webgl as number[], m = (globalThis as any).c_wasm as number[];
  let e1 = 0, e2 = 0; for (let i = 0; i < a.length; i++) { e1 = Math.max(e1, Math.abs(a[i]-w[i])); e2 = Math.max(e2, Math.abs(a[i]-m[i])); }
  console.log('webgl vs cpu', e1, 'wasm vs cpu', e2, a.length);
  await b.close();
}, 300000);
