import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { xdog } from '../../src/data/index.js';
import { OutputError } from '../../src/errors.js';
import { lineArtOutputNames } from '../../src/node/lineart.js';
import { XDoGWorkerPool, extractLineArtFolder, readImage } from '../../src/node/index.js';

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'tag2pix-lineart-'));
const input = path.join(root, 'rgb');
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

beforeAll(async () => {
  fs.mkdirSync(input);
  const svg = (fill: string) =>
    Buffer.from(`<svg width="60" height="40"><rect x="10" y="8" width="30" height="20" fill="${fill}"/><circle cx="45" cy="25" r="9" fill="#135"/></svg>`);
  await sharp({ create: { width: 60, height: 40, channels: 3, background: '#e0c0a0' } })
    .composite([{ input: svg('#a03') }])
    .png()
    .toFile(path.join(input, 'one.png'));
  await sharp({ create: { width: 60, height: 60, channels: 3, background: '#fff' } })
    .composite([{ input: svg('#2a6'), left: 0, top: 10 }])
    .jpeg({ quality: 95 })
    .toFile(path.join(input, 'two.jpg'));
  fs.writeFileSync(path.join(input, 'broken.webp'), 'not an image');
  fs.writeFileSync(path.join(input, 'notes.txt'), 'ignored');
});

describe('XDoGWorkerPool', () => {
  it('computes exactly what xdog() computes, on worker threads', async () => {
    const pool = new XDoGWorkerPool(2);
    try {
      const grey = await readImage(path.join(input, 'one.png'), { channels: 1 });
      const params = [{}, { sigma: 0.8, k: 1.6, phi: 50, epsilon: -0.05 }];
      const results = await Promise.all(params.map((p) => pool.run(grey, p)));
      results.forEach((r, i) => {
        expect([r.width, r.height, r.channels]).toEqual([60, 40, 1]);
        expect(Array.from(r.data)).toEqual(Array.from(xdog(grey, params[i]).data));
      });
      expect(grey.data.byteLength).toBe(60 * 40); // the caller's buffer is not transferred away
      await expect(pool.run({ ...grey, channels: 3, data: new Uint8Array(7200) })).rejects.toThrow(/grey image/);
    } finally {
      await pool.close();
    }
  });
});

describe('extractLineArtFolder', () => {
  it('writes one grey PNG per image, equal to xdog of the image, and reports unreadable files', async () => {
    const out = path.join(root, 'xdog_train');
    const progress: number[] = [];
    const result = await extractLineArtFolder(input, out, { workers: 2, onProgress: (d) => progress.push(d) });
    expect(result).toMatchObject({ total: 3, written: 2, existing: 0 });
    expect(result.failed.map((f) => path.basename(f.file))).toEqual(['broken.webp']);
    expect(result.failed[0]!.error).toMatch(/corrupt or not a PNG/);
    expect(progress.sort()).toEqual([1, 2, 3]);
    expect(fs.readdirSync(out).sort()).toEqual(['one.png', 'two.png']);
    for (const [src, dst] of [['one.png', 'one.png'], ['two.jpg', 'two.png']]) {
      const expected = xdog(await readImage(path.join(input, src!), { channels: 1 }));
      const meta = await sharp(path.join(out, dst!)).metadata();
      expect(meta.channels).toBe(1);
      const written = await readImage(path.join(out, dst!), { channels: 1 });
      expect(Array.from(written.data)).toEqual(Array.from(expected.data));
    }
    // A second run keeps what is there.
    const again = await extractLineArtFolder(input, out, { workers: 0 });
    expect(again).toMatchObject({ written: 0, existing: 2 });
  });

  it('scales to --size (longer side) on the main thread too', async () => {
    const out = path.join(root, 'small');
    const result = await extractLineArtFolder(input, out, { workers: 0, size: 30 });
    expect(result.written).toBe(2);
    expect(await sharp(path.join(out, 'one.png')).metadata()).toMatchObject({ width: 30, height: 20 });
    expect(await sharp(path.join(out, 'two.png')).metadata()).toMatchObject({ width: 30, height: 30 });
  });

  it('rejects bad folders and options with a reason', async () => {
    await expect(extractLineArtFolder(path.join(root, 'nope'), path.join(root, 'o'))).rejects.toThrow(/cannot be read/);
    fs.mkdirSync(path.join(root, 'emptydir'));
    await expect(extractLineArtFolder(path.join(root, 'emptydir'), path.join(root, 'o'))).rejects.toThrow(/No PNG, JPEG or WebP/);
    await expect(extractLineArtFolder(input, input)).rejects.toThrow(/outDir .* is the input folder .*; the line arts would replace the colour images/);
    await expect(extractLineArtFolder(input, path.join(root, 'o'), { size: 0 })).rejects.toThrow(/positive integer/);
  });
});

