import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildCITExtractor, buildTag2PixGenerator, defaultVocabulary, exportTorchStateDict } from '../../src/index.js';
import { readTorchCheckpoint, torchStateDictFrom, writeSafetensors } from '../../src/io/index.js';
import { ImageReadError, colorize, colorizeToPng, loadColorizer } from '../../src/node/index.js';
import { pngWithHeader } from '../helpers/torch_files.js';
import { maxAbsDiff } from '../helpers/roundtrip.js';

const run = promisify(execFile);
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const TSX = path.join(ROOT, 'node_modules', '.bin', 'tsx');
const LEGACY_PKL = path.join(ROOT, 'test', 'models', 'fixtures', 'generator_tiny_legacy.pkl');

function writeWeights(dir: string, name: string, model: tfl.LayersModel): string {
  const dict = exportTorchStateDict(model);
  const file = path.join(dir, `${name}.safetensors`);
  fs.writeFileSync(file, writeSafetensors(dict));
  tf.dispose(Object.values(dict));
  return file;
}

describe('loadColorizer and colorize from files', () => {
  let dir: string;
  let lineArtFile: string;
  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tag2pix-colorize-'));
    const weights = path.join(dir, 'weights');
    fs.mkdirSync(weights);
    writeWeights(weights, 'generator', buildTag2PixGenerator({ inputSize: 32, widthMultiplier: 0.125, decoderLayers: [1, 1, 1, 1] }));
    writeWeights(weights, 'cit_extractor', buildCITExtractor({ inputSize: 32 }));
    // A 60×100 RGBA line art: black strokes on transparent, which must become white.
    lineArtFile = path.join(dir, 'lineart.png');
    const pixels = Buffer.alloc(60 * 100 * 4);
    for (let y = 0; y < 100; y++) for (let x = 0; x < 60; x++) if ((x + y) % 17 === 0) pixels[(y * 60 + x) * 4 + 3] = 255;
    await sharp(pixels, { raw: { width: 60, height: 100, channels: 4 } }).png().toFile(lineArtFile);
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('builds the generator and CIT extractor from a folder and colourises a path, a Buffer and a tensor alike', async () => {
    const c = await loadColorizer(path.join(dir, 'weights'));
    expect(c.config.inputSize).toBe(32);
    expect(c.sources.citExtractor).toMatch(/cit_extractor\.safetensors$/);
    const options = { tags: ['blue_hair', 'red_eyes'], generator: c.generator, citExtractor: c.citExtractor };
    const fromPath = await colorize({ ...options, lineArt: lineArtFile });
    expect(fromPath.shape).toEqual([100, 60, 3]);
    const fromBuffer = await colorize({ ...options, lineArt: fs.readFileSync(lineArtFile) });
    expect(await maxAbsDiff(fromPath, fromBuffer)).toBe(0);
    const png = await colorizeToPng({ ...options, lineArt: lineArtFile });
    const meta = await sharp(png).metadata();
    expect([meta.width, meta.height, meta.channels]).toEqual([60, 100, 3]);
    const fromTensor = await colorize({ ...options, lineArt: tf.ones([32, 32, 1]) });
    expect(fromTensor.shape).toEqual([32, 32, 3]);
  });

  it('reads the official legacy .pkl layout (G entry, module. prefix) and infers its configuration', async () => {
    const c = await loadColorizer(LEGACY_PKL);
    expect(c.sources.generator).toMatch(/generator_tiny_legacy\.pkl \(G\)$/);
    expect(c.config).toMatchObject({ inputSize: 16, decoderLayers: [1, 2, 1, 1], citFeatures: false, colorFcRelu: true });
    expect(c.citExtractor).toBeUndefined();
    const stored = torchStateDictFrom(readTorchCheckpoint(new Uint8Array(fs.readFileSync(LEGACY_PKL))), 'G');
    const loaded = exportTorchStateDict(c.generator);
    for (const [key, t] of Object.entries(stored)) {
      if (key.endsWith('num_batches_tracked')) continue;
      expect(await maxAbsDiff(loaded[key], t), key).toBe(0);
    }
    expect(Object.keys(loaded).sort()).toEqual(Object.keys(stored).sort());
    const rgb = await colorize({ lineArt: lineArtFile, tags: 'silver_hair', generator: c.generator });
    expect(rgb.shape).toEqual([100, 60, 3]);
  });

  it('picks the generator of the requested size when a folder holds several', async () => {
    const both = path.join(dir, 'both');
    fs.mkdirSync(both, { recursive: true });
    for (const f of fs.readdirSync(path.join(dir, 'weights'))) fs.copyFileSync(path.join(dir, 'weights', f), path.join(both, f));
    writeWeights(both, 'generator_16', buildTag2PixGenerator({ inputSize: 16, widthMultiplier: 0.125, decoderLayers: [1, 1, 1, 1] }));
    await expect(loadColorizer(both)).rejects.toThrow(/Several generators.*choose by size \(size\)\./);
    const c = await loadColorizer(both, { size: 32 });
    expect(c.config.inputSize).toBe(32);
    expect(c.sources.generator).toMatch(/generator\.safetensors$/);
    await expect(loadColorizer(both, { size: 64 })).rejects.toThrow(/No generator weights for 64 px/);
  });

  it('explains what is missing: no weights, no CIT extractor, wrong size', async () => {
    const empty = path.join(dir, 'empty');
    fs.mkdirSync(empty, { recursive: true });
    await expect(loadColorizer(empty)).rejects.toThrow(/holds no weight files[\s\S]*releases/);
    await expect(loadColorizer(path.join(dir, 'nope'))).rejects.toThrow(/do not exist[\s\S]*tools\/export_torch_checkpoint\.py/);
    await expect(loadColorizer(path.join(dir, 'weights', 'generator.safetensors'))).rejects.toThrow(/needs a CIT extractor/);
    await expect(loadColorizer(path.join(dir, 'weights'), { size: 256 })).rejects.toThrow(/is a 32 px generator/);
    await expect(loadColorizer(path.join(dir, 'weights', 'cit_extractor.safetensors'))).rejects.toThrow(/No generator weights/);
  });

  it('CLI: tag2pix colorize writes the PNG; without weights it says how to get them; tag2pix tags filters', async () => {
    const cli = path.join(ROOT, 'src', 'cli', 'index.ts');
    const out = path.join(dir, 'cli', 'out.png');
    const env = { ...process.env, TAG2PIX_BACKEND: 'cpu' };
    // A temporary left by a colorize killed while writing this output is removed.
    fs.mkdirSync(path.dirname(out), { recursive: true });
    const stale = `${out}.tmp-${2 ** 22 + 5}-1700000000000`;
    fs.writeFileSync(stale, 'half a png');
    const ok = await run(TSX, [cli, 'colorize', lineArtFile, '--tags', 'blue_hair,red_eyes', '--weights', path.join(dir, 'weights'), '--out', out], { env });
    expect(fs.existsSync(stale)).toBe(false);
    expect(fs.readdirSync(path.dirname(out))).toEqual(['out.png']);
    expect(ok.stderr).toMatch(/backend cpu; 32 px generator/);
    // Without a terminal the result is on stdout, the messages on stderr.
    expect(ok.stdout).toMatch(/^tag2pix: wrote .*out\.png in [\d.]+ s\n$/);
    const meta = await sharp(out).metadata();
    expect([meta.width, meta.height]).toEqual([60, 100]);

    const failed = await run(TSX, [cli, 'colorize', lineArtFile, '--tags', 'blue_hair'], { env }).catch((e: { code: number; stderr: string }) => e);
    expect((failed as { code: number }).code).toBe(1);
    expect((failed as { stderr: string }).stderr).toMatch(/no weights given[\s\S]*tag2pix_256\.pkl[\s\S]*docs\/training\.md/);

    const badTag = await run(TSX, [cli, 'colorize', lineArtFile, '--tags', 'blue_hiar', '--weights', path.join(dir, 'weights'), '--out', out], { env }).catch((e: { code: number; stderr: string }) => e);
    expect((badTag as { stderr: string }).stderr).toMatch(/blue_hiar[\s\S]*blue_hair/);
    // … and points to the command that lists the tags.
    expect((badTag as { stderr: string }).stderr).toMatch(/'tag2pix tags' lists the known ones/);

    // The tags and the line art are checked before the weights are read: these weights do not exist.
    const nowhere = path.join(dir, 'no-such-weights');
    const early = async (args: string[]) =>
      ((await run(TSX, [cli, 'colorize', ...args, '--weights', nowhere, '--out', out], { env }).catch((e: { stderr: string }) => e)) as { stderr: string }).stderr;
    expect(await early([lineArtFile, '--tags', 'blue_hiar'])).toMatch(/Unknown tag in --tags: 'blue_hiar'/);
    expect(await early([lineArtFile, '--tags', 'long_hair'])).toMatch(/'long_hair' is not a colour tag[\s\S]*blonde_hair/);
    expect(await early([path.join(dir, 'missing.png'), '--tags', 'blue_hair'])).toMatch(/missing\.png/);
    expect(await early([lineArtFile, '--tags', 'blue_hair'])).toMatch(/Weights '.*no-such-weights' \(--weights\) do not exist/);

    const tags = await run(TSX, [cli, 'tags', '--filter', 'hair', '--kind', 'cvt'], { env });
    expect(tags.stdout).toMatch(/blue_hair/);
    expect(tags.stdout).not.toMatch(/long_hair/);
  });

  it('examples/colorize.ts runs (with untrained weights it writes itself)', async () => {
    const out = path.join(dir, 'example.png');
    const { stdout } = await run(TSX, [path.join(ROOT, 'examples', 'colorize.ts'), lineArtFile, out, 'pink_hair'], {
      env: { ...process.env, TAG2PIX_BACKEND: 'cpu' },
      cwd: ROOT,
    });
    expect(stdout).toMatch(/wrote .*example\.png/);
    const meta = await sharp(out).metadata();
    expect([meta.width, meta.height]).toEqual([60, 100]);
  });
});

