import * as tf from '@tensorflow/tfjs-core';
import { FileFormatError, OptionError, quoteValue } from '../errors.js';

// The safetensors format (https://github.com/huggingface/safetensors): an 8-byte little-endian
// unsigned header length N, N bytes of UTF-8 JSON, then the raw little-endian data. The JSON maps
// each tensor name to `{dtype, shape, data_offsets: [begin, end]}` (offsets relative to the
// start of the data) plus an optional `__metadata__` map of strings.

/** Element types this reader understands, with their byte sizes. */
const DTYPE_BYTES = { F32: 4, F16: 2, BF16: 2, I64: 8, I32: 4 } as const;

/** A safetensors element type that {@link readSafetensors} can read. */
export type SafetensorsDtype = keyof typeof DTYPE_BYTES;

/** One tensor's entry in a safetensors header. */
export interface SafetensorsEntry {
  dtype: SafetensorsDtype;
  shape: number[];
  /** `[begin, end)` byte range relative to the start of the data section. */
  dataOffsets: [number, number];
}

/** A parsed and validated safetensors header. */
export interface SafetensorsHeader {
  /** The free-form `__metadata__` string map (empty when the file has none). */
  metadata: Record<string, string>;
  /** Every tensor's entry, in the header's order. */
  tensors: Record<string, SafetensorsEntry>;
  /** Byte offset of the data section in the file (8 + header length). */
  dataStart: number;
}

/** Options of {@link readSafetensors}. */
export interface ReadSafetensorsOptions {
  /** Only materialise tensors whose name passes this test (the whole header is still validated). */
  filter?: (name: string) => boolean;
}

/** The safetensors reference implementation refuses headers above 100 MB; so do we. */
const MAX_HEADER_BYTES = 100_000_000;

function fail(message: string): never {
  throw new FileFormatError(`safetensors: ${message}`);
}

function failWrite(message: string): never {
  throw new OptionError(`writeSafetensors: ${message}`);
}

/** A JSON value from the file, cut short for a message. */
function brief(value: unknown): string {
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 80 ? `${text.slice(0, 80)}… (${text.length} characters)` : text;
}

/** Sets an own property, whatever the key (a tensor may be called `__proto__`). */
function setOwn<T>(record: Record<string, T>, key: string, value: T): void {
  Object.defineProperty(record, key, { value, enumerable: true, writable: true, configurable: true });
}

/**
 * Parses and validates the header of a safetensors file without reading tensor data.
 *
 * Checks: the 8-byte length fits in the file and below 100 MB; the header is a JSON object;
 * every entry has a known dtype, a shape of non-negative integers and integer offsets inside
 * the data section; each entry's byte length equals `product(shape) × dtype size`; and the
 * entries tile the data section exactly (no overlaps, gaps or trailing bytes).
 */
export function readSafetensorsHeader(bytes: Uint8Array): SafetensorsHeader {
  if (!(bytes instanceof Uint8Array)) {
    fail(`expected the file's bytes as a Uint8Array, got ${Object.prototype.toString.call(bytes)}.`);
  }
  if (bytes.length < 8) {
    fail(`the file is ${bytes.length} bytes long; a safetensors file starts with an 8-byte header length.`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLength = view.getBigUint64(0, true);
  if (headerLength > BigInt(MAX_HEADER_BYTES)) {
    fail(
      `the header length field says ${headerLength} bytes, above the 100 MB limit; ` +
        `this is not a safetensors file or it is corrupted.`,
    );
  }
  const n = Number(headerLength);
  if (8 + n > bytes.length) {
    fail(
      `the header length field says ${n} bytes but only ${bytes.length - 8} bytes follow it; ` +
        `the file is truncated or not a safetensors file.`,
    );
  }
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(8, 8 + n)));
  } catch (e) {
    fail(`the header is not valid UTF-8 JSON (${(e as Error).message}).`);
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    fail('the header must be a JSON object mapping tensor names to entries.');
  }
  const dataStart = 8 + n;
  const dataLength = bytes.length - dataStart;
  const metadata: Record<string, string> = {};
  const tensors: Record<string, SafetensorsEntry> = {};
  for (const [name, raw] of Object.entries(json as Record<string, unknown>)) {
    if (name === '__metadata__') {
      if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
        fail('__metadata__ must be an object of strings.');
      }
      for (const [k, v] of Object.entries(raw as Record<string, unknown>)) {
        if (typeof v !== 'string') fail(`__metadata__ entry ${quoteValue(k)} must be a string, got ${typeof v}.`);
        setOwn(metadata, k, v);
      }
      continue;
    }
    setOwn(tensors, name, parseEntry(name, raw, dataLength));
  }
  // The entries must tile [0, dataLength) exactly.
  const ordered = Object.entries(tensors).sort(
    (a, b) => a[1].dataOffsets[0] - b[1].dataOffsets[0] || a[1].dataOffsets[1] - b[1].dataOffsets[1],
  );
  let position = 0;
  const START = '(start of data)';
  let previous = START;
  for (const [name, entry] of ordered) {
    const [begin, end] = entry.dataOffsets;
    if (begin < position) {
      fail(`tensor ${quoteValue(name)} (bytes ${begin}..${end}) overlaps ${previous === START ? previous : quoteValue(previous)} (which ends at ${position}).`);
    }
    if (begin > position) {
      fail(`there is a gap of ${begin - position} unused bytes between ${previous === START ? previous : quoteValue(previous)} and ${quoteValue(name)}.`);
    }
    position = end;
    previous = name;
  }
  if (position !== dataLength) {
    fail(
      `the data section is ${dataLength} bytes but the tensors cover only ${position}; ` +
        `the file has ${dataLength - position} trailing bytes.`,
    );
  }
  return { metadata, tensors, dataStart };
}

