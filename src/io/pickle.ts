// A restricted reader of Python pickles: the binary opcodes (protocols 2–5) that `torch.save`
// writes for state dicts and checkpoint dicts. It never runs code: every GLOBAL goes through the
// caller's `resolveGlobal`, which maps a whitelisted name to a plain JS value and refuses the
// rest; REDUCE/NEWOBJ/BUILD/BINPERSID likewise go through the caller's hooks.
import { FileFormatError, LimitError } from '../errors.js';

/** Callbacks that give meaning to the opcodes that name or call Python objects. */
export interface UnpickleHooks {
  /** Maps `module.name` to a value; throws for anything not whitelisted. */
  resolveGlobal(module: string, name: string): unknown;
  /** REDUCE and NEWOBJ: "call" a value previously produced by `resolveGlobal`. */
  call(callable: unknown, args: unknown[]): unknown;
  /** BUILD: applies `state` to `target` (e.g. attributes of an OrderedDict); returns the result. */
  build(target: unknown, state: unknown): unknown;
  /** BINPERSID: resolves a persistent id (torch uses it for storages). */
  persistentLoad(pid: unknown): unknown;
}

/** A Python dict read from a pickle: a plain object with string keys. */
export type PickleDict = { [key: string]: unknown };

/** Error thrown for malformed, truncated or unsupported pickle data. */
export class PickleError extends FileFormatError {}

/**
 * Opcodes one pickle may have (each creates at most one value). A state dict needs about 20 per
 * tensor; the cap bounds the memory of a hostile pickle made of one-byte opcodes.
 */
export const MAX_PICKLE_OPCODES = 1 << 20;

/** Deepest nesting of tuples read as a dict key (Python's own keys are shallow). */
const MAX_KEY_DEPTH = 32;

const OPCODE_NAMES: Record<number, string> = {
  0x49: 'INT', 0x4c: 'LONG', 0x46: 'FLOAT', 0x53: 'STRING', 0x56: 'UNICODE', 0x70: 'PUT',
  0x67: 'GET', 0x64: 'DICT', 0x6c: 'LIST', 0x50: 'PERSID', 0x69: 'INST', 0x6f: 'OBJ',
  0x96: 'BYTEARRAY8', 0x97: 'NEXT_BUFFER', 0x98: 'READONLY_BUFFER', 0x82: 'EXT1', 0x83: 'EXT2',
  0x84: 'EXT4',
};

/**
 * Converts a Python dict key to the string under which it is stored in a {@link PickleDict}:
 * what Python's `str(key)` gives for strings, ints, bools, None and tuples of them.
 */
export function dictKey(key: unknown): string {
  if (typeof key === 'string') return key;
  return pythonRepr(key, 0);
}

function pythonRepr(value: unknown, depth: number): string {
  if (typeof value === 'string') return `'${value}'`;
  if (typeof value === 'number' || typeof value === 'bigint') return String(value);
  if (value === true) return 'True';
  if (value === false) return 'False';
  if (value === null) return 'None';
  if (Array.isArray(value)) {
    if (depth >= MAX_KEY_DEPTH) {
      throw new PickleError(`a dict key nests tuples more than ${MAX_KEY_DEPTH} deep (or contains itself); the pickle is corrupt or hostile.`);
    }
    const parts = value.map((v) => pythonRepr(v, depth + 1));
    return value.length === 1 ? `(${parts[0]},)` : `(${parts.join(', ')})`;
  }
  throw new PickleError(`unsupported dict key of type ${Object.prototype.toString.call(value)}.`);
}

/** Sets a key without ever touching the prototype chain (a key may be `__proto__`). */
export function setDictItem(dict: PickleDict, key: unknown, value: unknown): void {
  Object.defineProperty(dict, dictKey(key), {
    value,
    enumerable: true,
    writable: true,
    configurable: true,
  });
}

