// Screenshots the demo page after colourising, for the documentation (docs/images/web-demo.png).
//
//   npx tsx examples/web/screenshot.ts --lineart art.png --weights a.safetensors[,b.safetensors] \
//     --tags blue_hair,red_eyes [--backend wasm] [--out docs/images/web-demo.png]
//
// Needs Debian's Chromium (`apt-get install -y chromium`).
import sharp from 'sharp';
import { buildPage, launchChromium, servePage } from '../../test/web/harness.js';

const args = process.argv.slice(2);
const option = (name: string, fallback?: string): string => {
  const i = args.indexOf(name);
  const value = i >= 0 ? args[i + 1] : fallback;
  if (value === undefined) throw new Error(`screenshot: give ${name}.`);
  return value;
};
const lineArt = option('--lineart');
const weights = option('--weights').split(',');
const tags = option('--tags', '');
const backend = option('--backend', 'wasm');
const out = option('--out', 'docs/images/web-demo.png');

const server = await servePage(await buildPage('screenshot/dist'));
const browser = await launchChromium();
try {
  const page = await browser.context.newPage();
  await page.setViewportSize({ width: 1100, height: 1000 });
  await page.goto(`${server.url}?backend=${backend}&tags=${encodeURIComponent(tags)}`);
  await page.waitForFunction(() => document.body.dataset['state'] === 'idle');
  await page.evaluate(() => window.tag2pixDemo.ready);
  await page.setInputFiles('#lineart-input', lineArt);
  await page.setInputFiles('#weights-input', weights);
  await page.waitForFunction(() => {
    const info = document.getElementById('weights-info')!.textContent ?? '';
    return info !== '' && !info.startsWith('Reading');
  });
  await page.click('#colorize');
  await page.waitForFunction(() => ['done', 'error'].includes(document.body.dataset['state'] ?? ''));
  const errors = await page.evaluate(() => window.tag2pixDemo.messages.filter((m) => m.kind === 'error'));
  if (errors.length > 0) throw new Error(errors.map((e) => e.text).join('\n'));
  const shot = await page.screenshot({ fullPage: true });
  // A palette PNG keeps the committed picture small.
  await sharp(shot).png({ palette: true, quality: 90, compressionLevel: 9 }).toFile(out);
  console.log(`Wrote ${out}`);
} finally {
  await browser.close();
  await server.close();
}
