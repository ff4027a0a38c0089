import * as tf from '@tensorflow/tfjs-core';
import { FileFormatError, LimitError, quoteValue, shownName } from '../errors.js';
import { isPickleDict, setDictItem, unpickle, type PickleDict, type UnpickleHooks } from './pickle.js';
import { openZip, type ZipArchive } from './zip.js';

// Reader of `torch.save` files, in both layouts PyTorch has used:
// - zip (PyTorch >= 1.6): `<folder>/data.pkl` holds the object pickle, `<folder>/data/<key>` the
//   raw little-endian bytes of each storage (the folder name varies: file stem or `archive`).
// - legacy (before 1.6, and `_use_new_zipfile_serialization=False`): five things back to back:
//   a pickled magic number, a pickled protocol version (1001), a pickled sys-info dict, the
//   object pickle, a pickled list of storage keys; then for each key an int64 element count
//   followed by the storage's bytes.
// In both, tensors are pickled as calls of `torch._utils._rebuild_tensor_v2(storage, offset,
// size, stride, ...)` and storages as persistent ids `('storage', <torch.XStorage>, key,
// location, numel[, view])`. The pickle is read by a restricted unpickler that maps a short
// whitelist of globals to JS functions and refuses every other one; nothing is executed.

/** Element types of PyTorch storages this reader understands. */
export type TorchDtype =
  | 'float32'
  | 'float64'
  | 'float16'
  | 'bfloat16'
  | 'int64'
  | 'int32'
  | 'int16'
  | 'int8'
  | 'uint8'
  | 'bool';

const STORAGE_TYPES: Record<string, { dtype: TorchDtype; bytes: number }> = {
  FloatStorage: { dtype: 'float32', bytes: 4 },
  DoubleStorage: { dtype: 'float64', bytes: 8 },
  HalfStorage: { dtype: 'float16', bytes: 2 },
  BFloat16Storage: { dtype: 'bfloat16', bytes: 2 },
  LongStorage: { dtype: 'int64', bytes: 8 },
  IntStorage: { dtype: 'int32', bytes: 4 },
  ShortStorage: { dtype: 'int16', bytes: 2 },
  CharStorage: { dtype: 'int8', bytes: 1 },
  ByteStorage: { dtype: 'uint8', bytes: 1 },
  BoolStorage: { dtype: 'bool', bytes: 1 },
};

const LEGACY_MAGIC = 0x1950a86a20f9469cfc6cn;
const LEGACY_PROTOCOL_VERSION = 1001;
const LITTLE_ENDIAN_HOST = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

function fail(message: string): never {
  throw new FileFormatError(`torch checkpoint: ${message}`);
}

/** Largest object pickle (`data.pkl`) read from a zip checkpoint: state dicts need far less. */
export const MAX_CHECKPOINT_PICKLE_BYTES = 64 * 1024 * 1024;

/**
 * Elements a tensor view may have beyond its storage's: a view with stride 0 repeats elements
 * (`torch.expand`), and its decoded copy is refused when it would exceed its storage's element
 * count by more than this, so that a few bytes cannot claim gigabytes.
 */
export const MAX_EXPANDED_ELEMENTS = 1 << 20;

/** Extra bytes a zip storage record may hold beyond its storage's size. */
const RECORD_SLACK_BYTES = 64 * 1024;

/** One PyTorch storage: a flat typed buffer that tensors view with an offset and strides. */
export class TorchStorage {
  /** Raw little-endian bytes, once read. */
  private data: Uint8Array | undefined;
  /** Reads the raw bytes on first use (a zip record is inflated only when a tensor needs it). */
  private source: (() => Uint8Array) | undefined;

  constructor(
    /** The storage's key in the file (`data/<key>` in the zip layout). */
    readonly key: string,
    readonly dtype: TorchDtype,
    /** Number of elements. */
    readonly numel: number,
    /** Where it lived when saved (`'cpu'`, `'cuda:0'`); ignored when reading. */
    readonly location: string,
    /** For legacy storage views: the storage this one is a window of, and the window's start. */
    readonly root: TorchStorage | null = null,
    readonly rootOffset = 0,
  ) {}

  /** Bytes per element. */
  get elementBytes(): number {
    return ELEMENT_BYTES[this.dtype];
  }

  /** Bytes the storage needs: `numel × elementBytes`. */
  get byteLength(): number {
    return this.numel * this.elementBytes;
  }

  /** @internal Attaches the raw bytes (at least `numel × elementBytes` of them). */
  setData(bytes: Uint8Array): void {
    const need = this.byteLength;
    if (bytes.length < need) {
      fail(
        `storage '${this.key}' (${this.dtype}, ${this.numel} elements) needs ${need} bytes but the file ` +
          `holds ${bytes.length}; the file is truncated or corrupt.`,
      );
    }
    this.data = bytes.subarray(0, need);
    this.source = undefined;
  }

