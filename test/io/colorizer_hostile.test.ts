// loadColorizer of tag2pix/io (the browser path: bytes, Blobs, Responses, URLs) on files from
// strangers, as docs/security.md promises for every weight loader: zip checkpoints are read
// lazily (entries nothing references are never inflated, records are capped at their storage's
// size), only the tensors the two networks use are decoded, NaN, infinite and integer weights are
// refused, downloads are capped in bytes, and every failure is one of src/errors.ts's classes,
// naming the source and the option, with nothing left allocated. test/node/weights.test.ts checks
// the same on the Node path (paths and folders).
import { deflateRawSync } from 'node:zlib';
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { beforeAll, describe, expect, it } from 'vitest';
import { FileFormatError, LimitError, OptionError, Tag2PixError, WeightsError } from '../../src/errors.js';
import { buildCITExtractor, buildTag2PixGenerator, exportTorchStateDict } from '../../src/index.js';
import { loadColorizer, writeSafetensors, type WeightSource } from '../../src/io/index.js';
import { CHECKPOINT_FORMAT } from '../../src/training/index.js';
import { MiB, withPeakMemory } from '../helpers/memory.js';
import { craftSafetensors, legacyTorchFile, zipTorchFile, type Py, type TorchTensorSpec } from '../helpers/torch_files.js';

const GENERATOR = { inputSize: 16, widthMultiplier: 0.0625, decoderLayers: [1, 1, 1, 1] as [number, number, number, number], citFeatures: false };

type Raw = { dtype: string; shape: number[]; bytes: Uint8Array };

/** A model's PyTorch state dict as raw safetensors entries (F32, and I64 for num_batches_tracked). */
function rawDict(model: tfl.LayersModel): Record<string, Raw> {
  const dict = exportTorchStateDict(model);
  const out: Record<string, Raw> = {};
  for (const [k, t] of Object.entries(dict)) {
    const v = t.dataSync();
    out[k] =
      t.dtype === 'int32'
        ? { dtype: 'I64', shape: t.shape, bytes: new Uint8Array(BigInt64Array.from(Array.from(v), (x) => BigInt(x)).buffer) }
        : { dtype: 'F32', shape: t.shape, bytes: new Uint8Array(Float32Array.from(v).buffer) };
  }
  tf.dispose(Object.values(dict));
  return out;
}

/** A safetensors file of `dict`, with `edit` applied to the entries it names. */
function safetensorsOf(dict: Record<string, Raw>, edit: Record<string, (e: Raw) => Raw> = {}, metadata?: Record<string, string>): Uint8Array {
  return craftSafetensors(
    Object.entries(dict).map(([name, e]) => ({ name, ...(edit[name]?.(e) ?? e) })),
    metadata,
  );
}

const filled = (value: number) => (e: Raw): Raw => ({ ...e, bytes: new Uint8Array(new Float32Array(e.bytes.length / 4).fill(value).buffer) });

/** The dict as torch-file tensors (under `prefix`), for legacyTorchFile and zipTorchFile. */
function torchSpecs(dict: Record<string, Raw>, prefix = ''): Record<string, TorchTensorSpec> {
  const out: Record<string, TorchTensorSpec> = {};
  for (const [k, e] of Object.entries(dict)) {
    out[prefix + k] = e.dtype === 'I64' ? { storage: 'LongStorage', bytes: e.bytes, shape: e.shape } : { bytes: e.bytes, shape: e.shape };
  }
  return out;
}

/** The official layout: `{G: <state dict>, D: <state dict>, finish_epoch}` from `G.`/`D.` keys. */
const officialLayout = {
  wrap: (sd: Py): Py => {
    const entries = (sd as { dict: Array<[string, Py]> }).dict;
    const part = (p: string) => ({ dict: entries.filter(([k]) => k.startsWith(p)).map(([k, v]) => [`module.${k.slice(p.length)}`, v] as [string, Py]) });
    return { dict: [['G', part('G.')], ['D', part('D.')], ['finish_epoch', 3]] };
  },
};

/** Runs a loadColorizer that must fail: a Tag2PixError, with no tensor left behind. */
async function failing(sources: WeightSource | WeightSource[], options: Parameters<typeof loadColorizer>[1] = {}): Promise<Tag2PixError> {
  const before = tf.memory().numTensors;
  const error = await loadColorizer(sources, options).then(
    (c) => {
      c.dispose();
      return undefined;
    },
    (e: unknown) => e,
  );
  expect(tf.memory().numTensors, 'tensors left by the failed load').toBe(before);
  expect(error).toBeInstanceOf(Tag2PixError);
  return error as Tag2PixError;
}

