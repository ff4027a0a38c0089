import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import sharp from 'sharp';
import { afterAll, describe, expect, it } from 'vitest';
import {
  DEFAULT_MAX_PIXELS,
  ImageReadError,
  checkImage,
  encodePng,
  imageSize,
  readImage,
  readImageTensor,
  resizeImage,
  writePng,
} from '../../src/node/index.js';
import { rgbToGrey } from '../../src/data/raster.js';
import { OptionError } from '../../src/errors.js';
import { MiB, withPeakMemory } from '../helpers/memory.js';
import { pngWithHeader } from '../helpers/torch_files.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tag2pix-image-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

// A 5×4 RGB(A) test pattern with distinct values per pixel and channel.
function pattern(w: number, h: number, channels: 3 | 4): Uint8Array {
  const px = new Uint8Array(w * h * channels);
  for (let i = 0; i < w * h; i++) {
    px[i * channels] = (i * 37) % 256;
    px[i * channels + 1] = (i * 91 + 13) % 256;
    px[i * channels + 2] = (i * 53 + 200) % 256;
    if (channels === 4) px[i * channels + 3] = i % 3 === 0 ? 0 : 255;
  }
  return px;
}

async function encode(px: Uint8Array, w: number, h: number, channels: 3 | 4, fmt: 'png' | 'webp' | 'jpeg') {
  const s = sharp(px, { raw: { width: w, height: h, channels } });
  if (fmt === 'png') return s.png().toBuffer();
  if (fmt === 'webp') return s.webp({ lossless: true }).toBuffer();
  return s.jpeg({ quality: 100 }).toBuffer();
}

