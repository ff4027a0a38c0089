// sharp is an optional peer: without it, every Node image function fails with one error that
// names the function and the fix, and nothing else of tag2pix/node needs it.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, describe, expect, it, vi } from 'vitest';

// This file runs as a machine without sharp: importing it fails as Node fails for a missing package.
vi.mock('sharp', () => {
  throw Object.assign(new Error("Cannot find package 'sharp' imported from /app/node_modules/tag2pix/dist/node.cjs"), {
    code: 'ERR_MODULE_NOT_FOUND',
  });
});

const { SharpMissingError, loadSharp } = await import('../../src/node/sharp.js');
const node = await import('../../src/node/index.js');

const dir = mkdtempSync(path.join(os.tmpdir(), 'tag2pix-nosharp-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const fix = 'Install it beside tag2pix: npm install sharp';

describe('without sharp', () => {
  it('each Node image function says that it needs sharp and how to install it', async () => {
    const png = path.join(dir, 'in.png');
    writeFileSync(png, 'not decoded anyway');
    const image = { data: new Uint8Array(4), width: 2, height: 2, channels: 1 as const };
    const calls: Array<[string, () => Promise<unknown>]> = [
      ['readImage', () => node.readImage(png)],
      ['imageSize', () => node.imageSize(png)],
      ['readImage', () => node.readImageTensor(png)],
      ['resizeImage', () => node.resizeImage(image, 4, 4)],
      ['encodePng', () => node.encodePng(image)],
      ['encodePng', () => node.writePng(path.join(dir, 'out.png'), image)],
      ['renderSvgToPng', () => node.renderSvgToPng('<svg xmlns="http://www.w3.org/2000/svg"/>')],
      ['extractLineArtFolder', () => node.extractLineArtFolder(dir, path.join(dir, 'lines'), { workers: 0 })],
    ];
    for (const [what, call] of calls) {
      const err = await call().then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err, what).toBeInstanceOf(SharpMissingError);
      expect((err as Error).message).toMatch(new RegExp(`^${what} needs the optional package 'sharp'`));
      expect((err as Error).message).toContain(fix);
    }
  });

  it('leaves the rest of tag2pix/node working: backends, weights, the tensor path of colorize', async () => {
    const before = tf.memory().numTensors;
    const report = await node.initBackend('cpu');
    expect(report.backend).toBe('cpu');
    expect(node.HOW_TO_GET_WEIGHTS).toContain('generator');
    expect(tf.memory().numTensors).toBe(before);
  });

  it('tells a package that is installed but does not load from a missing one', async () => {
    const broken = await loadSharp('encodePng', () => Promise.reject(new Error('Could not load the "sharp" module using the linux-x64 runtime\nmore'))).catch((e: Error) => e);
    expect(broken).toBeInstanceOf(SharpMissingError);
    expect((broken as Error).message).toBe(
      "encodePng needs the package 'sharp', which is installed but does not load (Could not load the \"sharp\" module using the linux-x64 runtime). " +
        'Reinstall it for this platform: npm install --force sharp (see https://sharp.pixelplumbing.com/install)',
    );
    const notAFunction = await loadSharp('readImage', () => Promise.resolve({ default: 42 })).catch((e: Error) => e);
    expect((notAFunction as Error).message).toContain("its module has no 'sharp' function");
    // A CommonJS require of a missing package says MODULE_NOT_FOUND.
    const viaRequire = new SharpMissingError('readImage', Object.assign(new Error("Cannot find module 'sharp'"), { code: 'MODULE_NOT_FOUND' }));
    expect(viaRequire.message).toContain(fix);
  });
});