describe('colorize checks the tags and the image before any work (issue 17, items 3, 21)', () => {
  it('names null tags, forged Tag objects and an over-limit image, leaking nothing', async () => {
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tag2pix-colorize-checks-'));
    try {
      const generator = buildTag2PixGenerator({ inputSize: 16, widthMultiplier: 0.0625, decoderLayers: [1, 1, 1, 1], citFeatures: false });
      const small = path.join(tmp, 'small.png');
      await sharp({ create: { width: 20, height: 20, channels: 3, background: '#fff' } }).png().toFile(small);
      const bomb = path.join(tmp, 'bomb.png');
      fs.writeFileSync(bomb, pngWithHeader(16000, 16000));
      const before = tf.memory().numTensors;
      await expect(colorize({ lineArt: small, tags: null as never, generator })).rejects.toThrow(
        /^tags must be a string of tag names or an array of names, ids or Tag objects; got null\.$/,
      );
      const forged = { ...defaultVocabulary().get('blue_hair'), index: 1e9 };
      await expect(colorize({ lineArt: small, tags: [forged], generator })).rejects.toThrow(/tags\[0\] is a Tag object .* not in this vocabulary/);
      const tooLarge = await colorize({ lineArt: bomb, tags: 'blue_hair', generator }).catch((e: unknown) => e);
      expect(tooLarge).toBeInstanceOf(ImageReadError);
      expect((tooLarge as ImageReadError).reason).toBe('too-large');
      expect((tooLarge as Error).message).toMatch(/raise the limit with maxPixels 256000000/);
      // Raised, the limit lets the file through to its decoding (where its missing data shows).
      const raised = await colorize({ lineArt: bomb, tags: 'blue_hair', generator, maxPixels: 16000 * 16000 }).catch((e: unknown) => e);
      expect((raised as ImageReadError).reason).toBe('corrupt');
      expect(tf.memory().numTensors).toBe(before);
      generator.dispose();
    } finally {
      fs.rmSync(tmp, { recursive: true, force: true });
    }
  });
});
