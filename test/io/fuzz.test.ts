// A seeded fuzz suite of the file readers (issue 17). Valid safetensors, zip and legacy torch.save
// files and PNGs, all made here, are mutated (truncation, bit flips, overwritten bytes, length
// fields set to edge values, spliced copies, deep nesting) and each mutant must either load or
// raise one of our error classes with a message, within a fixed time, leaving no tensor behind;
// the process's peak memory over all of them stays under a fixed bound. fast-check draws the
// mutants from a fixed seed, so a failure names a mutant that reproduces.
import * as tf from '@tensorflow/tfjs-core';
import fc from 'fast-check';
import sharp from 'sharp';
import { beforeAll, describe, expect, it } from 'vitest';
import { MAX_ERROR_MESSAGE_LENGTH, Tag2PixError } from '../../src/errors.js';
import { readSafetensors, writeSafetensors } from '../../src/io/safetensors.js';
import { readPickle, readTorchCheckpoint, torchStateDictFrom, TorchTensor, type TorchValue } from '../../src/io/torch_checkpoint.js';
import { openZip } from '../../src/io/zip.js';
import { readImage } from '../../src/node/image.js';
import { MiB, withPeakMemory } from '../helpers/memory.js';
import { concat, craftSafetensors, legacyTorchFile, pickle, pngChunk, zipArchive, zipTorchFile, type Py, type TorchTensorSpec } from '../helpers/torch_files.js';

// TAG2PIX_FUZZ_SEED and TAG2PIX_FUZZ_SCALE (a multiplier of the runs) explore beyond the CI set.
const SEED = Number(process.env['TAG2PIX_FUZZ_SEED'] ?? 172025);
const SCALE = Number(process.env['TAG2PIX_FUZZ_SCALE'] ?? 1);
/** Longest any one mutant may take to load or be refused (the slowest seen take a few ms). */
const MAX_MS_PER_MUTANT = 2000;
/** Largest growth of the process's memory over a whole run of mutants (the base files are < 10 KB). */
const MAX_PEAK_GROWTH = 256 * MiB;

// ------------------------------------------------------------------------------------------------
// Mutations
// ------------------------------------------------------------------------------------------------

type Mutation =
  | { kind: 'truncate'; at: number }
  | { kind: 'flip'; bits: Array<[number, number]> }
  | { kind: 'bytes'; at: number; values: number[] }
  | { kind: 'length'; at: number; value: bigint; width: 4 | 8; littleEndian: boolean }
  | { kind: 'splice'; from: number; length: number; to: number }
  | { kind: 'nest'; at: number; opcode: number; count: number };

const EDGE_LENGTHS = [0n, 1n, 7n, 0x7fn, 0xffn, 0x7fffn, 0xffffn, 0x7fffffffn, 0x80000000n, 0xffffffffn, 0x100000000n, 2n ** 53n, 2n ** 63n - 1n, 2n ** 64n - 1n];

/** A mutation of a file of `n` bytes; `nestOpcodes` are the bytes a nesting run repeats. */
function mutation(n: number, nestOpcodes: number[]): fc.Arbitrary<Mutation> {
  const at = fc.nat({ max: Math.max(0, n - 1) });
  const options: Array<fc.Arbitrary<Mutation>> = [
    at.map((i) => ({ kind: 'truncate' as const, at: i })),
    fc.array(fc.tuple(at, fc.nat({ max: 7 })), { minLength: 1, maxLength: 8 }).map((bits) => ({ kind: 'flip' as const, bits })),
    fc.tuple(at, fc.array(fc.constantFrom(0x00, 0xff, 0x7f, 0x80, 0x2e, 0x28, 0x7b, 0x5b), { minLength: 1, maxLength: 6 })).map(([i, values]) => ({
      kind: 'bytes' as const,
      at: i,
      values,
    })),
    fc.tuple(at, fc.oneof(fc.constantFrom(...EDGE_LENGTHS), fc.bigInt({ min: 0n, max: 2n ** 64n - 1n })), fc.constantFrom(4 as const, 8 as const), fc.boolean()).map(
      ([i, value, width, littleEndian]) => ({ kind: 'length' as const, at: i, value, width, littleEndian }),
    ),
    fc.tuple(at, fc.nat({ max: 64 }), at).map(([from, length, to]) => ({ kind: 'splice' as const, from, length, to })),
  ];
  if (nestOpcodes.length > 0) {
    options.push(
      fc.tuple(at, fc.constantFrom(...nestOpcodes), fc.integer({ min: 100, max: 200_000 })).map(([i, opcode, count]) => ({
        kind: 'nest' as const,
        at: i,
        opcode,
        count,
      })),
    );
  }
  return fc.oneof(...options);
}

