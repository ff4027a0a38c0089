// loadColorizer of tag2pix/io: from URLs, Responses, Files, Blobs or bytes to a ready generator
// and CIT extractor, with progress, disposal and one clear error per wrong input (nothing left
// allocated on any failure).
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildCITExtractor, buildTag2PixDiscriminator, buildTag2PixGenerator, colorizeTensor, exportTorchStateDict } from '../../src/index.js';
import { loadColorizer, readTorchCheckpoint, torchStateDictFrom, writeSafetensors, type LoadProgressEvent } from '../../src/io/index.js';
import { CHECKPOINT_FORMAT, captureCheckpoint, releaseCheckpoint, Tag2PixTrainer } from '../../src/training/index.js';
import { maxAbsDiff } from '../helpers/roundtrip.js';

const fixtures = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'models', 'fixtures');
const LEGACY_PKL = readFileSync(path.join(fixtures, 'generator_tiny_legacy.pkl'));
const ZIP_PTH = readFileSync(path.join(fixtures, 'generator_tiny_zip.pth'));
const SIZE = 32;

function bytesOf(model: tfl.LayersModel, prefix = ''): Uint8Array {
  const dict = exportTorchStateDict(model, { prefix });
  const bytes = writeSafetensors(dict);
  tf.dispose(Object.values(dict));
  return bytes;
}

let generator: tfl.LayersModel;
let cit: tfl.LayersModel;
let gBytes: Uint8Array;
let cBytes: Uint8Array;
let server: Server;
let base: string;