  /** @internal Attaches a reader of the raw bytes, called once, when a tensor is decoded. */
  setSource(read: () => Uint8Array): void {
    this.source = read;
  }

  /** True once the bytes are known or can be read. */
  get loaded(): boolean {
    return this.root ? this.root.loaded : this.data !== undefined || this.source !== undefined;
  }

  /** The raw bytes of this storage (a window of the root's for a view). */
  bytes(): Uint8Array {
    if (this.root) {
      const start = this.rootOffset * this.elementBytes;
      return this.root.bytes().subarray(start, start + this.numel * this.elementBytes);
    }
    if (!this.data && this.source) this.setData(this.source());
    if (!this.data) fail(`storage '${this.key}' has no data in the file; the file is truncated or corrupt.`);
    return this.data!;
  }
}

const ELEMENT_BYTES: Record<TorchDtype, number> = {
  float32: 4,
  float64: 8,
  float16: 2,
  bfloat16: 2,
  int64: 8,
  int32: 4,
  int16: 2,
  int8: 1,
  uint8: 1,
  bool: 1,
};

/**
 * A tensor read from a checkpoint, not yet a `tf.Tensor`: a view (offset, shape, strides in
 * elements) of a {@link TorchStorage}. Nothing is decoded until {@link TorchTensor.toTypedArray}
 * or {@link TorchTensor.toTensor} is called, so the optimizer state of a large checkpoint
 * costs no memory unless it is used.
 */
export class TorchTensor {
  constructor(
    readonly storage: TorchStorage,
    /** Offset of element 0 in the storage, in elements. */
    readonly storageOffset: number,
    readonly shape: number[],
    /** Strides in elements, PyTorch's convention. */
    readonly stride: number[],
    readonly requiresGrad = false,
  ) {}

  get dtype(): TorchDtype {
    return this.storage.dtype;
  }

  /** Number of elements. */
  get size(): number {
    return this.shape.reduce((a, b) => a * b, 1);
  }

  /**
   * @internal Throws unless decoding this view stays within what its storage holds (plus
   * {@link MAX_EXPANDED_ELEMENTS} for stride-0 views); the shape's product is checked as it grows,
   * so absurd shapes never reach an allocation.
   */
  checkDecodable(name: string): void {
    const limit = Math.max(this.storage.numel, MAX_EXPANDED_ELEMENTS);
    let n = 1;
    for (const d of this.shape) {
      n *= d;
      if (n > limit) {
        throw new LimitError(
          `torch checkpoint: ${name} has shape [${this.shape.join(', ')}] (strides [${this.stride.join(', ')}]) but its storage ` +
            `'${this.storage.key}' holds ${this.storage.numel} elements; a view that repeats elements this much is refused ` +
            `(at most ${MAX_EXPANDED_ELEMENTS} more than the storage). Save a contiguous copy (tensor.clone()) instead.`,
        );
      }
      if (n === 0) return;
    }
  }

  /** True when the elements are laid out row-major without gaps. */
  isContiguous(): boolean {
    let expected = 1;
    for (let d = this.shape.length - 1; d >= 0; d--) {
      if (this.shape[d] !== 1 && this.stride[d] !== expected) return false;
      expected *= this.shape[d]!;
    }
    return true;
  }

  /** @internal Throws when the view reaches outside its storage. */
  checkBounds(): void {
    if (this.size === 0) return;
    let last = this.storageOffset;
    let first = this.storageOffset;
    this.shape.forEach((n, d) => {
      const s = this.stride[d]! * (n - 1);
      if (s > 0) last += s;
      else first += s;
    });
    if (first < 0 || last >= this.storage.numel) {
      fail(
        `a tensor of shape [${this.shape}] (offset ${this.storageOffset}, strides [${this.stride}]) reaches ` +
          `outside its storage '${this.storage.key}' of ${this.storage.numel} elements; the file is corrupt.`,
      );
    }
  }

  /**
   * Decodes the elements in row-major order (a non-contiguous view becomes contiguous).
   * Floating types become a Float32Array (float16, bfloat16 widened, float64 rounded); integer
   * types an Int32Array (an int64 outside the int32 range is an error); bool a Uint8Array.
   * `name` only labels error messages.
   */
  toTypedArray(name = 'tensor'): Float32Array | Int32Array | Uint8Array {
    this.checkDecodable(name);
    const n = this.size;
    const dtype = this.dtype;
    const raw = this.storage.bytes();
    const elementBytes = ELEMENT_BYTES[dtype];
    if (dtype === 'float32' && LITTLE_ENDIAN_HOST && this.isContiguous()) {
      const start = this.storageOffset * 4;
      // slice() copies into a fresh, aligned buffer.
      return new Float32Array(raw.slice(start, start + 4 * n).buffer);
    }
    const out =
      dtype === 'bool'
        ? new Uint8Array(n)
        : isFloat(dtype)
          ? new Float32Array(n)
          : new Int32Array(n);
    const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
    const read = elementReader(dtype, view, name);
    const rank = this.shape.length;
    if (rank === 0 || this.isContiguous()) {
      for (let i = 0; i < n; i++) out[i] = read((this.storageOffset + i) * elementBytes, i);
      return out;
    }
    // Odometer over the output index; `src` follows it through the strides.
    const index = new Array<number>(rank).fill(0);
    let src = this.storageOffset;
    for (let i = 0; i < n; i++) {
      out[i] = read(src * elementBytes, i);
      for (let d = rank - 1; d >= 0; d--) {
        index[d]!++;
        src += this.stride[d]!;
        if (index[d]! < this.shape[d]!) break;
        src -= this.stride[d]! * this.shape[d]!;
        index[d] = 0;
      }
    }
    return out;
  }

