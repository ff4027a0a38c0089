// Builds torch.save files (both layouts), safetensors files and PNGs byte by byte, so that tests
// of hostile and damaged files make every file they read themselves. Written from the formats'
// specifications (pickle protocol 2 opcodes; torch's legacy and zip layouts; zip; PNG).
import { deflateRawSync } from 'node:zlib';
import { crc32 } from '../../src/io/zip.js';

/** A Python value as the writer pickles it. */
export type Py =
  | null
  | boolean
  | number
  | bigint
  | string
  | Py[] // a tuple
  | { list: Py[] }
  | { dict: Array<[Py, Py]> }
  | { global: [string, string] }
  | { call: [Py, Py[]] } // REDUCE of a callable with a tuple of arguments
  | { persid: Py }
  | { build: [Py, Py] }
  | { raw: number[] }; // opcodes as they are

const enc = new TextEncoder();

/** Pickles `value` (protocol 2, with a STOP). */
export function pickle(value: Py): Uint8Array {
  const out: number[] = [0x80, 2];
  const u32 = (n: number) => out.push(n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, (n >>> 24) & 0xff);
  const write = (v: Py): void => {
    if (v === null) out.push(0x4e);
    else if (v === true) out.push(0x88);
    else if (v === false) out.push(0x89);
    else if (typeof v === 'number') {
      if (!Number.isInteger(v)) {
        out.push(0x47);
        const b = new DataView(new ArrayBuffer(8));
        b.setFloat64(0, v, false);
        for (let i = 0; i < 8; i++) out.push(b.getUint8(i));
      } else if (v >= 0 && v < 256) out.push(0x4b, v);
      else if (v >= 0 && v < 65536) out.push(0x4d, v & 0xff, v >> 8);
      else if (v >= -(2 ** 31) && v < 2 ** 31) {
        out.push(0x4a);
        u32(v);
      } else write(BigInt(v));
    } else if (typeof v === 'bigint') {
      const bytes: number[] = [];
      let x = v;
      while (x !== 0n && x !== -1n) {
        bytes.push(Number(x & 0xffn));
        x >>= 8n;
      }
      if (v >= 0n && (bytes.length === 0 || bytes[bytes.length - 1]! & 0x80)) bytes.push(0);
      if (v < 0n && (bytes.length === 0 || !(bytes[bytes.length - 1]! & 0x80))) bytes.push(0xff);
      out.push(0x8a, bytes.length, ...bytes);
    } else if (typeof v === 'string') {
      const b = enc.encode(v);
      out.push(0x58);
      u32(b.length);
      for (const x of b) out.push(x);
    } else if (Array.isArray(v)) {
      out.push(0x28);
      v.forEach(write);
      out.push(0x74);
    } else if ('list' in v) {
      out.push(0x5d, 0x28);
      v.list.forEach(write);
      out.push(0x65);
    } else if ('dict' in v) {
      out.push(0x7d, 0x28);
      for (const [k, x] of v.dict) {
        write(k);
        write(x);
      }
      out.push(0x75);
    } else if ('global' in v) {
      out.push(0x63, ...enc.encode(`${v.global[0]}\n${v.global[1]}\n`));
    } else if ('call' in v) {
      write(v.call[0]);
      write(v.call[1]);
      out.push(0x52);
    } else if ('persid' in v) {
      write(v.persid);
      out.push(0x51);
    } else if ('build' in v) {
      write(v.build[0]);
      write(v.build[1]);
      out.push(0x62);
    } else {
      out.push(...v.raw);
    }
  };
  write(value);
  out.push(0x2e);
  return Uint8Array.from(out);
}

/** One tensor of a torch file: values, or a view of another storage. */
export interface TorchTensorSpec {
  /** Storage type, e.g. `FloatStorage` (default), `IntStorage`, `LongStorage`. */
  storage?: string;
  /** The storage's raw little-endian bytes (default: the values as float32). */
  bytes?: Uint8Array;
  /** float32 values (when `bytes` is not given). */
  values?: number[];
  shape: number[];
  /** Default: row-major contiguous. */
  stride?: number[];
  offset?: number;
  /** Elements the storage claims (default: bytes / element size). */
  numel?: number;
  /** Storage key (default: the tensor's position). */
  key?: string;
}

const ELEMENT: Record<string, number> = { FloatStorage: 4, IntStorage: 4, LongStorage: 8, HalfStorage: 2, ByteStorage: 1 };

