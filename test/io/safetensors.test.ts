import { readFileSync } from 'node:fs';
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { readSafetensors, readSafetensorsHeader, readSafetensorsMetadata, writeSafetensors } from '../../src/io/index.js';
import { randomTensor } from '../helpers/gradcheck.js';

const fixture = (name: string) =>
  new Uint8Array(readFileSync(new URL(`../fixtures/${name}.safetensors`, import.meta.url)));

/** Builds a safetensors file by hand: header object + raw data bytes. */
function craft(header: unknown, data: Uint8Array | number[] = [], headerLength?: number): Uint8Array {
  const json = new TextEncoder().encode(JSON.stringify(header));
  const out = new Uint8Array(8 + json.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(headerLength ?? json.length), true);
  out.set(json, 8);
  out.set(data, 8 + json.length);
  return out;
}

function u16le(values: number[]): Uint8Array {
  const b = new Uint8Array(values.length * 2);
  values.forEach((v, i) => new DataView(b.buffer).setUint16(2 * i, v, true));
  return b;
}

function i64le(values: bigint[]): Uint8Array {
  const b = new Uint8Array(values.length * 8);
  values.forEach((v, i) => new DataView(b.buffer).setBigInt64(8 * i, v, true));
  return b;
}

describe('readSafetensors', () => {
  it('reads the reference fixture (F32 and its metadata)', () => {
    const bytes = fixture('secat_layer');
    const t = readSafetensors(bytes);
    expect(Object.keys(t).sort()).toEqual(
      ['fc.0.weight', 'fc.2.weight', 'input.cat_feature', 'input.x', 'output.out'].sort(),
    );
    expect(t['fc.0.weight'].shape).toEqual([4, 128]);
    expect(t['input.x'].shape).toEqual([2, 64, 8, 8]);
    expect(t['fc.0.weight'].dtype).toBe('float32');
    // Values read independently with numpy from the same file.
    const w = t['fc.0.weight'].dataSync();
    expect(w[0]).toBeCloseTo(-0.018484121188521385, 7);
    expect(w[2]).toBeCloseTo(0.06298084557056427, 7);
    expect(w[3 * 128 + 127]).toBeCloseTo(-0.019094407558441162, 7);
    expect(tf.sum(t['fc.0.weight']).dataSync()[0]).toBeCloseTo(-1.6969765, 4);
    const meta = readSafetensorsMetadata(bytes);
    expect(meta['case']).toBe('secat_layer');
    expect(meta['mode']).toBe('eval');
    tf.dispose(Object.values(t));
  });

  it('reads I64 num_batches_tracked as an int32 scalar and honours a filter', () => {
    const t = readSafetensors(fixture('se_bottleneck'), { filter: (k) => k.startsWith('bn1.') });
    expect(Object.keys(t).sort()).toEqual(
      ['bn1.bias', 'bn1.num_batches_tracked', 'bn1.running_mean', 'bn1.running_var', 'bn1.weight'],
    );
    expect(t['bn1.num_batches_tracked'].dtype).toBe('int32');
    expect(t['bn1.num_batches_tracked'].shape).toEqual([]);
    expect(t['bn1.num_batches_tracked'].dataSync()[0]).toBe(0);
    tf.dispose(Object.values(t));
  });

  it('decodes F16 (normal, subnormal, max, infinity) and BF16', () => {
    const f16 = u16le([0x3c00, 0xc000, 0x3800, 0x7bff, 0x0001, 0x7c00]);
    const bf16 = u16le([0x3f80, 0xc040, 0x3e20]);
    const data = new Uint8Array([...f16, ...bf16]);
    const bytes = craft(
      {
        h: { dtype: 'F16', shape: [2, 3], data_offsets: [0, 12] },
        b: { dtype: 'BF16', shape: [3], data_offsets: [12, 18] },
      },
      data,
    );
    const t = readSafetensors(bytes);
    expect(t['h'].shape).toEqual([2, 3]);
    expect(Array.from(t['h'].dataSync())).toEqual([1, -2, 0.5, 65504, 2 ** -24, Infinity]);
    expect(Array.from(t['b'].dataSync())).toEqual([1, -3, 0.15625]);
    tf.dispose(Object.values(t));
  });

  it('decodes I64 within int32 range and rejects values outside it', () => {
    const values = [-1n, 5n, 2147483647n, -2147483648n];
    const ok = readSafetensors(
      craft({ i: { dtype: 'I64', shape: [4], data_offsets: [0, 32] } }, i64le(values)),
    );
    expect(ok['i'].dtype).toBe('int32');
    expect(Array.from(ok['i'].dataSync())).toEqual([-1, 5, 2147483647, -2147483648]);
    ok['i'].dispose();
    const before = tf.memory().numTensors;
    const big = craft(
      {
        a: { dtype: 'F32', shape: [1], data_offsets: [0, 4] },
        steps: { dtype: 'I64', shape: [2], data_offsets: [4, 20] },
      },
      new Uint8Array([0, 0, 128, 63, ...i64le([1n, 2147483648n])]),
    );
    expect(() => readSafetensors(big)).toThrow(/'steps'.*2147483648.*int32 range/);
    // The tensor read before the failure was released.
    expect(tf.memory().numTensors).toBe(before);
  });

  describe('validates the header', () => {
    const f32 = (shape: number[], offsets: number[]) => ({ dtype: 'F32', shape, data_offsets: offsets });
    const cases: Array<[string, Uint8Array, RegExp]> = [
      ['a file shorter than 8 bytes', new Uint8Array(5), /5 bytes long/],
      ['a header length past the end', craft({}, [], 1000), /says 1000 bytes but only 2/],
      ['a header length above 100 MB', craft({}, [], 2 ** 40), /100 MB limit/],
      ['a header that is not JSON', (() => {
        const b = craft({ x: 1 });
        b[8] = 0x7a; // 'z'
        return b;
      })(), /not valid UTF-8 JSON/],
      ['a header that is not an object', craft([1, 2]), /must be a JSON object/],
      ['a non-string metadata value', craft({ __metadata__: { a: 1 } }), /__metadata__ entry 'a' must be a string/],
      ['an unknown dtype', craft({ x: { dtype: 'F64', shape: [1], data_offsets: [0, 8] } }, new Uint8Array(8)), /dtype "F64".*supported dtypes are F32/],
      ['a bad shape', craft({ x: f32([-1], [0, 4]) }, new Uint8Array(4)), /shape \[-1\]/],
      ['missing offsets', craft({ x: { dtype: 'F32', shape: [1] } }, new Uint8Array(4)), /data_offsets undefined/],
      ['begin after end', craft({ x: f32([0], [4, 0]) }, new Uint8Array(4)), /begin after end/],
      ['an offset outside the file', craft({ x: f32([2], [0, 8]) }, new Uint8Array(4)), /ends at byte 8 .* only 4 bytes/],
      ['a byte count that disagrees with dtype and shape', craft({ x: f32([3], [0, 8]) }, new Uint8Array(8)), /needs 12 bytes .* span 8/],
      ['overlapping tensors', craft({ x: f32([2], [0, 8]), y: f32([2], [4, 12]) }, new Uint8Array(12)), /'y' .*overlaps 'x'/],
      ['a gap between tensors', craft({ x: f32([1], [0, 4]), y: f32([1], [8, 12]) }, new Uint8Array(12)), /gap of 4 unused bytes between 'x' and 'y'/],
      ['trailing bytes', craft({ x: f32([1], [0, 4]) }, new Uint8Array(6)), /2 trailing bytes/],
    ];
    for (const [what, bytes, message] of cases) {
      it(`rejects ${what}`, () => {
        expect(() => readSafetensors(bytes)).toThrow(message);
        expect(() => readSafetensorsHeader(bytes)).toThrow(/^safetensors: /);
      });
    }
  });
});