describe('readImage', () => {
  it('decodes PNG and lossless WebP to the exact RGB pixels, from a path or a buffer', async () => {
    const px = pattern(5, 4, 3);
    for (const fmt of ['png', 'webp'] as const) {
      const bytes = await encode(px, 5, 4, 3, fmt);
      const file = path.join(dir, `p.${fmt}`);
      fs.writeFileSync(file, bytes);
      for (const src of [file, bytes]) {
        const img = await readImage(src);
        expect([img.width, img.height, img.channels]).toEqual([5, 4, 3]);
        expect(img.data).toBeInstanceOf(Uint8Array);
        expect(Array.from(img.data)).toEqual(Array.from(px));
      }
    }
  });

  it('decodes JPEG close to the source', async () => {
    // A smooth gradient survives quality-100 JPEG within a few levels.
    const w = 16;
    const px = new Uint8Array(w * w * 3);
    for (let i = 0; i < w * w; i++) px.fill(Math.floor(((i % w) * 255) / (w - 1)), i * 3, i * 3 + 3);
    const img = await readImage(await encode(px, w, w, 3, 'jpeg'));
    const err = Math.max(...Array.from(img.data, (v, i) => Math.abs(v - px[i]!)));
    expect(err).toBeLessThanOrEqual(4);
  });

  it('flattens alpha onto white', async () => {
    const px = pattern(5, 4, 4);
    const img = await readImage(await encode(px, 5, 4, 4, 'png'));
    for (let i = 0; i < 20; i++) {
      const expected = px[i * 4 + 3] === 0 ? [255, 255, 255] : [px[i * 4]!, px[i * 4 + 1]!, px[i * 4 + 2]!];
      expect(Array.from(img.data.subarray(i * 3, i * 3 + 3))).toEqual(expected);
    }
  });

  it('reads grey with BT.601 weights (OpenCV fixed point), also from grey files', async () => {
    const px = pattern(5, 4, 3);
    const grey = await readImage(await encode(px, 5, 4, 3, 'png'), { channels: 1 });
    expect(grey.channels).toBe(1);
    for (let i = 0; i < 20; i++) {
      const y = 0.299 * px[i * 3]! + 0.587 * px[i * 3 + 1]! + 0.114 * px[i * 3 + 2]!;
      expect(Math.abs(grey.data[i]! - y)).toBeLessThanOrEqual(0.5 + 1e-3);
    }
    // A single-channel PNG reads back unchanged as grey and replicated as RGB.
    const g = new Uint8Array(20).map((_, i) => i * 12);
    const file = await sharp(g, { raw: { width: 5, height: 4, channels: 1 } }).png().toBuffer();
    expect(Array.from((await readImage(file, { channels: 1 })).data)).toEqual(Array.from(g));
    const rgb = await readImage(file);
    expect(Array.from(rgb.data.filter((_, i) => i % 3 === 1))).toEqual(Array.from(g));
  });

  it('resizes on read, and resizeImage keeps flat colours flat', async () => {
    const px = new Uint8Array(40 * 30 * 3).fill(77);
    const bytes = await encode(px, 40, 30, 3, 'png');
    const img = await readImage(bytes, { size: 16 });
    expect([img.width, img.height]).toEqual([16, 16]);
    expect(img.data.every((v) => v === 77)).toBe(true);
    const small = await resizeImage(img, 8, 4);
    expect([small.width, small.height, small.channels, small.data.length]).toEqual([8, 4, 3, 96]);
    expect(small.data.every((v) => v === 77)).toBe(true);
    expect(await imageSize(bytes)).toEqual({ width: 40, height: 30 });
    await expect(readImage(bytes, { size: 0 })).rejects.toThrow(/positive integers/);
  });

  it('gives tensors in the asked range', async () => {
    const px = new Uint8Array([0, 255, 51, 255, 0, 102]);
    const bytes = await encode(px, 2, 1, 3, 'png');
    const before = tf.memory().numTensors;
    const t01 = await readImageTensor(bytes);
    const tpm = await readImageTensor(bytes, { range: [-1, 1] });
    expect(t01.shape).toEqual([1, 2, 3]);
    expect(Array.from(t01.dataSync())).toEqual(Array.from(px, (v) => v / 255).map((v) => Math.fround(v)));
    const expected = Array.from(px, (v) => -1 + (v * 2) / 255);
    Array.from(tpm.dataSync()).forEach((v, i) => expect(v).toBeCloseTo(expected[i]!, 6));
    tf.dispose([t01, tpm]);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('names the file of a corrupt, truncated, non-image or missing input', async () => {
    const good = await encode(pattern(32, 32, 3), 32, 32, 3, 'png');
    const truncated = path.join(dir, 'truncated.png');
    fs.writeFileSync(truncated, good.subarray(0, Math.floor(good.length / 2)));
    const text = path.join(dir, 'notes.png');
    fs.writeFileSync(text, 'this is not an image');
    for (const file of [truncated, text]) {
      const err = await readImage(file).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ImageReadError);
      expect((err as ImageReadError).reason).toBe('corrupt');
      expect((err as Error).message).toContain(file);
      expect((err as Error).message).toMatch(/corrupt or not a PNG, JPEG or WebP/);
    }
    const missing = path.join(dir, 'nope.png');
    const err = await readImage(missing).catch((e: unknown) => e);
    expect((err as ImageReadError).reason).toBe('missing');
    expect((err as Error).message).toContain(missing);
    await expect(readImage(Buffer.from('xx'), { name: 'upload.png' })).rejects.toThrow(/'upload\.png'/);
    await expect(imageSize(text)).rejects.toThrow(text);
  });
});

describe('the pixel limit (issue 17, items 3 and 19)', () => {
  it('refuses a decompression bomb from its header: 16000 × 16000 claimed by a few hundred bytes', async () => {
    const bomb = path.join(dir, 'bomb.png');
    fs.writeFileSync(bomb, pngWithHeader(16000, 16000));
    expect(fs.statSync(bomb).size).toBeLessThan(100);
    const { error, peakGrowth } = await withPeakMemory(() => readImage(bomb, { channels: 1, size: 256 }));
    expect(error).toBeInstanceOf(ImageReadError);
    expect((error as ImageReadError).reason).toBe('too-large');
    expect((error as Error).message).toMatch(
      /Image '.*bomb\.png' is 16000×16000 = 256\.0 Mpx, above the limit of 16777216 pixels \(16\.8 Mpx\); scale it down, or raise the limit with maxPixels 256000000/,
    );
    expect((error as ImageReadError).option).toBe('maxPixels');
    expect(peakGrowth).toBeLessThan(64 * MiB);
    // The limit is what stops it: raised, the (truncated) data is decoded and found corrupt.
    const raised = await readImage(bomb, { maxPixels: 16000 * 16000 }).catch((e: unknown) => e);
    expect((raised as ImageReadError).reason).toBe('corrupt');
  });

  it('a real image over the default limit is refused, and reads with maxPixels raised', async () => {
    expect(DEFAULT_MAX_PIXELS).toBe(4096 * 4096);
    const big = path.join(dir, 'big.png');
    await sharp({ create: { width: 4200, height: 4100, channels: 3, background: { r: 200, g: 10, b: 10 } } }).png().toFile(big);
    await expect(checkImage(big)).rejects.toThrow(/4200×4100 = 17\.2 Mpx, above the limit/);
    const err = await readImage(big, { size: 8 }).catch((e: unknown) => e);
    expect((err as ImageReadError).reason).toBe('too-large');
    const ok = await readImage(big, { size: 8, maxPixels: 4200 * 4100 });
    expect([ok.width, ok.height, ok.data[0]]).toEqual([8, 8, 200]);
    await expect(checkImage(big, { maxPixels: 4200 * 4100 })).resolves.toEqual({ width: 4200, height: 4100 });
    await expect(readImage(big, { maxPixels: 0 })).rejects.toThrow(OptionError);
    await expect(readImage(big, { maxPixels: 0 })).rejects.toThrow(/maxPixels must be a positive integer \(pixels\), got '0'/);
  });

  it('says that a folder is a folder, not an unsupported image', async () => {
    const folder = path.join(dir, 'a-folder.png');
    fs.mkdirSync(folder);
    for (const read of [() => readImage(folder), () => checkImage(folder), () => readImageTensor(folder)]) {
      const err = await read().catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ImageReadError);
      expect((err as ImageReadError).reason).toBe('not-a-file');
      expect((err as Error).message).toBe(`'${folder}' is a folder, not an image file; give a PNG, JPEG or WebP file.`);
    }
  });
});