  /**
   * Creates a `tf.Tensor` with the same shape: float32 for floating types, int32 for integer
   * types (int64 range-checked), bool for bool. The caller owns (and disposes) it.
   */
  toTensor(name = 'tensor'): tf.Tensor {
    const values = this.toTypedArray(name);
    const dtype = this.dtype === 'bool' ? 'bool' : isFloat(this.dtype) ? 'float32' : 'int32';
    return tf.tensor(values, this.shape, dtype);
  }
}

function isFloat(dtype: TorchDtype): boolean {
  return dtype === 'float32' || dtype === 'float64' || dtype === 'float16' || dtype === 'bfloat16';
}

const f32Scratch = new Float32Array(1);
const u32Scratch = new Uint32Array(f32Scratch.buffer);

function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exponent = (h >> 10) & 0x1f;
  const mantissa = h & 0x3ff;
  if (exponent === 0) return sign * mantissa * 2 ** -24;
  if (exponent === 0x1f) return mantissa ? NaN : sign * Infinity;
  return sign * (1 + mantissa / 1024) * 2 ** (exponent - 15);
}

function elementReader(dtype: TorchDtype, view: DataView, name: string): (byte: number, i: number) => number {
  switch (dtype) {
    case 'float32':
      return (b) => view.getFloat32(b, true);
    case 'float64':
      return (b) => view.getFloat64(b, true);
    case 'float16':
      return (b) => halfToFloat(view.getUint16(b, true));
    case 'bfloat16':
      return (b) => {
        u32Scratch[0] = view.getUint16(b, true) << 16;
        return f32Scratch[0]!;
      };
    case 'int64':
      return (b, i) => {
        const lo = view.getInt32(b, true);
        const hi = view.getInt32(b + 4, true);
        // In int32 range iff the high word is the sign extension of the low word.
        if (hi !== lo >> 31) {
          fail(
            `${name} (int64) holds ${view.getBigInt64(b, true)} at flat index ${i}, outside the int32 ` +
              `range that TensorFlow.js integer tensors have.`,
          );
        }
        return lo;
      };
    case 'int32':
      return (b) => view.getInt32(b, true);
    case 'int16':
      return (b) => view.getInt16(b, true);
    case 'int8':
      return (b) => view.getInt8(b);
    case 'uint8':
      return (b) => view.getUint8(b);
    case 'bool':
      return (b) => (view.getUint8(b) !== 0 ? 1 : 0);
  }
}

/**
 * What {@link readTorchCheckpoint} returns: Python values mapped to JS. Dicts (also
 * `OrderedDict`) become plain objects (non-string keys are stringified, e.g. the integer keys
 * of an optimizer state), lists, tuples and sets become arrays, ints numbers (bigint beyond
 * 2^53), `bytes` Uint8Array, `torch.device` its string (`'cuda:0'`), tensors {@link TorchTensor}.
 */
export type TorchValue =
  | null
  | boolean
  | number
  | bigint
  | string
  | Uint8Array
  | TorchTensor
  | TorchStorage
  | TorchValue[]
  | { [key: string]: TorchValue };

/** A whitelisted Python global: a name and, if it may be called, its JS meaning. */
class PythonGlobal {
  constructor(
    readonly qualifiedName: string,
    readonly apply?: (args: unknown[]) => unknown,
  ) {}
}

/** A `torch.XStorage` class, as named in a storage's persistent id. */
class StorageType {
  constructor(
    readonly name: string,
    readonly dtype: TorchDtype,
  ) {}
}

function describe(value: unknown): string {
  if (value instanceof PythonGlobal) return value.qualifiedName;
  if (value instanceof StorageType) return `torch.${value.name}`;
  if (value instanceof TorchTensor) return 'a tensor';
  if (Array.isArray(value)) return 'a tuple/list';
  if (isPickleDict(value)) return 'a dict';
  return typeof value;
}

function isInt(v: unknown): v is number {
  return typeof v === 'number' && Number.isInteger(v);
}

function isIntArray(v: unknown): v is number[] {
  return Array.isArray(v) && v.every(isInt);
}