describe('writeSafetensors', () => {
  it('round-trips float32 and int32 tensors with metadata, 8-byte aligned', () => {
    const tensors = {
      'conv.weight': randomTensor([3, 2, 3, 3], 1),
      scalar: tf.scalar(-2.5),
      empty: tf.zeros([0, 4]),
      'bn.num_batches_tracked': tf.scalar(7, 'int32'),
    };
    const bytes = writeSafetensors(tensors, { format: 'pt', note: 'hello' });
    const header = readSafetensorsHeader(bytes);
    expect(header.dataStart % 8).toBe(0);
    expect(header.tensors['bn.num_batches_tracked'].dtype).toBe('I64');
    expect(header.tensors['conv.weight'].dtype).toBe('F32');
    expect(readSafetensorsMetadata(bytes)).toEqual({ format: 'pt', note: 'hello' });
    const back = readSafetensors(bytes);
    expect(Object.keys(back)).toEqual(Object.keys(tensors));
    for (const [k, t] of Object.entries(tensors)) {
      expect(back[k].shape).toEqual(t.shape);
      expect(back[k].dtype).toBe(t.dtype);
      expect(Array.from(back[k].dataSync())).toEqual(Array.from(t.dataSync()));
    }
    tf.dispose([...Object.values(tensors), ...Object.values(back)]);
  });

  it('rejects unsupported dtypes and non-string metadata', () => {
    const b = tf.tensor([true, false], [2], 'bool');
    expect(() => writeSafetensors({ flags: b })).toThrow(/'flags' has dtype bool/);
    expect(() => writeSafetensors({}, { n: 3 as unknown as string })).toThrow(/metadata value 'n'/);
    b.dispose();
  });
});