describe('writePng', () => {
  it('round-trips 8-bit RGB and grey rasters exactly', async () => {
    const rgb = { data: pattern(5, 4, 3), width: 5, height: 4, channels: 3 as const };
    const file = path.join(dir, 'out', 'rgb.png');
    await writePng(file, rgb);
    expect(Array.from((await readImage(file)).data)).toEqual(Array.from(rgb.data));
    const grey = rgbToGrey(rgb);
    await writePng(path.join(dir, 'grey.png'), grey);
    const meta = await sharp(path.join(dir, 'grey.png')).metadata();
    expect(meta.channels).toBe(1);
    expect(Array.from((await readImage(path.join(dir, 'grey.png'), { channels: 1 })).data)).toEqual(
      Array.from(grey.data),
    );
  });

  it('writes float rasters and tensors in a given range', async () => {
    const t = tf.tensor4d([-1, 0, 1, 1, 0, -1], [1, 1, 2, 3]);
    const img = await readImage(await encodePng(t, { range: [-1, 1] }));
    expect(Array.from(img.data)).toEqual([0, 128, 255, 255, 128, 0]);
    const f = { data: new Float32Array([0, 0.5, 1, 2]), width: 2, height: 2, channels: 1 as const };
    const g = await readImage(await encodePng(f), { channels: 1 });
    expect(Array.from(g.data)).toEqual([0, 128, 255, 255]);
    await expect(encodePng(tf.zeros([2, 2, 2, 3]))).rejects.toThrow(/Slice one image/);
    t.dispose();
  });
});