function mutate(base: Uint8Array, m: Mutation): Uint8Array {
  switch (m.kind) {
    case 'truncate':
      return base.slice(0, m.at);
    case 'flip': {
      const out = base.slice();
      for (const [i, b] of m.bits) out[i % out.length]! ^= 1 << b;
      return out;
    }
    case 'bytes': {
      const out = base.slice();
      m.values.forEach((v, k) => {
        if (m.at + k < out.length) out[m.at + k] = v;
      });
      return out;
    }
    case 'length': {
      const out = base.slice();
      if (m.at + m.width > out.length) return out;
      const view = new DataView(out.buffer);
      if (m.width === 8) view.setBigUint64(m.at, m.value & (2n ** 64n - 1n), m.littleEndian);
      else view.setUint32(m.at, Number(m.value & 0xffffffffn), m.littleEndian);
      return out;
    }
    case 'splice': {
      const piece = base.slice(m.from, m.from + m.length);
      return concat([base.subarray(0, m.to), piece, base.subarray(m.to)]);
    }
    case 'nest':
      return concat([base.subarray(0, m.at), new Uint8Array(m.count).fill(m.opcode), base.subarray(m.at)]);
  }
}

/** What a mutant is, for a failure message (bytes are not printed: the seed reproduces them). */
const describeMutation = (m: Mutation) => JSON.stringify(m, (_, v: unknown) => (typeof v === 'bigint' ? v.toString() : v)).slice(0, 300);

// ------------------------------------------------------------------------------------------------
// The property
// ------------------------------------------------------------------------------------------------

/** Loads a mutant; it must succeed or raise a Tag2PixError with a message, in time, leak-free. */
async function checkMutant(load: (bytes: Uint8Array) => unknown, bytes: Uint8Array, label: string): Promise<void> {
  const tensors = tf.memory().numTensors;
  const started = performance.now();
  try {
    await load(bytes);
  } catch (e) {
    if (!(e instanceof Tag2PixError)) {
      throw new Error(`${label}: raised ${(e as Error)?.name ?? typeof e}, not a Tag2PixError: ${String((e as Error)?.message ?? e).slice(0, 300)}`);
    }
    if (e.message.trim().length < 10 || e.message.length > MAX_ERROR_MESSAGE_LENGTH + 2000) {
      throw new Error(`${label}: a message of ${e.message.length} characters: ${e.message.slice(0, 200)}`);
    }
  }
  const ms = performance.now() - started;
  if (ms > MAX_MS_PER_MUTANT) throw new Error(`${label}: took ${ms.toFixed(0)} ms`);
  if (tf.memory().numTensors !== tensors) throw new Error(`${label}: left ${tf.memory().numTensors - tensors} tensors`);
}

/** Runs `runs` mutants of each base file through `load`, all under one memory bound. */
async function fuzz(bases: Record<string, Uint8Array>, load: (bytes: Uint8Array) => unknown, runs: number, nestOpcodes: number[] = []) {
  for (const [name, base] of Object.entries(bases)) {
    // The base file itself loads.
    await load(base);
    const { error, peakGrowth } = await withPeakMemory(() =>
      fc.assert(
        fc.asyncProperty(mutation(base.length, nestOpcodes), (m) => checkMutant(load, mutate(base, m), `${name} ${describeMutation(m)}`)),
        { seed: SEED, numRuns: Math.round(runs * SCALE), endOnFailure: true },
      ),
    );
    if (error) throw error;
    report(name, peakGrowth);
    expect(peakGrowth, `${name}: peak memory growth`).toBeLessThan(MAX_PEAK_GROWTH);
  }
}