describe('extractLineArtFolder never loses an input (issue 17, items 9 and 10)', () => {
  // A small picture whose dark square sits at a place that depends on `value`.
  const tiny = (name: string, value: number) =>
    sharp({ create: { width: 20, height: 16, channels: 3, background: { r: 230, g: 220, b: 200 } } })
      .composite([{ input: Buffer.from(`<svg width="6" height="6"><rect width="6" height="6" fill="#123"/></svg>`), left: value % 14, top: value % 10 }])
      .toFormat(path.extname(name).slice(1) === 'jpg' ? 'jpeg' : (path.extname(name).slice(1) as 'png' | 'webp'))
      .toBuffer();
  const snapshot = (dir: string) => Object.fromEntries(fs.readdirSync(dir).sort().map((f) => [f, fs.readFileSync(path.join(dir, f)).toString('base64')]));

  it('refuses an output folder that is the input folder through a symlink, even with overwrite', async () => {
    const color = path.join(root, 'exl');
    fs.mkdirSync(color);
    fs.writeFileSync(path.join(color, 'a.png'), await tiny('a.png', 10));
    fs.writeFileSync(path.join(color, 'b.jpg'), await tiny('b.jpg', 200));
    fs.symlinkSync(color, path.join(root, 'exl_link'));
    const before = snapshot(color);
    for (const out of [path.join(root, 'exl_link'), path.join(root, 'exl_link', '.'), path.join(root, 'exl', '..', 'exl')]) {
      const err = await extractLineArtFolder(color, out, { overwrite: true, workers: 0 }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(OutputError);
      expect((err as Error).message).toMatch(/^outDir '.*' is the input folder '.*exl'.*; the line arts would replace the colour images/);
    }
    expect(snapshot(color)).toEqual(before);
  });

  it('leaves an input alone when an output name is a link to it, even with overwrite', async () => {
    const color = path.join(root, 'linked-in');
    const out = path.join(root, 'linked-out');
    fs.mkdirSync(color);
    fs.mkdirSync(out);
    fs.writeFileSync(path.join(color, 'a.png'), await tiny('a.png', 10));
    fs.writeFileSync(path.join(color, 'b.png'), await tiny('b.png', 99));
    fs.symlinkSync(path.join(color, 'a.png'), path.join(out, 'a.png'));
    const before = snapshot(color);
    const result = await extractLineArtFolder(color, out, { overwrite: true, workers: 0 });
    expect(result.written).toBe(1);
    expect(result.failed).toEqual([{ file: path.join(color, 'a.png'), error: expect.stringMatching(/is one of the input images \(through a link\); it is left alone/) }]);
    expect(snapshot(color)).toEqual(before);
    expect(fs.lstatSync(path.join(out, 'a.png')).isSymbolicLink()).toBe(true);
  });

  it('gives inputs that share an output name distinct outputs and reports them', async () => {
    const color = path.join(root, 'collide');
    const out = path.join(root, 'collide-out');
    fs.mkdirSync(color);
    for (const [name, v] of [['good.png', 1], ['good.jpg', 5], ['good.webp', 9], ['solo.jpg', 3], ['good.jpg.jpg', 13]] as const) {
      fs.writeFileSync(path.join(color, name), await tiny(name, v));
    }
    const result = await extractLineArtFolder(color, out, { workers: 0 });
    expect(result.written).toBe(5);
    // good.jpg.jpg keeps its own output name good.jpg.png, so good.jpg, renamed, takes good.jpg-2.png.
    expect(fs.readdirSync(out).sort()).toEqual(['good.jpg-2.png', 'good.jpg.png', 'good.png', 'good.webp.png', 'solo.png']);
    expect(result.renamed).toEqual([
      { file: path.join(color, 'good.jpg'), output: path.join(out, 'good.jpg-2.png') },
      { file: path.join(color, 'good.webp'), output: path.join(out, 'good.webp.png') },
    ]);
    // Each output is the line art of its own input.
    const pairs = [['good.png', 'good.png'], ['good.jpg', 'good.jpg-2.png'], ['good.webp', 'good.webp.png'], ['good.jpg.jpg', 'good.jpg.png']];
    const written = await Promise.all(pairs.map(([, o]) => readImage(path.join(out, o!), { channels: 1 })));
    for (const [i, [src]] of pairs.entries()) {
      const expected = xdog(await readImage(path.join(color, src!), { channels: 1 }));
      expect(Array.from(written[i]!.data), src).toEqual(Array.from(expected.data));
    }
    expect(new Set(written.map((w) => Array.from(w.data).join())).size).toBe(4);
    expect(lineArtOutputNames(['A.PNG', 'a.jpg'])).toEqual(new Map([['A.PNG', 'A.png'], ['a.jpg', 'a.jpg.png']]));
    expect(lineArtOutputNames(['x.jpg', 'x.webp', 'x.jpg.png'])).toEqual(
      new Map([['x.jpg.png', 'x.jpg.png'], ['x.jpg', 'x.jpg-2.png'], ['x.webp', 'x.webp.png']]),
    );
  });

  it('removes the temporaries a killed run left in the output folder', async () => {
    const color = path.join(root, 'temps');
    const out = path.join(root, 'temps-out');
    fs.mkdirSync(color);
    fs.mkdirSync(out);
    fs.writeFileSync(path.join(color, 'a.png'), await tiny('a.png', 10));
    const stale = path.join(out, `a.png.tmp-${2 ** 22 + 7}-1700000000000`);
    fs.writeFileSync(stale, 'half a png');
    const result = await extractLineArtFolder(color, out, { workers: 0 });
    expect(result.removedTemporaries).toEqual([stale]);
    expect(fs.readdirSync(out)).toEqual(['a.png']);
  });
});

describe('tag2pix extract-lineart (CLI)', () => {
  it('builds the folder and reports what it did', () => {
    const out = path.join(root, 'cli-out');
    const tsx = path.resolve('node_modules/.bin/tsx');
    const stdout = execFileSync(tsx, ['src/cli/index.ts', 'extract-lineart', input, out, '--method', 'xdog', '--size', '32'], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    expect(stdout).toMatch(/Wrote 2 line arts to .*cli-out.*1 unreadable file\(s\) skipped/);
    expect(fs.readdirSync(out).sort()).toEqual(['one.png', 'two.png']);
    let err = '';
    try {
      execFileSync(tsx, ['src/cli/index.ts', 'extract-lineart', input, out, '--method', 'keras'], { encoding: 'utf8', stdio: 'pipe' });
    } catch (e) {
      err = String((e as { stderr: string }).stderr);
    }
    expect(err).toMatch(/unknown --method 'keras'/);
  });
});
