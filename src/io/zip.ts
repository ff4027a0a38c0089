import { Inflate } from 'fflate';
import { FileFormatError, LimitError, quoteValue } from '../errors.js';

// A reader of zip archives for untrusted files: the central directory is parsed with every
// offset and count checked against the file, and an entry is only inflated when it is asked
// for, in small input chunks, stopping as soon as the output passes the size the caller allows.
// So a small archive with a huge (or lying) entry costs neither memory nor time unless that
// entry is read, and then no more than the caller's cap. CRC-32 is checked on every read.

/** One file of a zip archive, as its central directory describes it. */
export interface ZipEntry {
  name: string;
  /** 0 = stored, 8 = deflate (the only methods read). */
  method: number;
  /** Bytes of the entry's data in the archive. */
  compressedSize: number;
  /** Bytes once inflated, as the directory claims. */
  size: number;
  crc32: number;
  /** Offset of the entry's local header. */
  localHeaderOffset: number;
  /** General-purpose flags (bit 0: encrypted). */
  flags: number;
}

/** An opened archive: its directory; data is read per entry with {@link ZipArchive.read}. */
export interface ZipArchive {
  entries: Map<string, ZipEntry>;
  /** The entry's bytes, at most `maxBytes` of them (a stored entry is a view of the file). */
  read(entry: ZipEntry, maxBytes: number): Uint8Array;
}

const EOCD = 0x06054b50;
const EOCD64_LOCATOR = 0x07064b50;
const EOCD64 = 0x06064b50;
const CENTRAL = 0x02014b50;
const LOCAL = 0x04034b50;
const CENTRAL_HEADER_BYTES = 46;
const LOCAL_HEADER_BYTES = 30;
/**
 * Input fed to the inflater per step, at most: deflate expands at most ~1032×, so one step's
 * output is bounded too. Steps shrink (to 1 KiB) as the output nears its cap, so that a stream
 * that overshoots is stopped within about 1 MiB of it.
 */
const MAX_INFLATE_CHUNK = 64 * 1024;
const MIN_INFLATE_CHUNK = 1024;
const DEFLATE_MAX_RATIO = 1032;

function fail(message: string): never {
  throw new FileFormatError(`the zip archive ${message}`);
}

const latin1 = new TextDecoder('latin1');
const utf8 = new TextDecoder('utf-8');

/**
 * Reads the central directory of a zip archive (ZIP64 included). Throws a FileFormatError for
 * anything inconsistent: a directory outside the file, more entries than it can hold, duplicate
 * names, encrypted entries, an entry whose data would lie outside the file.
 */