function parseEntry(name: string, raw: unknown, dataLength: number): SafetensorsEntry {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    fail(`entry ${quoteValue(name)} must be an object {dtype, shape, data_offsets}.`);
  }
  const { dtype, shape, data_offsets: offsets } = raw as Record<string, unknown>;
  if (typeof dtype !== 'string' || !(dtype in DTYPE_BYTES)) {
    fail(
      `tensor ${quoteValue(name)} has dtype ${brief(dtype)}; supported dtypes are ` +
        `${Object.keys(DTYPE_BYTES).join(', ')}. Convert it (e.g. to float32) before saving.`,
    );
  }
  if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
    fail(`tensor ${quoteValue(name)} has shape ${brief(shape)}; expected an array of non-negative integers.`);
  }
  if (
    !Array.isArray(offsets) ||
    offsets.length !== 2 ||
    !offsets.every((o) => Number.isSafeInteger(o) && o >= 0)
  ) {
    fail(`tensor ${quoteValue(name)} has data_offsets ${brief(offsets)}; expected [begin, end] byte offsets.`);
  }
  const [begin, end] = offsets as [number, number];
  if (begin > end) fail(`tensor ${quoteValue(name)} has data_offsets [${begin}, ${end}] with begin after end.`);
  if (end > dataLength) {
    fail(
      `tensor ${quoteValue(name)} ends at byte ${end} of the data section, which is only ${dataLength} bytes; ` +
        `the file is truncated or its header is wrong.`,
    );
  }
  const d = dtype as SafetensorsDtype;
  const count = (shape as number[]).reduce((a, b) => a * b, 1);
  const expected = count * DTYPE_BYTES[d];
  if (end - begin !== expected) {
    fail(
      `tensor ${quoteValue(name)} (${d} [${(shape as number[]).join(', ')}]) needs ${expected} bytes but its ` +
        `data_offsets [${begin}, ${end}] span ${end - begin}.`,
    );
  }
  return { dtype: d, shape: shape as number[], dataOffsets: [begin, end] };
}

/** The `__metadata__` string map of a safetensors file (empty when it has none). */
export function readSafetensorsMetadata(bytes: Uint8Array): Record<string, string> {
  return readSafetensorsHeader(bytes).metadata;
}

/**
 * Reads a safetensors file into tensors keyed by name.
 *
 * F32, F16 and BF16 become float32 tensors; I64 and I32 become int32 tensors (an I64 value
 * outside the int32 range is an error naming the tensor). Zero-dimensional entries become
 * scalars. The caller owns the returned tensors. The header is validated first (see
 * {@link readSafetensorsHeader}); use {@link readSafetensorsMetadata} for `__metadata__`.
 */
export function readSafetensors(
  bytes: Uint8Array,
  options: ReadSafetensorsOptions = {},
): Record<string, tf.Tensor> {
  const header = readSafetensorsHeader(bytes);
  const result: Record<string, tf.Tensor> = {};
  try {
    for (const [name, entry] of Object.entries(header.tensors)) {
      if (options.filter && !options.filter(name)) continue;
      const start = header.dataStart + entry.dataOffsets[0];
      const raw = bytes.subarray(start, header.dataStart + entry.dataOffsets[1]);
      const values = decode(name, entry.dtype, raw);
      setOwn(result, name, tf.tensor(values, entry.shape, values instanceof Int32Array ? 'int32' : 'float32'));
    }
  } catch (e) {
    tf.dispose(Object.values(result));
    throw e;
  }
  return result;
}