function rebuildTensor(args: unknown[], requiresGrad: boolean, tensors: TorchTensor[]): TorchTensor {
  const [storage, offset, size, stride] = args;
  if (!(storage instanceof TorchStorage)) fail(`_rebuild_tensor expects a storage, got ${describe(storage)}.`);
  if (!isInt(offset) || offset < 0) fail('_rebuild_tensor: the storage offset is not a non-negative integer.');
  if (!isIntArray(size) || size.some((n) => n < 0)) fail('_rebuild_tensor: the size is not a tuple of non-negative integers.');
  if (!isIntArray(stride) || stride.length !== size.length) {
    fail('_rebuild_tensor: the stride is not a tuple of integers as long as the size.');
  }
  const t = new TorchTensor(storage as TorchStorage, offset as number, [...(size as number[])], [...(stride as number[])], requiresGrad);
  tensors.push(t);
  return t;
}

/** Builds the whitelist. `tensors` collects every tensor so bounds can be checked once data is in. */
function whitelist(tensors: TorchTensor[]): Map<string, PythonGlobal> {
  const globals = new Map<string, PythonGlobal>();
  const add = (name: string, apply?: (args: unknown[]) => unknown) => globals.set(name, new PythonGlobal(name, apply));

  add('torch._utils._rebuild_tensor_v2', (a) => rebuildTensor(a, a[4] === true, tensors));
  add('torch._utils._rebuild_tensor', (a) => rebuildTensor(a, false, tensors));
  const parameter = (a: unknown[]) => {
    const [data, requiresGrad] = a;
    if (!(data instanceof TorchTensor)) fail(`_rebuild_parameter expects a tensor, got ${describe(data)}.`);
    const t = data as TorchTensor;
    return new TorchTensor(t.storage, t.storageOffset, t.shape, t.stride, requiresGrad !== false);
  };
  add('torch._utils._rebuild_parameter', parameter);
  add('torch._utils._rebuild_parameter_with_state', parameter);
  add('collections.OrderedDict', (a) => {
    const dict: PickleDict = {};
    if (a.length > 0 && Array.isArray(a[0])) {
      for (const pair of a[0] as unknown[]) {
        if (!Array.isArray(pair) || pair.length !== 2) fail('OrderedDict expects (key, value) pairs.');
        setDictItem(dict, (pair as unknown[])[0], (pair as unknown[])[1]);
      }
    }
    return dict;
  });
  add('torch.device', (a) => {
    if (typeof a[0] !== 'string') fail('torch.device expects a device type string.');
    return a.length > 1 && isInt(a[1]) ? `${a[0]}:${a[1]}` : a[0];
  });
  add('torch.Size', (a) => (Array.isArray(a[0]) ? [...(a[0] as unknown[])] : []));
  add('builtins.set', (a) => (Array.isArray(a[0]) ? [...(a[0] as unknown[])] : []));
  add('builtins.frozenset', (a) => (Array.isArray(a[0]) ? [...(a[0] as unknown[])] : []));
  // Python 3 pickles `bytes` at protocol 2 as _codecs.encode(text, 'latin1').
  add('_codecs.encode', (a) => {
    const [text, encoding] = a;
    if (typeof text !== 'string' || (encoding !== 'latin1' && encoding !== 'latin-1')) {
      fail(`_codecs.encode is only accepted with a string and 'latin1', got ${describe(encoding)}.`);
    }
    const s = text as string;
    const out = new Uint8Array(s.length);
    for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i) & 0xff;
    return out;
  });
  // dtype objects may appear as plain values; they become their name.
  for (const d of ['float32', 'float64', 'float16', 'bfloat16', 'int64', 'int32', 'int16', 'int8', 'uint8', 'bool', 'float', 'half', 'double', 'long', 'int']) {
    globals.set(`torch.${d}`, new PythonGlobal(`torch.${d}`));
  }
  return globals;
}

/**
 * The unpickler hooks for torch files. Tensors and storages are collected in `tensors` and
 * `storages`; `onNewStorage` attaches a storage's bytes when they are already at hand (zip).
 */