function contiguous(shape: number[]): number[] {
  const s = new Array<number>(shape.length);
  let acc = 1;
  for (let d = shape.length - 1; d >= 0; d--) {
    s[d] = acc;
    acc *= shape[d]!;
  }
  return s;
}

interface Storage {
  key: string;
  type: string;
  bytes: Uint8Array;
  numel: number;
}

function storagesOf(tensors: Record<string, TorchTensorSpec>): { body: (wrap: (py: Py) => Py) => Py; storages: Storage[] } {
  const storages: Storage[] = [];
  const entries: Array<[string, Py]> = [];
  Object.entries(tensors).forEach(([name, t], i) => {
    const type = t.storage ?? 'FloatStorage';
    const bytes = t.bytes ?? new Uint8Array(Float32Array.from(t.values ?? []).buffer);
    const key = t.key ?? String(i);
    const numel = t.numel ?? bytes.length / ELEMENT[type]!;
    if (!storages.some((s) => s.key === key)) storages.push({ key, type, bytes, numel });
    const tensor: Py = {
      call: [
        { global: ['torch._utils', '_rebuild_tensor_v2'] },
        [{ persid: ['storage', { global: ['torch', type] }, key, 'cpu', numel] }, t.offset ?? 0, t.shape, t.stride ?? contiguous(t.shape), false, { call: [{ global: ['collections', 'OrderedDict'] }, []] }],
      ],
    };
    entries.push([name, tensor]);
  });
  const dict: Py = { dict: entries.map(([k, v]) => [k, v]) };
  return { body: (wrap) => wrap(dict), storages };
}

/** Options of the torch file writers. */
export interface TorchFileOptions {
  /** Wraps the state dict, e.g. `(sd) => ({dict: [['G', sd]]})` for the official layout. */
  wrap?: (stateDict: Py) => Py;
  /** Replaces the object pickle entirely (then `tensors` only supplies storages). */
  body?: Uint8Array;
}

/** A legacy (PyTorch < 1.6) torch.save file of a state dict. */
export function legacyTorchFile(tensors: Record<string, TorchTensorSpec>, options: TorchFileOptions = {}): Uint8Array {
  const { body, storages } = storagesOf(tensors);
  const parts: Uint8Array[] = [
    pickle(0x1950a86a20f9469cfc6cn),
    pickle(1001),
    pickle({ dict: [['protocol_version', 1001], ['little_endian', true], ['type_sizes', { dict: [['short', 2], ['int', 4], ['long', 4]] }]] }),
    options.body ?? pickle(body(options.wrap ?? ((x) => x))),
    pickle({ list: storages.map((s) => s.key) }),
  ];
  for (const s of storages) {
    const count = new Uint8Array(8);
    new DataView(count.buffer).setBigInt64(0, BigInt(s.numel), true);
    parts.push(count, s.bytes);
  }
  return concat(parts);
}

/** One file of a zip built by {@link zipArchive}. */
export interface ZipSpec {
  name: string;
  /** The entry's bytes; deflated when `method` is 8 (unless `raw` gives the compressed bytes). */
  data?: Uint8Array;
  /** 0 stored (default), 8 deflate. */
  method?: 0 | 8;
  /** Compressed bytes as they are (for method 8), e.g. an invalid or lying stream. */
  raw?: Uint8Array;
  /** Size the directory claims (default: the data's). */
  size?: number;
  /** CRC the directory claims (default: the data's). */
  crc?: number;
}