function decode(name: string, dtype: SafetensorsDtype, raw: Uint8Array): Float32Array | Int32Array {
  const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  switch (dtype) {
    case 'F32': {
      const out = new Float32Array(raw.length / 4);
      if (LITTLE_ENDIAN) new Uint8Array(out.buffer).set(raw);
      else for (let i = 0; i < out.length; i++) out[i] = view.getFloat32(4 * i, true);
      return out;
    }
    case 'F16': {
      const out = new Float32Array(raw.length / 2);
      for (let i = 0; i < out.length; i++) out[i] = halfToFloat(view.getUint16(2 * i, true));
      return out;
    }
    case 'BF16': {
      // bfloat16 is the top half of a float32.
      const bits = new Uint32Array(raw.length / 2);
      for (let i = 0; i < bits.length; i++) bits[i] = view.getUint16(2 * i, true) << 16;
      return new Float32Array(bits.buffer);
    }
    case 'I32': {
      const out = new Int32Array(raw.length / 4);
      for (let i = 0; i < out.length; i++) out[i] = view.getInt32(4 * i, true);
      return out;
    }
    case 'I64': {
      const out = new Int32Array(raw.length / 8);
      for (let i = 0; i < out.length; i++) {
        const lo = view.getUint32(8 * i, true);
        const hi = view.getInt32(8 * i + 4, true);
        // In int32 range iff the high word is the sign extension of the low word.
        if (hi !== (lo & 0x80000000 ? -1 : 0)) {
          const value = view.getBigInt64(8 * i, true);
          fail(
            `tensor ${quoteValue(name)} (I64) holds ${value} at flat index ${i}, outside the int32 range ` +
              `TensorFlow.js supports; store it as float or a smaller integer.`,
          );
        }
        out[i] = lo | 0;
      }
      return out;
    }
  }
}

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exponent = (h >> 10) & 0x1f;
  const fraction = h & 0x3ff;
  if (exponent === 0) return sign * fraction * 2 ** -24; // zero and subnormals
  if (exponent === 0x1f) return fraction ? NaN : sign * Infinity;
  return sign * (1 + fraction / 1024) * 2 ** (exponent - 15);
}

/**
 * Serialises tensors to a safetensors file. float32 tensors are written as F32; int32 tensors
 * as I64 (PyTorch's integer type, e.g. for BatchNorm's `num_batches_tracked`). Entries keep
 * the record's order. `metadata` becomes `__metadata__` (string values only).
 */
export function writeSafetensors(
  tensors: Record<string, tf.Tensor>,
  metadata?: Record<string, string>,
): Uint8Array {
  const header: Record<string, unknown> = {};
  if (metadata !== undefined) {
    for (const [k, v] of Object.entries(metadata)) {
      if (typeof v !== 'string') {
        failWrite(`metadata value '${k}' must be a string, got ${typeof v}; use JSON.stringify for structured values.`);
      }
    }
    header['__metadata__'] = metadata;
  }
  const chunks: Uint8Array[] = [];
  let offset = 0;
  for (const [name, t] of Object.entries(tensors)) {
    if (name === '__metadata__') failWrite(`'__metadata__' is reserved and cannot name a tensor.`);
    if (t.isDisposed) failWrite(`tensor ${quoteValue(name)} is disposed.`);
    let chunk: Uint8Array;
    let dtype: SafetensorsDtype;
    if (t.dtype === 'float32') {
      const values = t.dataSync() as Float32Array;
      chunk = new Uint8Array(values.length * 4);
      const view = new DataView(chunk.buffer);
      for (let i = 0; i < values.length; i++) view.setFloat32(4 * i, values[i], true);
      dtype = 'F32';
    } else if (t.dtype === 'int32') {
      const values = t.dataSync() as Int32Array;
      chunk = new Uint8Array(values.length * 8);
      const view = new DataView(chunk.buffer);
      for (let i = 0; i < values.length; i++) view.setBigInt64(8 * i, BigInt(values[i]), true);
      dtype = 'I64';
    } else {
      failWrite(`tensor ${quoteValue(name)} has dtype ${t.dtype}; only float32 and int32 tensors can be written.`);
    }
    header[name] = { dtype, shape: t.shape, data_offsets: [offset, offset + chunk.length] };
    chunks.push(chunk);
    offset += chunk.length;
  }
  let json = JSON.stringify(header);
  // Pad with spaces so the data starts 8-byte aligned, as the reference writer does.
  const encoder = new TextEncoder();
  let headerBytes = encoder.encode(json);
  const padding = (8 - (headerBytes.length % 8)) % 8;
  if (padding > 0) {
    json += ' '.repeat(padding);
    headerBytes = encoder.encode(json);
  }
  const out = new Uint8Array(8 + headerBytes.length + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(headerBytes.length), true);
  out.set(headerBytes, 8);
  let position = 8 + headerBytes.length;
  for (const chunk of chunks) {
    out.set(chunk, position);
    position += chunk.length;
  }
  return out;
}