function torchHooks(
  tensors: TorchTensor[],
  storages: Map<string, TorchStorage>,
  onNewStorage: (storage: TorchStorage) => void,
): UnpickleHooks {
  const globals = whitelist(tensors);
  return {
    resolveGlobal(module, name) {
      const mod = module === '__builtin__' ? 'builtins' : module;
      const qualified = `${mod}.${name}`;
      if ((mod === 'torch' || mod === 'torch.storage') && name.endsWith('Storage')) {
        const type = STORAGE_TYPES[name];
        if (!type) {
          fail(
            `unsupported storage type ${qualified}; this reader handles ` +
              `${Object.keys(STORAGE_TYPES).map((s) => `torch.${s}`).join(', ')}. ` +
              `Convert the tensor in PyTorch first (e.g. .float()).`,
          );
        }
        return new StorageType(name, type!.dtype);
      }
      const known = globals.get(qualified);
      if (known) return known;
      fail(
        `refusing to load the Python global '${qualified}'. Only tensors, state dicts and plain ` +
          `containers are read, and nothing in the file is ever executed. If the file holds a whole ` +
          `pickled model or other Python objects, save just the weights in PyTorch ` +
          `(torch.save(model.state_dict(), path)) or export them with tools/export_torch_checkpoint.py.`,
      );
    },
    call(callable, args) {
      if (callable instanceof PythonGlobal && callable.apply) return callable.apply(args);
      return fail(`the pickle calls ${describe(callable)}, which is not callable here; the file is not a plain checkpoint.`);
    },
    build(target, state) {
      // BUILD sets instance attributes, e.g. the `_metadata` (module versions) that a state
      // dict's OrderedDict carries. Tensors and dicts keep their contents; attributes are dropped.
      if (isPickleDict(target) || target instanceof TorchTensor) return target;
      return fail(`the pickle sets the state of ${describe(target)} (to ${describe(state)}); not supported.`);
    },
    persistentLoad(pid) {
      if (!Array.isArray(pid) || pid[0] !== 'storage') {
        const kind = Array.isArray(pid) ? (typeof pid[0] === 'string' ? pid[0].slice(0, 40) : describe(pid[0])) : describe(pid);
        fail(
          `unsupported persistent id '${kind}'` +
            (kind === 'module'
              ? ': the file holds a whole pickled nn.Module. Save its state dict instead: torch.save(model.state_dict(), path).'
              : '; only storages are supported.'),
        );
      }
      const [, type, key, location, numel, viewMetadata] = pid as unknown[];
      if (!(type instanceof StorageType)) fail(`a storage's type is ${describe(type)}, not a torch storage class.`);
      if (typeof key !== 'string' || !isInt(numel) || numel < 0) fail('a storage id is malformed; the file is corrupt.');
      const st = type as StorageType;
      let storage = storages.get(key as string);
      if (!storage) {
        storage = new TorchStorage(key as string, st.dtype, numel as number, typeof location === 'string' ? location : describe(location));
        storages.set(key as string, storage);
        onNewStorage(storage);
      } else if (storage.dtype !== st.dtype) {
        fail(`storage '${key}' is viewed as both ${storage.dtype} and ${st.dtype}; not supported.`);
      }
      if (viewMetadata !== undefined && viewMetadata !== null) {
        // Legacy storage views: (view_key, offset, size) in elements of the root storage.
        if (!Array.isArray(viewMetadata)) fail(`storage '${key}' has view metadata that is ${describe(viewMetadata)}, not a tuple; the file is corrupt.`);
        const [viewKey, offset, size] = viewMetadata as unknown[];
        if (typeof viewKey !== 'string' || !isInt(offset) || !isInt(size) || offset < 0 || offset + size > storage.numel) {
          fail(`storage view ${typeof viewKey === 'string' ? quoteValue(viewKey) : describe(viewKey)} of storage '${key}' is malformed; the file is corrupt.`);
        }
        return new TorchStorage(viewKey as string, storage.dtype, size as number, storage.location, storage, offset as number);
      }
      return storage;
    },
  };
}

/** Hooks for the legacy header pickles, which hold only plain values. */
const PLAIN_HOOKS: UnpickleHooks = {
  resolveGlobal: (module, name) => fail(`unexpected Python global '${module}.${name}' in the legacy header.`),
  call: () => fail('unexpected call in the legacy header.'),
  build: () => fail('unexpected BUILD in the legacy header.'),
  persistentLoad: () => fail('unexpected persistent id in the legacy header.'),
};

function checkTensors(tensors: TorchTensor[], storages: Map<string, TorchStorage>): void {
  for (const s of storages.values()) {
    if (!s.loaded) fail(`storage '${s.key}' is referenced but its data is missing; the file is truncated or corrupt.`);
  }
  for (const t of tensors) t.checkBounds();
}