/** True for the plain objects this reader produces for Python dicts. */
export function isPickleDict(value: unknown): value is PickleDict {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

const utf8 = new TextDecoder('utf-8');

/**
 * Reads one pickle starting at `start`. Returns its value and the offset just past its STOP.
 * `what` names the pickle in error messages (e.g. `'data.pkl'`).
 */
export function unpickle(
  bytes: Uint8Array,
  start: number,
  hooks: UnpickleHooks,
  what: string,
): { value: unknown; end: number } {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const stack: unknown[] = [];
  const marks: number[] = [];
  const memo = new Map<number, unknown>();
  let pos = start;
  let opAt = start;
  let created = 0;

  const fail = (message: string): never => {
    throw new PickleError(`${what}: ${message} (pickle opcode at byte ${opAt})`);
  };
  const need = (n: number): void => {
    if (n < 0 || pos + n > bytes.length) {
      fail(`the data ends after ${bytes.length - start} bytes, in the middle of the pickle; the file is truncated or corrupt`);
    }
  };
  const u8 = (): number => {
    need(1);
    return bytes[pos++]!;
  };
  const u16 = (): number => {
    need(2);
    const v = view.getUint16(pos, true);
    pos += 2;
    return v;
  };
  const i32 = (): number => {
    need(4);
    const v = view.getInt32(pos, true);
    pos += 4;
    return v;
  };
  const u32 = (): number => {
    need(4);
    const v = view.getUint32(pos, true);
    pos += 4;
    return v;
  };
  const u64 = (): number => {
    need(8);
    const v = view.getBigUint64(pos, true);
    pos += 8;
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) fail(`a length of ${v} bytes is impossible`);
    return Number(v);
  };
  const take = (n: number): Uint8Array => {
    need(n);
    const out = bytes.subarray(pos, pos + n);
    pos += n;
    return out;
  };
  const line = (): string => {
    const end = bytes.indexOf(0x0a, pos);
    if (end < 0) fail('a GLOBAL name is not terminated by a newline; the file is truncated or corrupt');
    const s = utf8.decode(bytes.subarray(pos, end));
    pos = end + 1;
    return s;
  };
  const pop = (): unknown => {
    if (stack.length === 0 || (marks.length > 0 && stack.length <= marks[marks.length - 1]!)) {
      fail('the stack is empty; the pickle is corrupt');
    }
    return stack.pop();
  };
  const top = (): unknown => {
    if (stack.length === 0) fail('the stack is empty; the pickle is corrupt');
    return stack[stack.length - 1];
  };
  const popMark = (): unknown[] => {
    const m = marks.pop();
    if (m === undefined) fail('an opcode expects a MARK that is not there; the pickle is corrupt');
    return stack.splice(m!);
  };
  const signedLE = (raw: Uint8Array): number | bigint => {
    if (raw.length === 0) return 0;
    let v = 0n;
    for (let i = raw.length - 1; i >= 0; i--) v = (v << 8n) | BigInt(raw[i]!);
    if (raw[raw.length - 1]! & 0x80) v -= 1n << BigInt(8 * raw.length);
    return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
  };
  const asDict = (target: unknown): PickleDict => {
    if (!isPickleDict(target)) fail('SETITEM(S) on something that is not a dict');
    return target as PickleDict;
  };
  const asList = (target: unknown): unknown[] => {
    if (!Array.isArray(target)) fail('APPEND(S) on something that is not a list');
    return target as unknown[];
  };
  const memoGet = (i: number): unknown => {
    if (!memo.has(i)) fail(`memo entry ${i} is read before it is written; the pickle is corrupt`);
    return memo.get(i);
  };

  for (;;) {
    opAt = pos;
    const op = u8();
    if (++created > MAX_PICKLE_OPCODES) {
      throw new LimitError(
        `${what}: the pickle has more than ${MAX_PICKLE_OPCODES} opcodes; a checkpoint needs far fewer, so it is refused ` +
          `(corrupt or hostile) before its objects fill the memory.`,
      );
    }
    switch (op) {
      case 0x80: { // PROTO
        const protocol = u8();
        if (protocol < 2 || protocol > 5) {
          fail(`pickle protocol ${protocol} is not supported; torch.save writes protocol 2 by default (this reader handles 2 to 5)`);
        }
        break;
      }
      case 0x95: // FRAME: an 8-byte frame length, irrelevant when the whole file is in memory
        u64();
        break;
      case 0x2e: // STOP
        if (stack.length !== 1 || marks.length !== 0) fail('the pickle stops with an unbalanced stack; it is corrupt');
        return { value: stack[0], end: pos };
      case 0x28: // MARK
        marks.push(stack.length);
        break;
      case 0x7d: // EMPTY_DICT
        stack.push({});
        break;
      case 0x5d: // EMPTY_LIST
        stack.push([]);
        break;
      case 0x29: // EMPTY_TUPLE
        stack.push([]);
        break;
      case 0x8f: // EMPTY_SET (a set becomes an array)
        stack.push([]);
        break;
      case 0x74: // TUPLE
        stack.push(popMark());
        break;
      case 0x91: // FROZENSET
        stack.push(popMark());
        break;
      case 0x85: // TUPLE1
        stack.push([pop()]);
        break;
      case 0x86: { // TUPLE2
        const b = pop();
        const a = pop();
        stack.push([a, b]);
        break;
      }
      case 0x87: { // TUPLE3
        const c = pop();
        const b = pop();
        const a = pop();
        stack.push([a, b, c]);
        break;
      }
      case 0x71: // BINPUT
        memo.set(u8(), top());
        break;
      case 0x72: // LONG_BINPUT
        memo.set(u32(), top());
        break;
      case 0x94: // MEMOIZE
        memo.set(memo.size, top());
        break;
      case 0x68: // BINGET
        stack.push(memoGet(u8()));
        break;
      case 0x6a: // LONG_BINGET
        stack.push(memoGet(u32()));
        break;
      case 0x4a: // BININT
        stack.push(i32());
        break;
      case 0x4b: // BININT1
        stack.push(u8());
        break;
      case 0x4d: // BININT2
        stack.push(u16());
        break;
      case 0x8a: // LONG1
        stack.push(signedLE(take(u8())));
        break;
      case 0x8b: { // LONG4
        const n = i32();
        if (n < 0) fail('LONG4 with a negative length');
        stack.push(signedLE(take(n)));
        break;
      }
      case 0x47: { // BINFLOAT: big-endian double
        need(8);
        stack.push(view.getFloat64(pos, false));
        pos += 8;
        break;
      }
      case 0x58: // BINUNICODE
        stack.push(utf8.decode(take(u32())));
        break;
      case 0x8c: // SHORT_BINUNICODE
        stack.push(utf8.decode(take(u8())));
        break;
      case 0x8d: // BINUNICODE8
        stack.push(utf8.decode(take(u64())));
        break;
      case 0x54: { // BINSTRING (Python 2 str); torch.load decodes it as UTF-8 too
        const n = i32();
        if (n < 0) fail('BINSTRING with a negative length');
        stack.push(utf8.decode(take(n)));
        break;
      }
      case 0x55: // SHORT_BINSTRING
        stack.push(utf8.decode(take(u8())));
        break;
      case 0x42: // BINBYTES
        stack.push(take(u32()).slice());
        break;
      case 0x43: // SHORT_BINBYTES
        stack.push(take(u8()).slice());
        break;
      case 0x8e: // BINBYTES8
        stack.push(take(u64()).slice());
        break;
      case 0x4e: // NONE
        stack.push(null);
        break;
      case 0x88: // NEWTRUE
        stack.push(true);
        break;
      case 0x89: // NEWFALSE
        stack.push(false);
        break;
      case 0x73: { // SETITEM
        const value = pop();
        const key = pop();
        setDictItem(asDict(top()), key, value);
        break;
      }
      case 0x75: { // SETITEMS
        const items = popMark();
        if (items.length % 2 !== 0) fail('SETITEMS with an odd number of items; the pickle is corrupt');
        const dict = asDict(top());
        for (let i = 0; i < items.length; i += 2) setDictItem(dict, items[i], items[i + 1]);
        break;
      }
      case 0x61: { // APPEND
        const value = pop();
        asList(top()).push(value);
        break;
      }
      case 0x65: // APPENDS
      case 0x90: { // ADDITEMS (sets are arrays here)
        const items = popMark();
        const list = asList(top());
        // One by one: a spread of a huge MARK run would overflow the call stack.
        for (const item of items) list.push(item);
        break;
      }
      case 0x63: { // GLOBAL
        const module = line();
        const name = line();
        stack.push(hooks.resolveGlobal(module, name));
        break;
      }
      case 0x93: { // STACK_GLOBAL
        const name = pop();
        const module = pop();
        if (typeof module !== 'string' || typeof name !== 'string') fail('STACK_GLOBAL needs two strings');
        stack.push(hooks.resolveGlobal(module as string, name as string));
        break;
      }
      case 0x52: // REDUCE
      case 0x81: { // NEWOBJ: same whitelist, same meaning for the few classes we accept
        const args = pop();
        const callable = pop();
        if (!Array.isArray(args)) fail('REDUCE/NEWOBJ arguments are not a tuple; the pickle is corrupt');
        stack.push(hooks.call(callable, args as unknown[]));
        break;
      }
      case 0x92: { // NEWOBJ_EX
        const kwargs = pop();
        const args = pop();
        const callable = pop();
        if (!Array.isArray(args) || !isPickleDict(kwargs)) fail('NEWOBJ_EX arguments are malformed');
        if (Object.keys(kwargs as PickleDict).length > 0) fail('NEWOBJ_EX with keyword arguments is not supported');
        stack.push(hooks.call(callable, args as unknown[]));
        break;
      }
      case 0x62: { // BUILD
        const state = pop();
        const target = pop();
        stack.push(hooks.build(target, state));
        break;
      }
      case 0x51: // BINPERSID
        stack.push(hooks.persistentLoad(pop()));
        break;
      case 0x30: // POP
        pop();
        break;
      case 0x31: // POP_MARK
        popMark();
        break;
      case 0x32: // DUP
        stack.push(top());
        break;
      default: {
        const name = OPCODE_NAMES[op];
        const printable = op >= 0x20 && op < 0x7f ? ` '${String.fromCharCode(op)}'` : '';
        fail(
          `unsupported pickle opcode 0x${op.toString(16).padStart(2, '0')}${printable}` +
            (name ? ` (${name})` : '') +
            `; this reader handles the binary opcodes torch.save writes for state dicts, ` +
            `so the file is either corrupt or holds other Python objects`,
        );
      }
    }
  }
}
