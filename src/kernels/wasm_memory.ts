import * as tf from '@tensorflow/tfjs-core';

/**
 * The most a 32-bit wasm heap can hold: tfjs-backend-wasm's builds grow their memory up to
 * 4 GiB less one 64 KiB page (`getHeapMax` in its glue code), threaded or not.
 */
export const WASM_HEAP_LIMIT_BYTES = 4294901760;

/**
 * What the guard keeps free at the top of the heap for the backend's own C++ allocations
 * (XNNPACK's packed weights and indirection buffers, temporary buffers): those cannot fail
 * cleanly (an `Aborted()`, or a crash in a pthread of the threaded build), so tensors stop
 * short of them.
 */
export const WASM_HEAP_RESERVE_BYTES = 128 * 1024 * 1024;

/** Options of {@link guardWasmMemory}. */
export interface WasmMemoryGuardOptions {
  /** Highest heap address a tensor may end at. Default {@link WASM_HEAP_LIMIT_BYTES}; lower it to cap memory. */
  limitBytes?: number;
  /** Bytes kept free below the limit for the backend's own allocations. Default {@link WASM_HEAP_RESERVE_BYTES}. */
  reserveBytes?: number;
}

const MB = 1024 * 1024;
const fmt = (bytes: number) => (bytes >= 1024 * MB ? `${(bytes / 1024 / MB).toFixed(1)} GB` : `${Math.ceil(bytes / MB)} MB`);

/** The remedy every memory error names. */
const FIX =
  'Build the models with `recompute: true` (`tag2pix train --recompute`: bottlenecks are recomputed in the ' +
  'backward pass, a fraction of the memory), use a smaller batch, or install @tensorflow/tfjs-node, which has no such limit.';

/**
 * A tensor did not fit in the wasm backend's memory. Raised instead of what tfjs-backend-wasm does
 * on its own: `malloc` returning 0 (every later tensor then aliases address 0 and silently
 * corrupts the heap), an `Aborted()`, or a hang or crash in the threaded build.
 */
export class WasmMemoryError extends Error {
  override readonly name = 'WasmMemoryError';

  constructor(
    /** Bytes of the allocation that failed. */
    readonly requestedBytes: number,
    /** Bytes held by tensors when it failed. */
    readonly inUseBytes: number,
    /** The limit tensors must stay under (heap limit less the reserve). */
    readonly limitBytes: number,
  ) {
    super(
      `The wasm backend is out of memory: a ${fmt(requestedBytes)} tensor does not fit in the ` +
        `${fmt(limitBytes)} its 32-bit heap can give tensors (tensors already hold ${fmt(inUseBytes)}). ${FIX}`,
    );
  }
}

/** The parts of the emscripten module of tfjs-backend-wasm the guard touches. */
interface WasmModule {
  _malloc(bytes: number): number;
  /** The module's exports; `_malloc` starts as a stub that replaces itself with `asm.malloc`. */
  asm?: { malloc?: (bytes: number) => number; free?: (pointer: number) => void };
  _free(pointer: number): void;
  onAbort?: (what: unknown) => void;
}

interface Guard {
  malloc: (bytes: number) => number;
  free: (pointer: number) => void;
  options: Required<WasmMemoryGuardOptions>;
  /**
   * Bytes of each live allocation made through the guard, by address: their sum is what tensors
   * hold on the heap. `tf.memory().numBytes` counts a buffer once per tensor that shares it
   * (reshapes, clones), so it can exceed the heap itself.
   */
  allocations: Map<number, number>;
}

/** Bytes tensors hold on the heap (summed only when an error reports it). */
function heldBytes(guard: Guard): number {
  let sum = 0;
  for (const bytes of guard.allocations.values()) sum += bytes;
  return sum;
}

const guards = new WeakMap<WasmModule, Guard>();

function wasmModuleOf(backend: unknown): WasmModule | undefined {
  const wasm = (backend as { wasm?: Partial<WasmModule> } | undefined)?.wasm;
  return typeof wasm?._malloc === 'function' && typeof wasm._free === 'function' ? (wasm as WasmModule) : undefined;
}

/**
 * Makes a full wasm heap one clear {@link WasmMemoryError}, on the single-threaded and the
 * threaded build alike: every tensor allocation (the backend's JS-side `malloc`) is checked, and
 * one that fails or would end in the reserve at the top of the heap is freed and refused, so the
 * backend and the tensors already allocated stay intact (the caller's `tf.tidy` frees the rest).
 * An `Aborted()` of the backend itself (an allocation of its C++ code that failed anyway) becomes
 * an error naming the limit and the same fix.
 *
 * `backend` defaults to the registered `wasm` backend; returns false when there is none (e.g. it
 * is not initialised yet). Calling it again changes the options. `initBackend` installs it.
 */
export function guardWasmMemory(options: WasmMemoryGuardOptions = {}, backend?: unknown): boolean {
  const wasm = wasmModuleOf(backend ?? tf.engine().registry['wasm']);
  if (wasm == null) return false;
  const settings: Required<WasmMemoryGuardOptions> = {
    limitBytes: options.limitBytes ?? WASM_HEAP_LIMIT_BYTES,
    reserveBytes: options.reserveBytes ?? WASM_HEAP_RESERVE_BYTES,
  };
  const existing = guards.get(wasm);
  if (existing != null) {
    existing.options = settings;
    return true;
  }
  // The raw exports: the glue's `_malloc` and `_free` stubs would overwrite the wrappers on their
  // first call.
  const raw = wasm.asm?.malloc;
  const rawFree = wasm.asm?.free;
  const guard: Guard = {
    malloc: typeof raw === 'function' ? raw : wasm._malloc.bind(wasm),
    free: typeof rawFree === 'function' ? rawFree : wasm._free.bind(wasm),
    options: settings,
    allocations: new Map(),
  };
  guards.set(wasm, guard);
  wasm._malloc = (bytes: number): number => {
    const pointer = guard.malloc(bytes) >>> 0;
    const ceiling = guard.options.limitBytes - guard.options.reserveBytes;
    if (bytes > 0 && (pointer === 0 || pointer + bytes > ceiling)) {
      if (pointer !== 0) guard.free(pointer);
      throw new WasmMemoryError(bytes, heldBytes(guard), ceiling);
    }
    if (pointer !== 0) guard.allocations.set(pointer, bytes);
    return pointer;
  };
  wasm._free = (pointer: number): void => {
    guard.allocations.delete(pointer >>> 0);
    guard.free(pointer);
  };
  wasm.onAbort = (what: unknown) => {
    const reason = what == null || what === '' ? 'no reason given' : String(what);
    throw new Error(
      `The wasm backend aborted (${reason}), most likely out of memory: its 32-bit heap holds at most ` +
        `${fmt(guard.options.limitBytes)}. It cannot be used again in this process. ${FIX}`,
    );
  };
  return true;
}