function readZip(bytes: Uint8Array): TorchValue {
  let archive: ZipArchive;
  try {
    archive = openZip(bytes);
  } catch (e) {
    if (e instanceof FileFormatError) fail(e.message);
    throw e;
  }
  const names = [...archive.entries.keys()];
  const pickles = names.filter((n) => /^[^/]+\/data\.pkl$/.test(n) || n === 'data.pkl');
  if (pickles.length !== 1) {
    fail(
      pickles.length === 0
        ? 'the zip archive has no <folder>/data.pkl; it is not a PyTorch checkpoint.'
        : `the zip archive has several data.pkl records (${pickles.slice(0, 5).map((p) => quoteValue(p)).join(', ')}); it is not a single checkpoint.`,
    );
  }
  const read = (name: string, maxBytes: number): Uint8Array => {
    try {
      return archive.read(archive.entries.get(name)!, maxBytes);
    } catch (e) {
      if (e instanceof FileFormatError) fail(e.message);
      if (e instanceof LimitError) throw new LimitError(`torch checkpoint: ${e.message}`);
      throw e;
    }
  };
  const prefix = pickles[0]!.slice(0, -'data.pkl'.length);
  if (archive.entries.has(`${prefix}byteorder`)) {
    const byteorder = new TextDecoder().decode(read(`${prefix}byteorder`, 16)).trim();
    if (byteorder !== 'little') fail('the checkpoint was saved on a big-endian machine; re-save it on a little-endian one.');
  }
  const tensors: TorchTensor[] = [];
  const storages = new Map<string, TorchStorage>();
  const hooks = torchHooks(tensors, storages, (storage) => {
    // Only the directory is consulted now; the record is inflated when a tensor is decoded.
    const name = `${prefix}data/${storage.key}`;
    const entry = archive.entries.get(name);
    if (!entry) fail(`storage record '${name}' is missing from the zip archive; the file is corrupt.`);
    const need = storage.byteLength;
    if (entry!.size < need) {
      fail(
        `storage '${storage.key}' (${storage.dtype}, ${storage.numel} elements) needs ${need} bytes but its record ` +
          `'${name}' holds ${entry!.size}; the file is truncated or corrupt.`,
      );
    }
    storage.setSource(() => read(name, need + RECORD_SLACK_BYTES));
  });
  const { value } = unpickle(read(pickles[0]!, MAX_CHECKPOINT_PICKLE_BYTES), 0, hooks, `torch checkpoint: ${pickles[0]}`);
  checkTensors(tensors, storages);
  return value as TorchValue;
}

