// The demo page in headless Chromium: backend start and fallback, and the errors a user sees
// for a wrong file or an unknown tag. (Colourising itself: colorize_page.test.ts.)
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { outputDir, startPageSession, type PageSession } from './harness.js';

let session: PageSession;

beforeAll(async () => {
  session = await startPageSession('dist-page');
});

afterAll(async () => {
  await session?.close();
});

async function open(query: string): Promise<Page> {
  const page = await session.context.newPage();
  await page.goto(session.url + query);
  await page.waitForFunction(() => document.body.dataset['state'] === 'idle');
  await page.evaluate(() => window.tag2pixDemo.ready.catch(() => undefined));
  return page;
}

const messages = (page: Page) => page.evaluate(() => window.tag2pixDemo.messages.map((m) => `${m.kind}: ${m.text}`));

describe('demo page in Chromium', () => {
  it('runs on the backend asked for in the address', async () => {
    const page = await open('?backend=wasm');
    expect(await page.evaluate(() => window.tag2pixDemo.backend?.backend)).toBe('wasm');
    expect(await page.textContent('#backend-status')).toBe('Backend: wasm');
    // The wasm binaries come from this server, never from a CDN.
    const wasmUrls = await page.evaluate(() =>
      performance.getEntriesByType('resource').map((e) => e.name).filter((n) => n.includes('.wasm')),
    );
    expect(wasmUrls.length).toBeGreaterThan(0);
    for (const url of wasmUrls) expect(url.startsWith(session.url)).toBe(true);
    await page.close();
  });

  it('falls back to wasm and says so when WebGPU cannot start (no GPU in this browser)', async () => {
    const page = await open('?backend=webgpu');
    const start = await page.evaluate(() => window.tag2pixDemo.backend);
    expect(start?.backend).toBe('wasm');
    expect(start?.failures.map((f) => f.backend)).toEqual(['webgpu']);
    expect(await page.textContent('#backend-status')).toBe('Backend: wasm (fallback from webgpu)');
    const shown = await messages(page);
    expect(shown.some((m) => m.startsWith('warn: The webgpu backend could not start, so the page runs on wasm'))).toBe(
      true,
    );
    expect(shown.join('\n')).toMatch(/webgpu: .*(adapter|WebGPU)/);
    await page.close();
  });

  it('says a file is not an image, and names a weights file picked as line art', async () => {
    const page = await open('?backend=cpu');
    const notes = join(outputDir, 'notes.txt');
    await writeFile(notes, 'this is not an image');
    await page.setInputFiles('#lineart-input', notes);
    await page.waitForFunction(() => window.tag2pixDemo.messages.length > 0);
    expect(await messages(page)).toEqual([
      "error: 'notes.txt' is not a PNG or JPEG image. Choose a line art saved as PNG or JPEG.",
    ]);
    // A safetensors file: 8-byte header length, then JSON.
    const weights = join(outputDir, 'weights-as-art.safetensors');
    const header = new TextEncoder().encode('{}      ');
    const bytes = new Uint8Array(8 + header.length);
    new DataView(bytes.buffer).setBigUint64(0, BigInt(header.length), true);
    bytes.set(header, 8);
    await writeFile(weights, bytes);
    await page.setInputFiles('#lineart-input', weights);
    await page.waitForFunction(() => window.tag2pixDemo.messages.some((m) => m.text.includes('weights-as-art')));
    expect((await messages(page)).at(-1)).toContain('it looks like a .safetensors weights file');
    expect(await page.isDisabled('#colorize')).toBe(true);
    await page.close();
  });

  it('takes a line art dropped on the drop zone', async () => {
    const page = await open('?backend=cpu');
    // Drop a 40 × 30 PNG made in the page, as a file manager would.
    await page.evaluate(async () => {
      const canvas = new OffscreenCanvas(40, 30);
      const ctx = canvas.getContext('2d')!;
      ctx.fillStyle = '#fff';
      ctx.fillRect(0, 0, 40, 30);
      ctx.fillStyle = '#000';
      ctx.fillRect(10, 5, 3, 20);
      const blob = await canvas.convertToBlob({ type: 'image/png' });
      const transfer = new DataTransfer();
      transfer.items.add(new File([blob], 'dropped.png', { type: 'image/png' }));
      document.getElementById('lineart-drop')!.dispatchEvent(new DragEvent('drop', { dataTransfer: transfer, bubbles: true }));
    });
    await page.waitForFunction(() => window.tag2pixDemo.lineArt !== undefined);
    expect(await page.textContent('#lineart-info')).toBe('dropped.png: 40 × 30 px');
    const art = await page.evaluate(() => {
      const a = window.tag2pixDemo.lineArt!;
      return { width: a.width, height: a.height, stroke: a.data[10 * 40 + 11], paper: a.data[0] };
    });
    expect(art).toEqual({ width: 40, height: 30, stroke: 0, paper: 1 });
    expect(await page.$eval('#lineart-canvas', (c) => [(c as HTMLCanvasElement).width, (c as HTMLCanvasElement).height])).toEqual([
      40, 30,
    ]);
    await page.close();
  });

  it('says a weights file is not a weights file', async () => {
    const page = await open('?backend=cpu');
    const notes = join(outputDir, 'notes.txt');
    await writeFile(notes, 'this is not a weights file');
    await page.setInputFiles('#weights-input', notes);
    await page.waitForFunction(() => window.tag2pixDemo.messages.length > 0);
    expect((await messages(page))[0]).toMatch(/^error: 'notes.txt' is not a weights file: give a \.safetensors file or an official PyTorch checkpoint/);
    expect(await page.textContent('#weights-info')).toBe('No weights loaded.');
    await page.close();
  });

  it('suggests colour tags for an unknown tag and refuses a shape tag; picks tags by search', async () => {
    const page = await open('?backend=cpu');
    await page.fill('#tag-search', 'blue hiar');
    await page.press('#tag-search', 'Enter');
    expect(await messages(page)).toEqual([
      "error: Unknown tag: 'blue hiar': did you mean blue_hair, blonde_hair, black_hair? Pick a colour tag from the list, or type its name with spaces or underscores.",
    ]);
    await page.fill('#tag-search', 'long hair');
    await page.press('#tag-search', 'Enter');
    expect((await messages(page)).at(-1)).toMatch(/^error: 'long_hair' is not a colour tag/);
    expect(await page.evaluate(() => window.tag2pixDemo.tags)).toEqual([]);

    // Search as you type: only matching tags stay, grouped by part.
    await page.fill('#tag-search', 'gree');
    const groups = await page.$$eval('#tag-groups .tag-group h3', (hs) => hs.map((h) => h.textContent));
    expect(groups).toContain('Hair (2)');
    expect(groups).toContain('Background (1)');
    const chips = await page.$$eval('#tag-groups .chip', (cs) => cs.map((c) => (c as HTMLElement).dataset['tag']));
    expect(chips.every((t) => t?.includes('green'))).toBe(true);
    await page.click('#tag-groups .chip[data-tag="green_hair"]');
    await page.fill('#tag-search', 'red eyes');
    await page.press('#tag-search', 'Enter');
    expect(await page.evaluate(() => window.tag2pixDemo.tags)).toEqual(['green_hair', 'red_eyes']);
    await page.close();
  });
});