/** With TAG2PIX_FUZZ_REPORT set, prints each base file's peak memory growth (for docs/security.md). */
function report(name: string, peakGrowth: number): void {
  if (process.env['TAG2PIX_FUZZ_REPORT']) console.log(`fuzz ${name}: peak RSS growth ${(peakGrowth / MiB).toFixed(1)} MiB`);
}

/** Decodes every tensor a checkpoint holds, wherever it sits, and disposes them. */
function decodeAll(value: TorchValue): void {
  const seen = new Set<unknown>();
  const stack: unknown[] = [value];
  while (stack.length > 0) {
    const v = stack.pop();
    if (v instanceof TorchTensor) {
      v.toTensor().dispose();
    } else if (v !== null && typeof v === 'object' && !(v instanceof Uint8Array) && !seen.has(v)) {
      seen.add(v);
      for (const child of Object.values(v as object)) stack.push(child);
    }
  }
}

// ------------------------------------------------------------------------------------------------
// Base files
// ------------------------------------------------------------------------------------------------

const TENSORS: Record<string, TorchTensorSpec> = {
  'conv.weight': { values: [0.5, -1, 2, 3.25, 4, 5, 6, 7], shape: [2, 1, 2, 2] },
  'conv.bias': { values: [1, 2], shape: [2] },
  'bn.num_batches_tracked': { storage: 'LongStorage', bytes: new Uint8Array(new BigInt64Array([7n]).buffer), shape: [] },
  transposed: { values: [1, 2, 3, 4, 5, 6], shape: [3, 2], stride: [1, 3] },
  half: { storage: 'HalfStorage', bytes: new Uint8Array(new Uint16Array([0x3c00, 0xc000, 0x7bff]).buffer), shape: [3] },
};
const officialLayout = { wrap: (sd: Py): Py => ({ dict: [['G', sd], ['finish_epoch', 3], ['note', { list: ['a', 1, null, true] }]] }) };

let png: Uint8Array;
let greyPng: Uint8Array;
beforeAll(async () => {
  const px = new Uint8Array(16 * 12 * 3).map((_, i) => (i * 37) % 256);
  png = new Uint8Array(await sharp(px, { raw: { width: 16, height: 12, channels: 3 } }).png().toBuffer());
  greyPng = new Uint8Array(await sharp(px.subarray(0, 16 * 12), { raw: { width: 16, height: 12, channels: 1 } }).png({ compressionLevel: 0 }).toBuffer());
});