function readLegacy(bytes: Uint8Array): TorchValue {
  const what = 'torch checkpoint (legacy format)';
  const magic = unpickle(bytes, 0, PLAIN_HOOKS, `${what}: magic number`);
  if (magic.value !== LEGACY_MAGIC) {
    fail('the file is a Python pickle but not a PyTorch checkpoint (its magic number is missing).');
  }
  const protocol = unpickle(bytes, magic.end, PLAIN_HOOKS, `${what}: protocol version`);
  if (protocol.value !== LEGACY_PROTOCOL_VERSION) {
    const shown = typeof protocol.value === 'number' || typeof protocol.value === 'bigint' ? String(protocol.value) : describe(protocol.value);
    fail(`unsupported legacy checkpoint protocol version ${shown} (expected ${LEGACY_PROTOCOL_VERSION}).`);
  }
  const sysInfo = unpickle(bytes, protocol.end, PLAIN_HOOKS, `${what}: system info`);
  if (isPickleDict(sysInfo.value) && sysInfo.value['little_endian'] === false) {
    fail('the checkpoint was saved on a big-endian machine; re-save it on a little-endian one.');
  }
  const tensors: TorchTensor[] = [];
  const storages = new Map<string, TorchStorage>();
  const body = unpickle(bytes, sysInfo.end, torchHooks(tensors, storages, () => {}), `${what}: object pickle`);
  const keys = unpickle(bytes, body.end, PLAIN_HOOKS, `${what}: storage key list`);
  if (!Array.isArray(keys.value) || !keys.value.every((k) => typeof k === 'string')) {
    fail('the storage key list is malformed; the file is corrupt.');
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let pos = keys.end;
  for (const key of keys.value as string[]) {
    const storage = storages.get(key);
    if (!storage) fail(`the file stores data for storage '${key}' that no tensor uses; the file is corrupt.`);
    if (pos + 8 > bytes.length) {
      fail(`the file ends before the data of storage '${key}'; it is truncated.`);
    }
    const count = view.getBigInt64(pos, true);
    pos += 8;
    if (count !== BigInt(storage!.numel)) {
      fail(`storage '${key}' should hold ${storage!.numel} elements but its record says ${count}; the file is corrupt.`);
    }
    const n = storage!.numel * storage!.elementBytes;
    if (pos + n > bytes.length) {
      fail(
        `the file ends inside the data of storage '${key}' (${bytes.length - pos} of ${n} bytes present); ` +
          `it is truncated.`,
      );
    }
    storage!.setData(bytes.subarray(pos, pos + n));
    pos += n;
  }
  checkTensors(tensors, storages);
  return body.value as TorchValue;
}

/**
 * Reads a file written by `torch.save`: the zip layout of PyTorch ≥ 1.6 and the legacy layout
 * of older versions (which the official Tag2Pix checkpoints use). Returns the saved object as
 * a {@link TorchValue}: state dicts are plain objects of {@link TorchTensor}s.
 *
 * Safe on untrusted files: the pickle is interpreted, never executed, and any Python global
 * beyond tensors, storages, `OrderedDict` and a few plain builtins is refused with an error
 * naming it. Truncated or corrupt files, unsupported pickle protocols and storage types give
 * errors saying so.
 *
 * @example
 * const checkpoint = readTorchCheckpoint(new Uint8Array(await (await fetch(url)).arrayBuffer()));
 * const weights = torchStateDictFrom(checkpoint, 'G');
 */
export function readTorchCheckpoint(bytes: Uint8Array): TorchValue {
  if (!(bytes instanceof Uint8Array)) {
    fail(`expected the file's bytes as a Uint8Array, got ${Object.prototype.toString.call(bytes)}.`);
  }
  if (bytes.length < 4) fail(`the file is only ${bytes.length} bytes long; it is truncated or not a checkpoint.`);
  if (bytes[0] === 0x50 && bytes[1] === 0x4b) return readZip(bytes);
  if (bytes[0] === 0x80) return readLegacy(bytes);
  if (bytes.length > 262 && new TextDecoder().decode(bytes.subarray(257, 262)) === 'ustar') {
    fail('this is the tar layout of PyTorch < 0.4, which is not supported; re-save the file with a newer PyTorch.');
  }
  if (bytes.length > 8 && bytes[8] === 0x7b) {
    fail('this looks like a safetensors file, not a torch.save file; read it with readSafetensors.');
  }
  return fail(
    `the file starts with bytes ${Array.from(bytes.subarray(0, 4), (b) => b.toString(16).padStart(2, '0')).join(' ')}, ` +
      'neither a zip archive nor a pickle; it is not a PyTorch checkpoint.',
  );
}

/**
 * Reads a plain Python pickle (protocols 2–5) with the same restrictions as
 * {@link readTorchCheckpoint}: containers, numbers, strings, bytes, `OrderedDict`, sets; no
 * tensors (they need a checkpoint's storages) and no other Python globals. Useful for small
 * metadata pickles such as the official `loader/tag_dump.pkl` of Tag2Pix.
 */
export function readPickle(bytes: Uint8Array): TorchValue {
  if (!(bytes instanceof Uint8Array)) {
    fail(`expected the file's bytes as a Uint8Array, got ${Object.prototype.toString.call(bytes)}.`);
  }
  const hooks = torchHooks([], new Map(), () => {});
  const plain: UnpickleHooks = {
    ...hooks,
    persistentLoad: () => fail('the pickle refers to tensor storages; read torch.save files with readTorchCheckpoint.'),
  };
  return unpickle(bytes, 0, plain, 'pickle').value as TorchValue;
}

/** Options of {@link torchStateDictFrom}. */
export interface TorchStateDictOptions {
  /**
   * A key prefix to remove. By default `'module.'` (added by `nn.DataParallel`, as in the
   * official Tag2Pix checkpoints) is removed when every key has it; pass `''` to keep keys as
   * they are, or another prefix to remove it from the keys that have it.
   */
  stripPrefix?: string;
  /** Keeps only keys (after stripping) for which this returns true. */
  filter?: (key: string) => boolean;
}

/**
 * Entries tried, in order, when no path is given and the checkpoint is not itself a state dict:
 * `G` (the generator in the official `tag2pix_256.pkl` / `tag2pix_512.pkl`), `weight` (the CIT
 * classifier in the official `model.pth`), then common names of other training scripts.
 */
const DEFAULT_ENTRIES = ['G', 'weight', 'state_dict', 'model_state_dict', 'model'];

/** Deepest nesting of dicts in a state dict (PyTorch's are flat; nested ones are a few deep). */
const MAX_STATE_DICT_DEPTH = 64;

/** `key (kind), …` for the first entries of a dict, for messages. */
function listEntries(dict: PickleDict): string {
  const keys = Object.keys(dict);
  const shown = keys.slice(0, 12).map((k) => `${shownName(k, 40)} (${summarise(dict[k])})`);
  return shown.join(', ') + (keys.length > shown.length ? `, … ${keys.length - shown.length} more` : '');
}

function isStateDict(value: unknown): value is { [key: string]: TorchTensor } {
  if (!isPickleDict(value)) return false;
  const values = Object.values(value);
  return values.length > 0 && values.every((v) => v instanceof TorchTensor);
}

function summarise(value: unknown): string {
  if (isStateDict(value)) return `state dict, ${Object.keys(value).length} tensors`;
  if (value instanceof TorchTensor) return `tensor [${value.shape}]`;
  if (isPickleDict(value)) return 'dict';
  if (Array.isArray(value)) return 'list';
  return value === null ? 'None' : typeof value;
}

/**
 * Picks a state dict out of a value returned by {@link readTorchCheckpoint}: its tensors, not yet
 * decoded, as `[key, TorchTensor]` pairs (nested dicts flattened with '.', prefix removed,
 * `filter` applied). {@link torchStateDictFrom} converts them to `tf.Tensor`s.
 *
 * `path` names the entry (`'G'`, `'D'`, `'weight'`, or nested: `'a/b'` or `['a', 'b']`).
 * Without it: the checkpoint itself if it is a state dict, else the first of `G`, `weight`,
 * `state_dict`, `model_state_dict`, `model` that is one. For the official files:
 * - `tag2pix_256.pkl`, `tag2pix_512.pkl`: `{G, D, G_optimizer, D_optimizer, finish_epoch,
 *   result_path}`; `'G'` is the generator, `'D'` the discriminator.
 * - CIT `model.pth`: `{weight: ...}`, the full SE-ResNeXt-50 classifier; the CIT extractor uses
 *   only `conv1`, `bn1`, `layer1`, `layer2` (see `filter`).
 * Their keys start with `module.` (`nn.DataParallel`), removed by default.
 */
export function torchStateDictEntries(
  checkpoint: TorchValue,
  path?: string | string[],
  options: TorchStateDictOptions = {},
): Array<[string, TorchTensor]> {
  let picked: unknown = checkpoint;
  let where = 'the checkpoint';
  if (path !== undefined) {
    const parts = Array.isArray(path) ? path : path.split('/').filter((p) => p.length > 0);
    const walked: string[] = [];
    for (const part of parts) {
      if (!isPickleDict(picked) || !Object.prototype.hasOwnProperty.call(picked, part)) {
        const here = walked.length ? `'${walked.join('/')}'` : 'the checkpoint';
        const entries = isPickleDict(picked) ? listEntries(picked) : summarise(picked);
        fail(`${here} has no entry ${quoteValue(part)}; it holds: ${entries || 'nothing'}.`);
      }
      picked = (picked as PickleDict)[part];
      walked.push(part);
    }
    where = `'${walked.join('/')}'`;
  } else if (!isStateDict(picked)) {
    const found = isPickleDict(picked) ? DEFAULT_ENTRIES.find((k) => isStateDict((picked as PickleDict)[k])) : undefined;
    if (found === undefined) {
      const entries = isPickleDict(picked) ? listEntries(picked) : summarise(picked);
      fail(
        `no state dict found in the checkpoint (it holds: ${entries || 'nothing'}). ` +
          `Name the entry: torchStateDictFrom(checkpoint, '<entry>').`,
      );
    }
    picked = (picked as PickleDict)[found!];
    where = `'${found}'`;
  }

  // Flatten nested dicts with '.', as PyTorch names submodule keys.
  const flat: [string, TorchTensor][] = [];
  const open = new Set<unknown>();
  const visit = (value: unknown, key: string, depth: number) => {
    if (value instanceof TorchTensor) flat.push([key, value]);
    else if (isPickleDict(value)) {
      if (open.has(value)) fail(`${where} contains itself at ${quoteValue(key)}; it is not a state dict.`);
      if (depth >= MAX_STATE_DICT_DEPTH) {
        fail(`${where} nests dicts more than ${MAX_STATE_DICT_DEPTH} deep (at ${quoteValue(key)}); it is not a state dict.`);
      }
      open.add(value);
      for (const [k, v] of Object.entries(value)) visit(v, key ? `${key}.${k}` : k, depth + 1);
      open.delete(value);
    } else {
      fail(`${where} is not a state dict: ${quoteValue(key || '(root)')} is ${summarise(value)}, not a tensor.`);
    }
  };
  visit(picked, '', 0);
  if (flat.length === 0) fail(`${where} holds no tensors.`);

  const prefix =
    options.stripPrefix ?? (flat.every(([k]) => k.startsWith('module.')) ? 'module.' : '');
  const out: Array<[string, TorchTensor]> = [];
  const seen = new Set<string>();
  for (const [rawKey, tensor] of flat) {
    const key = prefix && rawKey.startsWith(prefix) ? rawKey.slice(prefix.length) : rawKey;
    if (options.filter && !options.filter(key)) continue;
    if (seen.has(key)) fail(`two entries map to the key ${quoteValue(key)} after removing the prefix '${prefix}'.`);
    seen.add(key);
    out.push([key, tensor]);
  }
  return out;
}

/**
 * Picks a state dict out of a value returned by {@link readTorchCheckpoint} and converts it to
 * `tf.Tensor`s: the same `Record<string, tf.Tensor>` that `readSafetensors` returns, ready for
 * `loadTorchStateDict`. The caller owns the tensors. Only the tensors picked (and passing
 * `filter`) are decoded; see {@link torchStateDictEntries} for the entries themselves.
 */
export function torchStateDictFrom(
  checkpoint: TorchValue,
  path?: string | string[],
  options: TorchStateDictOptions = {},
): Record<string, tf.Tensor> {
  const result: Record<string, tf.Tensor> = {};
  try {
    for (const [key, tensor] of torchStateDictEntries(checkpoint, path, options)) {
      Object.defineProperty(result, key, {
        value: tensor.toTensor(`tensor ${quoteValue(key)}`),
        enumerable: true,
        writable: true,
        configurable: true,
      });
    }
  } catch (e) {
    tf.dispose(Object.values(result));
    throw e;
  }
  return result;
}