/** Loads, checks the result, disposes it and checks that nothing is left. */
async function loads(sources: WeightSource | WeightSource[], check: (c: Awaited<ReturnType<typeof loadColorizer>>) => void = () => undefined): Promise<void> {
  const before = tf.memory().numTensors;
  const c = await loadColorizer(sources);
  check(c);
  c.dispose();
  expect(tf.memory().numTensors).toBe(before);
}

let generatorDict: Record<string, Raw>;
let citGeneratorDict: Record<string, Raw>;
let citDict: Record<string, Raw>;

beforeAll(() => {
  const g = buildTag2PixGenerator(GENERATOR);
  generatorDict = rawDict(g);
  g.dispose();
  const g32 = buildTag2PixGenerator({ ...GENERATOR, inputSize: 32, citFeatures: true });
  citGeneratorDict = rawDict(g32);
  g32.dispose();
  const cit = buildCITExtractor({ inputSize: 32 });
  citDict = rawDict(cit);
  cit.dispose();
});

describe('loadColorizer (tag2pix/io) decodes only what the networks use', () => {
  it('reads G of an official .pkl and never decodes D, even one that claims 70000² elements', async () => {
    const d: TorchTensorSpec = { values: [1], shape: [70000, 70000], stride: [0, 0], key: 'dview' };
    const pkl = legacyTorchFile({ ...torchSpecs(generatorDict, 'G.'), 'D.adv_judge.0.weight': d }, officialLayout);
    await loads({ name: 'tag2pix_16.pkl', bytes: pkl }, (c) => expect(c.sources.generator).toBe('tag2pix_16.pkl (G)'));
  });

  it('never inflates a zip entry nothing uses: a 2 GiB claim, 64 MiB of zeros, a corrupt discriminator record', async () => {
    const zeros = deflateRawSync(Buffer.alloc(64 * MiB), { level: 9 });
    const pth = zipTorchFile(
      { ...torchSpecs(generatorDict, 'G.'), 'D.adv_judge.0.weight': { bytes: new Uint8Array(0), numel: 4, shape: [2, 2], key: 'dstore' } },
      {
        ...officialLayout,
        omitRecords: ['dstore'],
        extra: [
          // D's storage record: a stream that is no deflate data (a CRC that cannot match, too).
          { name: 'archive/data/dstore', method: 8, raw: Uint8Array.from([0xff, 0xfe, 0xfd, 0xfc]), size: 16, crc: 1 },
          { name: 'archive/data/huge', method: 8, raw: Uint8Array.from([1, 2, 3, 4]), size: 2 ** 31, crc: 0 },
          { name: 'archive/extra/zeros.bin', method: 8, raw: new Uint8Array(zeros), size: 64 * MiB, crc: 0 },
        ],
      },
    );
    expect(pth.length).toBeLessThan(300_000);
    const { error, peakGrowth } = await withPeakMemory(() =>
      loads(new Blob([pth.slice()]), (c) => expect(c.sources.generator).toBe('blob 1 (G)')),
    );
    expect(error).toBeUndefined();
    expect(peakGrowth).toBeLessThan(32 * MiB);
  });

  it("reads the CIT model.pth's conv1..layer2 only: its classifier's corrupt layer3 and fc records are never read", async () => {
    const classifier: Record<string, TorchTensorSpec> = {
      'module.layer3.0.conv1.weight': { bytes: new Uint8Array(0), numel: 8, shape: [2, 4], key: 'l3' },
      'module.fc.weight': { bytes: new Uint8Array(0), numel: 6, shape: [3, 2], key: 'fc' },
    };
    const cit = zipTorchFile(
      { ...torchSpecs(citDict, 'module.'), ...classifier },
      {
        wrap: (sd) => ({ dict: [['weight', sd], ['epoch', 7]] }),
        omitRecords: ['l3', 'fc'],
        extra: [
          { name: 'archive/data/l3', method: 8, raw: Uint8Array.from([0xff, 0xff]), size: 32, crc: 1 },
          { name: 'archive/data/fc', method: 8, raw: Uint8Array.from([0xff, 0xff]), size: 24, crc: 1 },
        ],
      },
    );
    await loads([{ name: 'generator.safetensors', bytes: safetensorsOf(citGeneratorDict) }, { name: 'model.pth', bytes: cit }], (c) => {
      expect(c.sources.citExtractor).toBe('model.pth (weight)');
      expect(c.citExtractor).toBeDefined();
    });
  });

  it('caps a storage record at its storage size: a record claiming 1 GiB is refused, naming the file', async () => {
    const data = new Uint8Array(Float32Array.from([1, 2]).buffer);
    const specs = torchSpecs(generatorDict);
    const key = 'Linear.bias';
    const shape = specs[key]!.shape;
    const n = shape.reduce((a, b) => a * b, 1);
    const pth = zipTorchFile(
      { ...specs, [key]: { bytes: new Uint8Array(0), numel: n, shape, key: 'lying' } },
      { omitRecords: ['lying'], extra: [{ name: 'archive/data/lying', method: 8, raw: new Uint8Array(deflateRawSync(data)), size: 2 ** 30, crc: 0 }] },
    );
    const error = await failing({ name: 'generator.pth', bytes: pth });
    expect(error).toBeInstanceOf(LimitError);
    expect(error.file).toBe('generator.pth');
    expect(error.message).toMatch(/^Weight file 'generator\.pth': torch checkpoint: .*claims 1073741824 bytes, more than the \d+ it may hold here/);
  });
});