describe('fuzz: every mutant loads or raises a Tag2PixError with a message, in bounded time and memory', () => {
  it('safetensors', async () => {
    const a = tf.tensor([1.5, -2, 3, 4, 5, 6], [2, 3]);
    const b = tf.tensor([1, 2, 3], [3], 'int32');
    const bases = {
      'written.safetensors': writeSafetensors({ a, b, scalar: tf.scalar(2) }, { format: 'pt', note: 'fuzz' }),
      'crafted.safetensors': craftSafetensors([
        { name: 'f16', dtype: 'F16', shape: [2], bytes: new Uint8Array(new Uint16Array([0x3c00, 0x7c00]).buffer) },
        { name: 'bf16', dtype: 'BF16', shape: [1, 2], bytes: new Uint8Array(new Uint16Array([0x3f80, 0xbf80]).buffer) },
        { name: 'i32', dtype: 'I32', shape: [2], bytes: new Uint8Array(new Int32Array([1, -1]).buffer) },
      ]),
    };
    tf.dispose([a, b]);
    await fuzz(bases, (bytes) => tf.dispose(Object.values(readSafetensors(bytes))), 400, [0x5b, 0x7b]);
  });

  it('legacy torch.save files', async () => {
    const bases = {
      'state_dict_legacy.pt': legacyTorchFile(TENSORS),
      'tag2pix_legacy.pkl': legacyTorchFile(TENSORS, officialLayout),
    };
    // Nesting runs of MARK, EMPTY_LIST, EMPTY_DICT, EMPTY_TUPLE+TUPLE1 and NONE.
    await fuzz(bases, (bytes) => decodeAll(readTorchCheckpoint(bytes)), 500, [0x28, 0x5d, 0x7d, 0x85, 0x4e]);
  });

  it('zip torch.save files (stored and deflated)', async () => {
    const bases = {
      'state_dict_zip.pt': zipTorchFile(TENSORS),
      'deflated_zip.pt': zipTorchFile(TENSORS, { compress: true, ...officialLayout }),
    };
    await fuzz(bases, (bytes) => decodeAll(readTorchCheckpoint(bytes)), 500);
  });

  it('the object pickle inside a zip checkpoint (mutated, then re-zipped)', async () => {
    // Raw mutations of a zip mostly break its CRCs; this reaches the unpickler behind them.
    const zip = zipTorchFile(TENSORS, officialLayout);
    const archive = openZip(zip);
    const entries = [...archive.entries.values()].map((e) => ({ name: e.name, data: archive.read(e, 1e6).slice() }));
    const pkl = entries.find((e) => e.name.endsWith('data.pkl'))!.data;
    const rezip = (bytes: Uint8Array) =>
      zipArchive(entries.map((e) => (e.name.endsWith('data.pkl') ? { name: e.name, data: bytes } : { name: e.name, data: e.data })));
    await fuzz({ 'data.pkl': pkl }, (bytes) => decodeAll(readTorchCheckpoint(rezip(bytes))), 500, [0x28, 0x5d, 0x7d, 0x85]);
    // And a plain pickle of Python values (dicts, lists, tuples, numbers, strings, bytes, sets).
    const plain = pickle({
      dict: [
        ['ints', { list: [0, 1, -1, 300, 70000, 2 ** 40, -(2n ** 70n)] }],
        ['floats', [0.5, -1.25]],
        ['text', 'tag2pix ✓'],
        [[1, 'a'], null],
        ['set', { call: [{ global: ['builtins', 'set'] }, [{ list: [1, 2, 3] }]] }],
        ['nested', { dict: [['a', { list: [{ dict: [] }, []] }]] }],
      ],
    });
    await fuzz({ 'plain.pkl': plain }, (bytes) => readPickle(bytes), 300, [0x28, 0x5d, 0x7d, 0x85]);
  });

  it('PNGs (raw mutations, and header fields with valid CRCs)', async () => {
    // A limit of 256 × 256 pixels: a mutant may claim more, and must then be refused from its
    // header; below it, decoding costs at most what 65,536 pixels need.
    const load = async (bytes: Uint8Array) => {
      await readImage(bytes, { name: 'mutant.png', channels: 3, size: 8, maxPixels: 256 * 256 });
    };
    await fuzz({ 'rgb.png': png, 'grey.png': greyPng }, load, 150);
    // Width, height, bit depth and colour type rewritten with a correct CRC, so that libpng reads
    // on: a claimed size over the pixel limit must be refused from the header.
    const ihdr = fc.record({
      width: fc.oneof(fc.integer({ min: 0, max: 64 }), fc.constantFrom(4097, 16000, 65535, 2 ** 31 - 1, 2 ** 32 - 1)),
      height: fc.oneof(fc.integer({ min: 0, max: 64 }), fc.constantFrom(4097, 16000, 65535, 2 ** 31 - 1)),
      depth: fc.constantFrom(1, 2, 4, 8, 16, 3, 0),
      color: fc.constantFrom(0, 2, 3, 4, 6, 1, 7),
    });
    const { error, peakGrowth } = await withPeakMemory(() =>
      fc.assert(
        fc.asyncProperty(ihdr, (h) => {
          const data = greyPng.slice(16, 29); // the IHDR payload
          const view = new DataView(data.buffer);
          view.setUint32(0, h.width >>> 0);
          view.setUint32(4, h.height >>> 0);
          data[8] = h.depth;
          data[9] = h.color;
          const mutant = concat([greyPng.subarray(0, 8), pngChunk('IHDR', data), greyPng.subarray(33)]);
          return checkMutant(load, mutant, `IHDR ${JSON.stringify(h)}`);
        }),
        { seed: SEED, numRuns: Math.round(150 * SCALE), endOnFailure: true },
      ),
    );
    if (error) throw error;
    report('IHDR fields', peakGrowth);
    expect(peakGrowth).toBeLessThan(MAX_PEAK_GROWTH);
  });
});