/** A zip archive, written field by field (so that sizes and CRCs can lie when a test needs it). */
export function zipArchive(entries: readonly ZipSpec[]): Uint8Array {
  const locals: Uint8Array[] = [];
  const centrals: Uint8Array[] = [];
  let offset = 0;
  for (const e of entries) {
    const data = e.data ?? new Uint8Array(0);
    const method = e.method ?? 0;
    const stored = e.raw ?? (method === 8 ? new Uint8Array(deflateRawSync(data)) : data);
    const name = enc.encode(e.name);
    const crc = e.crc ?? crc32(data);
    const size = e.size ?? data.length;
    const local = new Uint8Array(30 + name.length);
    const lv = new DataView(local.buffer);
    lv.setUint32(0, 0x04034b50, true);
    lv.setUint16(4, 20, true);
    lv.setUint16(8, method, true);
    lv.setUint32(14, crc, true);
    lv.setUint32(18, stored.length, true);
    lv.setUint32(22, Math.min(size, 0xffffffff), true);
    lv.setUint16(26, name.length, true);
    local.set(name, 30);
    const central = new Uint8Array(46 + name.length);
    const cv = new DataView(central.buffer);
    cv.setUint32(0, 0x02014b50, true);
    cv.setUint16(4, 20, true);
    cv.setUint16(6, 20, true);
    cv.setUint16(10, method, true);
    cv.setUint32(16, crc, true);
    cv.setUint32(20, stored.length, true);
    cv.setUint32(24, Math.min(size, 0xffffffff), true);
    cv.setUint16(28, name.length, true);
    cv.setUint32(42, offset, true);
    central.set(name, 46);
    locals.push(local, stored);
    centrals.push(central);
    offset += local.length + stored.length;
  }
  const directory = concat(centrals);
  const end = new Uint8Array(22);
  const ev = new DataView(end.buffer);
  ev.setUint32(0, 0x06054b50, true);
  ev.setUint16(8, entries.length, true);
  ev.setUint16(10, entries.length, true);
  ev.setUint32(12, directory.length, true);
  ev.setUint32(16, offset, true);
  return concat([...locals, directory, end]);
}

/** A zip (PyTorch >= 1.6) torch.save file of a state dict; `extra` entries are appended as given. */
export function zipTorchFile(
  tensors: Record<string, TorchTensorSpec>,
  options: TorchFileOptions & { extra?: ZipSpec[]; compress?: boolean; omitRecords?: string[] } = {},
): Uint8Array {
  const { body, storages } = storagesOf(tensors);
  const method: 0 | 8 = options.compress ? 8 : 0;
  return zipArchive([
    { name: 'archive/data.pkl', data: options.body ?? pickle(body(options.wrap ?? ((x) => x))), method },
    { name: 'archive/byteorder', data: enc.encode('little') },
    ...storages.filter((s) => !options.omitRecords?.includes(s.key)).map((s) => ({ name: `archive/data/${s.key}`, data: s.bytes, method })),
    { name: 'archive/version', data: enc.encode('3\n') },
    ...(options.extra ?? []),
  ]);
}

/** A safetensors file from raw entries (any dtype name, any bytes), header as given. */
export function craftSafetensors(
  entries: Array<{ name: string; dtype: string; shape: number[]; bytes: Uint8Array }>,
  metadata?: Record<string, string>,
): Uint8Array {
  const header: Record<string, unknown> = {};
  if (metadata) header['__metadata__'] = metadata;
  let offset = 0;
  for (const e of entries) {
    header[e.name] = { dtype: e.dtype, shape: e.shape, data_offsets: [offset, offset + e.bytes.length] };
    offset += e.bytes.length;
  }
  const json = enc.encode(JSON.stringify(header));
  const lengthField = new Uint8Array(8);
  new DataView(lengthField.buffer).setBigUint64(0, BigInt(json.length), true);
  return concat([lengthField, json, ...entries.map((e) => e.bytes)]);
}

export function concat(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** A PNG chunk with its length and CRC. */
export function pngChunk(type: string, data: Uint8Array): Uint8Array {
  const head = new Uint8Array(8);
  const view = new DataView(head.buffer);
  view.setUint32(0, data.length);
  head.set(enc.encode(type), 4);
  const crc = new Uint8Array(4);
  new DataView(crc.buffer).setUint32(0, crc32(concat([enc.encode(type), data])));
  return concat([head, data, crc]);
}

/**
 * A PNG whose header claims `width × height` grey pixels but whose data is `idat` (default: a
 * valid zlib stream of a few zero bytes): what a decompression bomb's header looks like.
 */
export function pngWithHeader(width: number, height: number, idat?: Uint8Array): Uint8Array {
  const ihdr = new Uint8Array(13);
  const v = new DataView(ihdr.buffer);
  v.setUint32(0, width);
  v.setUint32(4, height);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 0; // grey
  return concat([
    Uint8Array.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    pngChunk('IHDR', ihdr),
    pngChunk('IDAT', idat ?? Uint8Array.from([0x78, 0x9c, 0x63, 0x00, 0x00, 0x00, 0x01, 0x00, 0x01])),
    pngChunk('IEND', new Uint8Array(0)),
  ]);
}