describe('loadColorizer (tag2pix/io) refuses weights that are not finite floats', () => {
  it('refuses NaN and infinite weights, naming the source and the tensor', async () => {
    const nan = await failing({ name: 'nan.safetensors', bytes: safetensorsOf(generatorDict, { 'conv1.0.weight': filled(NaN) }) });
    expect(nan).toBeInstanceOf(WeightsError);
    expect(nan.file).toBe('nan.safetensors');
    expect(nan.message).toMatch(/^Weight file 'nan\.safetensors': loadTorchStateDict: 1 weight tensor\(s\) hold NaN or infinite values \(conv1\.0\.weight\)/);
    const inf = await failing(new Blob([safetensorsOf(generatorDict, { 'Linear.bias': filled(-Infinity) }).slice()]));
    expect(inf.message).toMatch(/^Weight file 'blob 1':.*\(Linear\.bias\)/);
  });

  it('refuses an I32 tensor where a float weight belongs', async () => {
    const error = await failing({ name: 'int.safetensors', bytes: safetensorsOf(generatorDict, { 'conv1.0.weight': (e) => ({ ...e, dtype: 'I32' }) }) });
    expect(error).toBeInstanceOf(WeightsError);
    expect(error.message).toMatch(/of an integer or bool type[\s\S]*conv1\.0\.weight is int32/);
  });

  it("refuses NaN and integer weights in a training checkpoint's generator (its own layouts)", async () => {
    const g = buildTag2PixGenerator(GENERATOR);
    // LayerVariable.read() is the variable itself: read its values, dispose nothing.
    const entries = g.weights.map((w) => ({ name: `G:${w.originalName}`, dtype: 'F32', shape: w.shape as number[], bytes: new Uint8Array(Float32Array.from(w.read().dataSync()).buffer) }));
    g.dispose();
    const meta = { tag2pix_checkpoint: CHECKPOINT_FORMAT, state: JSON.stringify({ config: {} }) };
    const edited = (i: number, edit: (e: Raw) => Raw) => craftSafetensors(entries.map((e, j) => (j === i ? { ...e, ...edit(e) } : e)), meta);
    await loads({ name: 'checkpoint.safetensors', bytes: craftSafetensors(entries, meta) }, (c) =>
      expect(c.sources.generator).toBe('checkpoint.safetensors (training checkpoint)'),
    );
    const nan = await failing({ name: 'checkpoint.safetensors', bytes: edited(0, filled(NaN)) });
    expect(nan).toBeInstanceOf(WeightsError);
    expect(nan.file).toBe('checkpoint.safetensors');
    expect(nan.message).toContain(`1 weight tensor(s) hold NaN or infinite values (${entries[0]!.name})`);
    const int = await failing({ name: 'checkpoint.safetensors', bytes: edited(1, (e) => ({ ...e, dtype: 'I32' })) });
    expect(int).toBeInstanceOf(WeightsError);
    expect(int.message).toMatch(new RegExp(`integer or bool type[\\s\\S]*${entries[1]!.name.replace(/[./]/g, '\\$&')} is int32`));
  });

  it('disposes the generator when the CIT extractor then fails, and says what is missing before building anything', async () => {
    const generator = { name: 'generator32.safetensors', bytes: safetensorsOf(citGeneratorDict) };
    const error = await failing([generator, { name: 'cit_nan.safetensors', bytes: safetensorsOf(citDict, { 'layer1.0.conv1.weight': filled(NaN) }) }]);
    expect(error.message).toMatch(/cit_nan\.safetensors'.*NaN or infinite values \(layer1\.0\.conv1\.weight\)/);
    expect(error.file).toBe('cit_nan.safetensors');
    const missing = await failing(generator, { help: 'Get model.pth from the releases page.' });
    expect(missing).toBeInstanceOf(WeightsError);
    expect(missing.option).toBe('sources');
    expect(missing.message).toMatch(/needs a CIT extractor .* missing from sources/);
    expect(missing.hint).toBe('Get model.pth from the releases page.');
  });

  it('names a corrupt file and what it looks like', async () => {
    const whole = safetensorsOf(generatorDict);
    const truncated = await failing({ name: 'truncated.safetensors', bytes: whole.subarray(0, 500) });
    expect(truncated).toBeInstanceOf(FileFormatError);
    expect(truncated.message).toMatch(/^Weight file 'truncated\.safetensors': safetensors: /);
    const html = await failing({ name: 'weights.pth', bytes: new TextEncoder().encode('<!doctype html><p>Not found</p>') });
    expect(html).toBeInstanceOf(FileFormatError);
    expect(html.message).toMatch(/^'weights\.pth' is a text or HTML file \(an error page instead of the file\?\), not a weights file/);
  });
});

describe('loadColorizer (tag2pix/io) bounds what it downloads (maxBytes)', () => {
  /** A body of `chunks` chunks of `size` bytes; records how much was pulled and whether it was cancelled. */
  function body(size: number, chunks = Infinity) {
    const seen = { pulled: 0, cancelled: false };
    const stream = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (seen.pulled >= chunks) return controller.close();
        seen.pulled += 1;
        controller.enqueue(new Uint8Array(size));
      },
      cancel() {
        seen.cancelled = true;
      },
    });
    return { stream, seen };
  }

  it('refuses a Content-Length above the limit before reading the body', async () => {
    const { stream, seen } = body(1024);
    const response = new Response(stream, { headers: { 'content-length': String(10 * 2 ** 30) } });
    const error = await failing(response, { maxBytes: 4 * MiB });
    expect(error).toBeInstanceOf(LimitError);
    expect(error.option).toBe('maxBytes');
    expect(error.message).toMatch(/^Weight file 'response 1' declares 10737418240 bytes \(Content-Length\), above the limit of 4194304 bytes \(4\.0 MiB\); raise maxBytes if it is right\.$/);
    expect(seen.pulled).toBeLessThanOrEqual(1);
    expect(seen.cancelled).toBe(true);
  });

  it('stops an endless download past the limit, cancelling it (fetched through the fetch option)', async () => {
    const { stream, seen } = body(256 * 1024);
    const error = await failing('https://example.invalid/weights/endless.safetensors', {
      maxBytes: MiB,
      fetch: async () => new Response(stream),
    });
    expect(error).toBeInstanceOf(LimitError);
    expect(error.file).toBe('endless.safetensors');
    expect(error.message).toMatch(/^Weight file 'endless\.safetensors' is more than 1048576 bytes so far, above the limit of 1048576 bytes/);
    expect(seen.cancelled).toBe(true);
    expect(seen.pulled).toBeLessThan(8);
  });

  it('refuses a Blob above the limit unread, and a body longer than its Content-Length', async () => {
    const blob = await failing(new File([new Uint8Array(2048)], 'big.safetensors'), { maxBytes: 1024 });
    expect(blob).toBeInstanceOf(LimitError);
    expect(blob.message).toMatch(/^Weight file 'big\.safetensors' is 2048 bytes, above the limit of 1024 bytes/);
    const { stream } = body(1024, 4);
    const longer = await failing(new Response(stream, { headers: { 'content-length': '1500' } }));
    expect(longer).toBeInstanceOf(FileFormatError);
    expect(longer.message).toMatch(/sent more bytes than its declared 1500; the download is corrupt/);
  });

  it('checks the options before reading anything', async () => {
    for (const maxBytes of [0, -1, 1.5, Number.NaN]) {
      const error = await failing({ name: 'g.safetensors', bytes: new Uint8Array(8) }, { maxBytes });
      expect(error).toBeInstanceOf(OptionError);
      expect(error.option).toBe('maxBytes');
    }
    const size = await failing({ name: 'g.safetensors', bytes: new Uint8Array(8) }, { size: 0 });
    expect(size.message).toMatch(/^size must be a positive integer/);
  });

  it('loads a source under the limit as before', async () => {
    const bytes = writeSafetensorsOf(generatorDict);
    await loads(new Response(new Blob([bytes.slice()]).stream(), { headers: { 'content-length': String(bytes.length) } }), (c) => expect(c.config.inputSize).toBe(16));
  });
});

/** The dict through the library's own writer (a well-formed file, as a server would send it). */
function writeSafetensorsOf(dict: Record<string, Raw>): Uint8Array {
  const tensors: Record<string, tf.Tensor> = {};
  for (const [k, e] of Object.entries(dict)) {
    tensors[k] = e.dtype === 'I64' ? tf.tensor(Array.from(new BigInt64Array(e.bytes.slice().buffer), Number), e.shape, 'int32') : tf.tensor(new Float32Array(e.bytes.slice().buffer), e.shape);
  }
  const bytes = writeSafetensors(tensors);
  tf.dispose(Object.values(tensors));
  return bytes;
}