export function openZip(bytes: Uint8Array): ZipArchive {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n = bytes.length;
  const u16 = (at: number) => view.getUint16(at, true);
  const u32 = (at: number) => view.getUint32(at, true);
  const u64 = (at: number) => {
    const v = view.getBigUint64(at, true);
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) fail(`has a ZIP64 field of ${v}, larger than any file; it is corrupt.`);
    return Number(v);
  };

  // The end-of-central-directory record: 22 bytes plus a comment of at most 65535.
  let eocd = -1;
  for (let at = n - 22; at >= Math.max(0, n - 22 - 0xffff); at--) {
    if (u32(at) === EOCD && at + 22 + u16(at + 20) === n) {
      eocd = at;
      break;
    }
  }
  if (eocd < 0) {
    for (let at = n - 22; at >= Math.max(0, n - 22 - 0xffff); at--) {
      if (u32(at) === EOCD) {
        eocd = at;
        break;
      }
    }
  }
  if (eocd < 0) fail('has no end-of-central-directory record; it is truncated or corrupt.');
  let count = u16(eocd + 10);
  let directorySize = u32(eocd + 12);
  let directoryOffset = u32(eocd + 16);
  if (eocd >= 20 && u32(eocd - 20) === EOCD64_LOCATOR) {
    const at = u64(eocd - 12);
    if (at + 56 > n || u32(at) !== EOCD64) fail('has a ZIP64 locator pointing outside the file; it is corrupt.');
    count = u64(at + 32);
    directorySize = u64(at + 40);
    directoryOffset = u64(at + 48);
  }
  if (directoryOffset + directorySize > n) {
    fail(`says its directory spans bytes ${directoryOffset}..${directoryOffset + directorySize}, beyond the file's ${n}; it is truncated or corrupt.`);
  }
  if (count * CENTRAL_HEADER_BYTES > directorySize) {
    fail(`claims ${count} entries, more than its ${directorySize}-byte directory can hold; it is corrupt.`);
  }

  const entries = new Map<string, ZipEntry>();
  let at = directoryOffset;
  const end = directoryOffset + directorySize;
  for (let i = 0; i < count; i++) {
    if (at + CENTRAL_HEADER_BYTES > end || u32(at) !== CENTRAL) fail(`directory entry ${i + 1} of ${count} is damaged; the file is corrupt.`);
    const flags = u16(at + 8);
    const method = u16(at + 10);
    const crc32 = u32(at + 16);
    let compressedSize = u32(at + 20);
    let size = u32(at + 24);
    const nameLength = u16(at + 28);
    const extraLength = u16(at + 30);
    const commentLength = u16(at + 32);
    let localHeaderOffset = u32(at + 42);
    const nameStart = at + CENTRAL_HEADER_BYTES;
    const next = nameStart + nameLength + extraLength + commentLength;
    if (next > end) fail(`directory entry ${i + 1} runs past the directory; the file is corrupt.`);
    const name = (flags & 0x800 ? utf8 : latin1).decode(bytes.subarray(nameStart, nameStart + nameLength));
    // ZIP64 extra field: the 64-bit values of the fields saturated at 0xffffffff, in this order.
    for (let x = nameStart + nameLength; x + 4 <= nameStart + nameLength + extraLength; ) {
      const id = u16(x);
      const length = u16(x + 2);
      if (x + 4 + length > nameStart + nameLength + extraLength) break;
      if (id === 0x0001) {
        let p = x + 4;
        const take = () => {
          if (p + 8 > x + 4 + length) fail(`entry ${quoteValue(name)} has a short ZIP64 field; the file is corrupt.`);
          const v = u64(p);
          p += 8;
          return v;
        };
        if (size === 0xffffffff) size = take();
        if (compressedSize === 0xffffffff) compressedSize = take();
        if (localHeaderOffset === 0xffffffff) localHeaderOffset = take();
      }
      x += 4 + length;
    }
    if (entries.has(name)) fail(`holds ${quoteValue(name)} twice; it is ambiguous and not a file PyTorch writes.`);
    if (localHeaderOffset + LOCAL_HEADER_BYTES > n) fail(`entry ${quoteValue(name)} starts beyond the end of the file; it is truncated.`);
    entries.set(name, { name, method, compressedSize, size, crc32, localHeaderOffset, flags });
    at = next;
  }

  return {
    entries,
    read(entry, maxBytes) {
      const label = quoteValue(entry.name);
      if (entry.flags & 1) fail(`entry ${label} is encrypted; it cannot be read.`);
      if (entry.size > maxBytes) {
        throw new LimitError(
          `the zip entry ${label} claims ${entry.size} bytes, more than the ${maxBytes} it may hold here; the file is corrupt or hostile.`,
        );
      }
      const h = entry.localHeaderOffset;
      if (u32(h) !== LOCAL) fail(`entry ${label} has no local header where the directory says; the file is corrupt.`);
      const dataStart = h + LOCAL_HEADER_BYTES + u16(h + 26) + u16(h + 28);
      if (dataStart + entry.compressedSize > n) fail(`entry ${label} ends beyond the end of the file; it is truncated.`);
      const raw = bytes.subarray(dataStart, dataStart + entry.compressedSize);
      let data: Uint8Array;
      if (entry.method === 0) {
        if (entry.compressedSize !== entry.size) fail(`stored entry ${label} has two different sizes; the file is corrupt.`);
        data = raw;
      } else if (entry.method === 8) {
        data = inflateCapped(raw, entry.size, label);
      } else {
        fail(`entry ${label} uses compression method ${entry.method}; only stored and deflate entries are read.`);
      }
      if (crc32(data) !== entry.crc32) fail(`entry ${label} fails its CRC-32 check; the file is corrupt.`);
      return data;
    },
  };
}

/** Inflates `raw`, which must give exactly `size` bytes; stops as soon as it would give more. */
function inflateCapped(raw: Uint8Array, size: number, label: string): Uint8Array {
  const out = new Uint8Array(size);
  let filled = 0;
  let finished = false;
  const inflater = new Inflate((chunk, final) => {
    if (filled + chunk.length > size) {
      fail(`entry ${label} inflates to more than the ${size} bytes its directory claims; the file is corrupt or hostile.`);
    }
    out.set(chunk, filled);
    filled += chunk.length;
    if (final) finished = true;
  });
  try {
    for (let at = 0; at < raw.length && !finished; ) {
      const step = Math.min(MAX_INFLATE_CHUNK, Math.max(MIN_INFLATE_CHUNK, Math.ceil((size - filled) / DEFLATE_MAX_RATIO)));
      const end = Math.min(raw.length, at + step);
      inflater.push(raw.subarray(at, end), end === raw.length);
      at = end;
    }
    if (raw.length === 0) inflater.push(raw, true);
  } catch (e) {
    if (e instanceof FileFormatError) throw e;
    fail(`entry ${label} is not valid deflate data (${(e as Error).message}); the file is corrupt.`);
  }
  if (!finished || filled !== size) {
    fail(`entry ${label} inflates to ${filled} bytes, not the ${size} its directory claims; the file is corrupt.`);
  }
  return out;
}

let crcTable: Int32Array | undefined;

/** CRC-32 (IEEE 802.3), as zip stores it. */
export function crc32(data: Uint8Array): number {
  if (!crcTable) {
    crcTable = new Int32Array(256);
    for (let i = 0; i < 256; i++) {
      let c = i;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      crcTable[i] = c;
    }
  }
  const table = crcTable;
  let c = -1;
  for (let i = 0; i < data.length; i++) c = table[(c ^ data[i]!) & 0xff]! ^ (c >>> 8);
  return (c ^ -1) >>> 0;
}
