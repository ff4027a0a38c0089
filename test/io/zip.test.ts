import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { deflateRawSync } from 'node:zlib';
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { FileFormatError, LimitError } from '../../src/errors.js';
import { readTorchCheckpoint, torchStateDictFrom, type TorchValue } from '../../src/io/torch_checkpoint.js';
import { crc32, openZip } from '../../src/io/zip.js';
import { MiB, withPeakMemory } from '../helpers/memory.js';
import { zipArchive, zipTorchFile } from '../helpers/torch_files.js';

// Every archive here is written by the test (test/helpers/torch_files.ts), sizes and CRCs lying
// where the case needs it.

const weights = { 'conv.weight': { values: [1, 2, 3, 4, 5, 6], shape: [2, 3] } };
const valuesOf = (checkpoint: TorchValue) => {
  const sd = torchStateDictFrom(checkpoint);
  const v = Array.from(sd['conv.weight']!.dataSync());
  tf.dispose(Object.values(sd));
  return v;
};

describe('openZip', () => {
  it('reads stored and deflated entries and checks their CRC-32', () => {
    const text = new TextEncoder().encode('hello, zip '.repeat(50));
    const zip = zipArchive([
      { name: 'a.txt', data: text },
      { name: 'b.txt', data: text, method: 8 },
      { name: 'c.txt', data: text, crc: 12345 },
    ]);
    const archive = openZip(zip);
    expect([...archive.entries.keys()]).toEqual(['a.txt', 'b.txt', 'c.txt']);
    expect(archive.read(archive.entries.get('a.txt')!, 1e6)).toEqual(text);
    expect(archive.read(archive.entries.get('b.txt')!, 1e6)).toEqual(text);
    expect(() => archive.read(archive.entries.get('c.txt')!, 1e6)).toThrow(/'c\.txt' fails its CRC-32 check/);
    expect(crc32(new TextEncoder().encode('123456789'))).toBe(0xcbf43926); // the standard check value
  });

  it('refuses directories and entries that claim more than the file holds', () => {
    const zip = zipArchive([{ name: 'a', data: new Uint8Array(10) }]);
    const view = new DataView(zip.buffer);
    const eocd = zip.length - 22;
    const lying = (edit: (v: DataView) => void) => {
      const copy = zip.slice();
      edit(new DataView(copy.buffer));
      return copy;
    };
    expect(() => openZip(lying((v) => v.setUint16(eocd + 10, 60000, true)))).toThrow(/claims 60000 entries, more than its \d+-byte directory/);
    expect(() => openZip(lying((v) => v.setUint32(eocd + 16, 1e9, true)))).toThrow(/beyond the file's/);
    expect(() => openZip(lying((v) => v.setUint32(eocd - 46 - 1 + 42 + 1, 1e8, true)))).toThrow(/starts beyond the end of the file/);
    expect(() => openZip(zip.subarray(0, zip.length - 5))).toThrow(/no end-of-central-directory record/);
    expect(view.getUint32(eocd, true)).toBe(0x06054b50);
    for (const bad of [new Uint8Array(0), new Uint8Array(21), zip.subarray(0, 30)]) expect(() => openZip(bad)).toThrow(FileFormatError);
  });

  it('inflates an entry only to the size it may have, whatever its stream holds', async () => {
    // 64 MiB of zeros deflate to about 64 KB; the directory claims 4 KiB.
    const zeros = deflateRawSync(Buffer.alloc(64 * MiB), { level: 9 });
    expect(zeros.length).toBeLessThan(100_000);
    const zip = zipArchive([{ name: 'bomb', method: 8, raw: new Uint8Array(zeros), size: 4096, crc: 0 }]);
    const archive = openZip(zip);
    const entry = archive.entries.get('bomb')!;
    expect(() => archive.read(entry, 1024)).toThrow(LimitError); // claims more than allowed: not even started
    const { error, peakGrowth } = await withPeakMemory(() => archive.read(entry, 4096));
    expect((error as Error).message).toMatch(/'bomb' inflates to more than the 4096 bytes its directory claims/);
    expect(peakGrowth).toBeLessThan(32 * MiB);
  });
});

describe('readTorchCheckpoint on hostile zip archives (issue 17, item 1: zip bomb)', () => {
  it('never inflates an entry the checkpoint does not reference, whatever it claims', async () => {
    // Beside a valid checkpoint: an entry claiming 2 GiB (its stream is garbage) and a real
    // 64 MiB run of zeros. The state dict reads; neither entry is inflated.
    const zeros = deflateRawSync(Buffer.alloc(64 * MiB), { level: 9 });
    const file = zipTorchFile(weights, {
      extra: [
        { name: 'archive/data/huge', method: 8, raw: Uint8Array.from([1, 2, 3, 4]), size: 2 ** 31, crc: 0 },
        { name: 'archive/extra/zeros.bin', method: 8, raw: new Uint8Array(zeros), size: 64 * MiB, crc: 0 },
      ],
    });
    expect(file.length).toBeLessThan(200_000);
    const { value, error, peakGrowth } = await withPeakMemory(() => valuesOf(readTorchCheckpoint(file)));
    expect(error).toBeUndefined();
    expect(value).toEqual([1, 2, 3, 4, 5, 6]);
    expect(peakGrowth).toBeLessThan(32 * MiB);
  });

  it('inflates a storage record into exactly its storage size, and refuses one that claims or holds more', async () => {
    const data = new Uint8Array(Float32Array.from([1, 2, 3, 4, 5, 6]).buffer);
    // A deflated record (PyTorch stores them, but a re-zipped file may deflate) reads as stored.
    expect(valuesOf(readTorchCheckpoint(zipTorchFile(weights, { compress: true })))).toEqual([1, 2, 3, 4, 5, 6]);
    // The record claims 1 GiB for a 24-byte storage: refused before inflating.
    const claims = zipTorchFile({ 'conv.weight': { bytes: new Uint8Array(0), numel: 6, shape: [2, 3], key: 'w' } }, {
      omitRecords: ['w'],
      extra: [{ name: 'archive/data/w', method: 8, raw: new Uint8Array(deflateRawSync(data)), size: 2 ** 30, crc: crc32(data) }],
    });
    const checkpoint = readTorchCheckpoint(claims); // lazy: nothing inflated yet
    expect(() => torchStateDictFrom(checkpoint)).toThrow(/claims 1073741824 bytes, more than the \d+ it may hold here/);
    // The record's stream holds 64 MiB of zeros but claims 24 bytes: stopped at the claim.
    const zeros = deflateRawSync(Buffer.alloc(64 * MiB), { level: 9 });
    const bomb = zipTorchFile({ 'conv.weight': { bytes: new Uint8Array(0), numel: 6, shape: [2, 3], key: 'w' } }, {
      omitRecords: ['w'],
      extra: [{ name: 'archive/data/w', method: 8, raw: new Uint8Array(zeros), size: 24, crc: 0 }],
    });
    const before = tf.memory().numTensors;
    const { error, peakGrowth } = await withPeakMemory(() => torchStateDictFrom(readTorchCheckpoint(bomb)));
    expect(error).toBeInstanceOf(FileFormatError);
    expect((error as Error).message).toMatch(/inflates to more than the 24 bytes its directory claims/);
    expect(peakGrowth).toBeLessThan(32 * MiB);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('writes nothing for entries named to escape a folder (zip path traversal)', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tag2pix-zip-'));
    const cwd = process.cwd();
    try {
      process.chdir(dir);
      const escape = path.join('..', path.basename(dir) + '-escaped.txt');
      const absolute = path.join(dir, 'absolute.txt');
      const file = zipTorchFile(weights, {
        extra: [
          { name: escape, data: new TextEncoder().encode('x') },
          { name: absolute, data: new TextEncoder().encode('x') },
          { name: '../../../../../../tmp/tag2pix-zip-traversal.txt', data: new TextEncoder().encode('x') },
        ],
      });
      expect(valuesOf(readTorchCheckpoint(file))).toEqual([1, 2, 3, 4, 5, 6]);
      expect(fs.readdirSync(dir)).toEqual([]);
      expect(fs.existsSync(path.resolve(dir, escape))).toBe(false);
      expect(fs.existsSync(absolute)).toBe(false);
      expect(fs.existsSync('/tmp/tag2pix-zip-traversal.txt')).toBe(false);
    } finally {
      process.chdir(cwd);
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('names a missing, short, corrupt or doubled record', () => {
    const missing = zipArchive([{ name: 'archive/data.pkl', data: zipEntryOf(zipTorchFile(weights), 'archive/data.pkl') }]);
    expect(() => readTorchCheckpoint(missing)).toThrow(/storage record 'archive\/data\/0' is missing/);
    const short = zipTorchFile({ 'conv.weight': { values: [1, 2], numel: 6, shape: [2, 3] } });
    expect(() => readTorchCheckpoint(short)).toThrow(/needs 24 bytes but its record 'archive\/data\/0' holds 8/);
    const flipped = zipTorchFile(weights);
    const at = indexOf(flipped, new Uint8Array(Float32Array.from([1, 2, 3, 4, 5, 6]).buffer));
    flipped[at + 3]! ^= 0x40;
    const read = readTorchCheckpoint(flipped);
    expect(() => torchStateDictFrom(read)).toThrow(/'archive\/data\/0' fails its CRC-32 check; the file is corrupt/);
    const twice = zipArchive([
      { name: 'archive/data.pkl', data: new Uint8Array([0x80, 2, 0x4e, 0x2e]) },
      { name: 'archive/data.pkl', data: new Uint8Array([0x80, 2, 0x4e, 0x2e]) },
    ]);
    expect(() => readTorchCheckpoint(twice)).toThrow(/holds 'archive\/data\.pkl' twice/);
  });
});

function zipEntryOf(zip: Uint8Array, name: string): Uint8Array {
  const archive = openZip(zip);
  return archive.read(archive.entries.get(name)!, 1e9).slice();
}

function indexOf(haystack: Uint8Array, needle: Uint8Array): number {
  outer: for (let i = 0; i + needle.length <= haystack.length; i++) {
    for (let j = 0; j < needle.length; j++) if (haystack[i + j] !== needle[j]) continue outer;
    return i;
  }
  throw new Error('not found');
}