beforeAll(async () => {
  generator = buildTag2PixGenerator({ inputSize: SIZE, widthMultiplier: 0.125, decoderLayers: [1, 1, 1, 1] });
  // Batch statistics, as loadColorizer builds the extractor (the published code runs it so).
  cit = buildCITExtractor({ inputSize: SIZE, batchNormMode: 'batch-stats' });
  gBytes = bytesOf(generator);
  cBytes = bytesOf(cit);
  // A real HTTP server, so that URLs go through the runtime's own fetch.
  server = createServer((req, res) => {
    const files: Record<string, Uint8Array> = { '/w/generator.safetensors': gBytes, '/w/cit%20extractor.safetensors': cBytes };
    const body = files[req.url ?? ''];
    if (!body) {
      res.writeHead(404, 'Not Found').end('no such file');
      return;
    }
    res.writeHead(200, { 'content-length': String(body.byteLength), 'content-type': 'application/octet-stream', connection: 'close' });
    // In several writes, so that progress has steps.
    const step = Math.ceil(body.byteLength / 4);
    for (let i = 0; i < body.byteLength; i += step) res.write(body.subarray(i, i + step));
    res.end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  generator.dispose();
  cit.dispose();
  await new Promise((resolve) => server.close(resolve));
});

/** The colorizer's weights equal the source models' (key for key). */
async function expectSameWeights(loaded: tfl.LayersModel, source: tfl.LayersModel): Promise<void> {
  const a = exportTorchStateDict(loaded);
  const b = exportTorchStateDict(source);
  try {
    expect(Object.keys(a).sort()).toEqual(Object.keys(b).sort());
    for (const k of Object.keys(b)) expect(await maxAbsDiff(a[k]!, b[k]!), k).toBe(0);
  } finally {
    tf.dispose([...Object.values(a), ...Object.values(b)]);
  }
}

async function rejection(p: Promise<unknown>): Promise<Error> {
  return p.then(
    () => {
      throw new Error('expected a rejection');
    },
    (e: Error) => e,
  );
}

describe('loadColorizer (tag2pix/io)', () => {
  it('takes URLs, Responses, Files, Blobs, ArrayBuffers, Uint8Arrays and named bytes alike', async () => {
    const copy = (b: Uint8Array) => b.slice().buffer;
    // A view into a larger buffer, as a Node Buffer slice is.
    const padded = new Uint8Array(gBytes.byteLength + 16);
    padded.set(gBytes, 8);
    const variants: Array<[string, Parameters<typeof loadColorizer>[0], string, string]> = [
      ['URLs', [`${base}/w/generator.safetensors`, new URL(`${base}/w/cit%20extractor.safetensors`)], 'generator.safetensors', 'cit extractor.safetensors'],
      ['Responses', [new Response(copy(gBytes)), new Response(copy(cBytes))], 'response 1', 'response 2'],
      ['Files', [new File([copy(gBytes)], 'g.safetensors'), new File([copy(cBytes)], 'c.safetensors')], 'g.safetensors', 'c.safetensors'],
      ['Blobs', [new Blob([copy(cBytes)]), new Blob([copy(gBytes)])], 'blob 2', 'blob 1'],
      ['an ArrayBuffer and a Uint8Array', [copy(gBytes), cBytes], 'weights 1', 'weights 2'],
      ['a view into a larger buffer', [padded.subarray(8, 8 + gBytes.byteLength), cBytes], 'weights 1', 'weights 2'],
      ['named bytes', [{ name: 'cit.st', bytes: cBytes }, { name: 'gen.st', bytes: copy(gBytes) }], 'gen.st', 'cit.st'],
    ];
    for (const [what, sources, generatorSource, citSource] of variants) {
      const before = tf.memory().numTensors;
      const c = await loadColorizer(sources);
      expect(c.sources.citExtractor, what).toBe(citSource);
      expect(c.sources.generator, what).toBe(generatorSource);
      expect(c.config).toMatchObject({ inputSize: SIZE, widthMultiplier: 0.125, citFeatures: true, citChannels: 512 });
      expect(c.citSource).toBe('weights');
      await expectSameWeights(c.generator, generator);
      await expectSameWeights(c.citExtractor!, cit);
      c.dispose();
      c.dispose(); // twice is harmless
      expect(tf.memory().numTensors, what).toBe(before);
    }
  });

  it('colourises with what it loaded, as with the source models', async () => {
    const c = await loadColorizer([{ name: 'g', bytes: gBytes }, { name: 'c', bytes: cBytes }]);
    const lineArt = tf.randomUniform([SIZE, SIZE, 1], 0, 1, 'float32', 5);
    const a = colorizeTensor({ lineArt, tags: ['blue_hair'], ...c });
    const b = colorizeTensor({ lineArt, tags: ['blue_hair'], generator, citExtractor: cit });
    expect(await maxAbsDiff(a, b)).toBe(0);
    tf.dispose([lineArt, a, b]);
    c.dispose();
  });

  it('reports download progress: initiate, progress, done per file, fractions rising to 1 at ready', async () => {
    const events: Array<[number, LoadProgressEvent]> = [];
    const c = await loadColorizer([`${base}/w/generator.safetensors`, `${base}/w/cit%20extractor.safetensors`], {
      onProgress: (fraction, event) => events.push([fraction, event]),
    });
    c.dispose();
    const fractions = events.map(([f]) => f);
    expect(fractions.every((f, i) => f >= 0 && f <= 1 && (i === 0 || f >= fractions[i - 1]!))).toBe(true);
    expect(events.at(-1)).toEqual([1, expect.objectContaining({ status: 'ready' })]);
    expect(fractions.slice(0, -1).every((f) => f < 1)).toBe(true);
    for (const [file, size] of [['generator.safetensors', gBytes.byteLength], ['cit extractor.safetensors', cBytes.byteLength]] as const) {
      const own = events.map(([, e]) => e).filter((e) => e.file === file);
      expect(own[0]!.status).toBe('initiate');
      expect(own.at(-1)).toEqual({ status: 'done', file, loaded: size, total: size, progress: 100 });
      expect(own.filter((e) => e.status === 'progress').length).toBeGreaterThan(0);
    }
    // A File has its size up front; plain bytes are done at once.
    const fileEvents: LoadProgressEvent[] = [];
    (await loadColorizer([new File([gBytes.slice()], 'g'), cBytes], { onProgress: (_, e) => fileEvents.push(e) })).dispose();
    expect(fileEvents.find((e) => e.file === 'g' && e.status === 'initiate')!.total).toBe(gBytes.byteLength);
    expect(fileEvents.filter((e) => e.file === 'weights 2').map((e) => e.status)).toEqual(['initiate', 'done']);
  });

  it('reads the official checkpoint formats: legacy pickle (.pkl) and zip (.pth), G entry, module. prefix', async () => {
    const expected = torchStateDictFrom(readTorchCheckpoint(new Uint8Array(LEGACY_PKL)), 'G');
    for (const [name, bytes] of [['tag2pix_tiny.pkl', LEGACY_PKL], ['tag2pix_tiny.pth', ZIP_PTH]] as const) {
      const c = await loadColorizer({ name, bytes });
      expect(c.sources.generator).toBe(`${name} (G)`);
      expect(c.config).toMatchObject({ inputSize: 16, decoderLayers: [1, 2, 1, 1], citFeatures: false, colorFcRelu: true });
      expect(c.citExtractor).toBeUndefined();
      expect(c.citSource).toBe('none');
      const loaded = exportTorchStateDict(c.generator);
      for (const [key, t] of Object.entries(expected)) {
        if (!key.endsWith('num_batches_tracked')) expect(await maxAbsDiff(loaded[key]!, t), key).toBe(0);
      }
      tf.dispose(Object.values(loaded));
      c.dispose();
    }
    tf.dispose(Object.values(expected));
  });

  it('finds both networks in one file under prefixes (with DataParallel module. keys), and ignores a discriminator', async () => {
    const both = writeSafetensors({
      ...Object.fromEntries(Object.entries(exportTorchStateDict(generator, { prefix: 'module.generator.' }))),
      ...Object.fromEntries(Object.entries(exportTorchStateDict(cit, { prefix: 'module.cit.' }))),
    });
    const d = buildTag2PixDiscriminator({ inputSize: SIZE, widthMultiplier: 0.25 });
    const dBytes = bytesOf(d);
    d.dispose();
    const before = tf.memory().numTensors;
    const c = await loadColorizer([{ name: 'both.safetensors', bytes: both }, { name: 'd.safetensors', bytes: dBytes }]);
    expect(c.sources).toEqual({ generator: 'both.safetensors (generator)', citExtractor: 'both.safetensors (cit)' });
    await expectSameWeights(c.generator, generator);
    await expectSameWeights(c.citExtractor!, cit);
    c.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });

  it('loads a training checkpoint, and takes the CIT features from the citExtractor option', async () => {
    const g = buildTag2PixGenerator({ inputSize: SIZE, widthMultiplier: 0.125, decoderLayers: [1, 1, 1, 1], citChannels: 2 });
    const d = buildTag2PixDiscriminator({ inputSize: SIZE, widthMultiplier: 0.25 });
    const trainer = new Tag2PixTrainer({ generator: g, discriminator: d });
    const state = { seed: 1, dataCursor: null, config: { demo: true } };
    const captured = captureCheckpoint(trainer, state);
    const bytes = writeSafetensors(captured.tensors, { tag2pix_checkpoint: CHECKPOINT_FORMAT, state: JSON.stringify(captured.state) });
    releaseCheckpoint(captured);
    const before = tf.memory().numTensors;
    const contexts: unknown[] = [];
    let standIn: tfl.LayersModel | undefined;
    const c = await loadColorizer({ name: 'checkpoint.safetensors', bytes }, {
      citExtractor: (context) => {
        contexts.push(context);
        const input = tfl.input({ shape: [SIZE, SIZE, 1] });
        const pooled = tfl.layers.averagePooling2d({ poolSize: 8, strides: 8 }).apply(input) as tfl.SymbolicTensor;
        standIn = tfl.model({ inputs: input, outputs: tfl.layers.concatenate().apply([pooled, pooled]) as tfl.SymbolicTensor });
        return standIn;
      },
    });
    expect(c.sources.generator).toBe('checkpoint.safetensors (training checkpoint)');
    expect(c.citSource).toBe('option');
    expect(c.citExtractor).toBe(standIn);
    expect(contexts).toEqual([{ config: c.config, runConfig: { demo: true } }]);
    expect(c.config).toMatchObject({ inputSize: SIZE, citChannels: 2 });
    for (const w of g.weights) expect(await maxAbsDiff(c.generator.weights.find((v) => v.originalName === w.originalName)!.read(), w.read()), w.originalName).toBe(0);
    c.dispose(); // the stand-in too: the colorizer owns it
    expect(tf.memory().numTensors).toBe(before);
    g.dispose();
    d.dispose();
  });

  it('lists every key that does not fit in one error, before it makes a tensor', async () => {
    const dict = exportTorchStateDict(generator);
    const wrong = tf.zeros([dict['colorFC.2.weight']!.shape[0]!, 3]);
    const extra = tf.zeros([2]);
    const broken = { ...dict, 'colorFC.2.weight': wrong, 'extra_head.weight': extra } as Record<string, tf.Tensor>;
    delete broken['colorFC.1.bias'];
    const bytes = writeSafetensors(broken);
    tf.dispose([...Object.values(dict), wrong, extra]);
    const before = tf.memory().numTensors;
    const err = await rejection(loadColorizer([{ name: 'broken.safetensors', bytes }, cBytes]));
    const [first, ...rest] = err.message.split('\n');
    expect(first).toBe(
      "The weights in 'broken.safetensors' do not fit the generator their shapes describe (32 px, width × 0.125, decoder blocks [1, 1, 1, 1]) (3 problems):",
    );
    expect(rest.sort()).toEqual([
      'missing: colorFC.1.bias [16]',
      'not used by the network: extra_head.weight [2]',
      'wrong shape: colorFC.2.weight is [16, 3], the network needs [16, 16]',
    ]);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('explains each wrong input, with nothing left allocated', async () => {
    const fc = tf.zeros([2, 2]);
    const unknown = writeSafetensors({ 'fc.weight': fc });
    fc.dispose();
    const before = tf.memory().numTensors;
    const png = new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 0]);
    const cases: Array<[Parameters<typeof loadColorizer>[0], Parameters<typeof loadColorizer>[1], RegExp]> = [
      [[{ name: 'lineart.png', bytes: png }], {}, /^'lineart.png' is a PNG image, not a weights file: give a .safetensors file or an official PyTorch checkpoint/],
      [[`${base}/w/missing.safetensors`], {}, /^Cannot download 'missing.safetensors' \(http:.*\): HTTP 404 Not Found\.$/],
      [[{ name: 'g', bytes: gBytes }], { help: 'How to get them.' }, /^'g' takes CIT features, so it needs a CIT extractor \(the CIT network's model\.pth, or its \.safetensors export\), which is missing from sources: give the CIT extractor's weights too\.\nHow to get them\.$/],
      [[{ name: 'c', bytes: cBytes }], {}, /^No generator weights in sources: c\.$/],
      [[{ name: 'g', bytes: gBytes }, { name: 'c', bytes: cBytes }], { size: 256 }, /^A 256 px generator was asked for \(size\), but g is a 32 px generator\.$/],
      [[{ name: 'g', bytes: gBytes }, { name: 'g16', bytes: LEGACY_PKL }], { size: 64 }, /^No generator weights for 64 px in sources: g, 'g16 \(G\)'\.\n'g' holds a generator of another size\.\n'g16' holds a generator of another size\.$/],
      [[{ name: 'x', bytes: unknown }], {}, /'x' holds neither a Tag2Pix generator nor a CIT extractor \(1 tensors, e.g. 'fc.weight'\)/],
      [[{ name: 'g1', bytes: gBytes }, { name: 'g2', bytes: gBytes }], {}, /^Several generators \(g1, g2\): give only the one to use, or choose by size/],
      [[{ name: 'g', bytes: gBytes }, { name: 'c1', bytes: cBytes }, { name: 'c2', bytes: cBytes }], {}, /^Several CIT extractors \(c1, c2\)/],
      [[{ name: 'cut', bytes: gBytes.subarray(0, 100) }], {}, /^Weight file 'cut': safetensors: the header length field says \d+ bytes but only 92 bytes follow it; the file is truncated/],
      [[], {}, /^loadColorizer: no weights given/],
      [[42 as unknown as Uint8Array], {}, /^loadColorizer: source 1 is \[object Number\]; give a URL/],
    ];
    for (const [sources, options, message] of cases) {
      const err = await rejection(loadColorizer(sources, options));
      expect(err.message).toMatch(message);
      expect(tf.memory().numTensors, err.message).toBe(before);
    }
    // Cancelled: a download stops with the signal's reason.
    const controller = new AbortController();
    controller.abort(new Error('the user went away'));
    const aborted = await rejection(loadColorizer([`${base}/w/generator.safetensors`], { signal: controller.signal }));
    expect(aborted.message).toBe('the user went away');
    expect(tf.memory().numTensors).toBe(before);
  });
});
