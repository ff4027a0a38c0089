import { WASM_MODULES } from './binary.js';

/**
 * The exports of the modules of this folder (kernels.wat, gemm.wat, batch_norm.wat), as one
 * object. Pointers are byte offsets into the memory the modules were instantiated on, counts
 * are elements.
 */
export interface WasmKernelModule {
  adam(
    param: number, m: number, v: number, grad: number,
    paramOut: number, mOut: number, vOut: number, size: number,
    beta1: number, oneMinusBeta1: number, beta2: number, oneMinusBeta2: number,
    biasCorrection2Sqrt: number, epsilon: number, stepSize: number,
  ): void;
  im2colTap(
    x: number, out: number,
    batch: number, height: number, width: number, channels: number,
    outHeight: number, outWidth: number, strideHeight: number, strideWidth: number,
    rowOffset: number, sourceColumn: number, first: number, end: number,
    channelStride: number, tapBase: number,
  ): void;
  transpose(source: number, target: number, rows: number, columns: number): void;
  matMul(
    a: number, b: number, bias: number, out: number, m: number, k: number, n: number,
    rowStride: number, kStride: number, unitStart: number, unitEnd: number,
  ): void;
  channelMoments(
    x: number, mean: number, variance: number, pixels: number, channels: number,
    unitStart: number, unitEnd: number,
  ): void;
  batchNormGradSums(
    x: number, dy: number, invStd: number, xhatShift: number, gamma: number, beta: number,
    dBeta: number, dGamma: number, pixels: number, channels: number, relu: number,
    unitStart: number, unitEnd: number,
  ): void;
  batchNormGradInput(
    x: number, dy: number, invStd: number, xhatShift: number, gamma: number, beta: number,
    upScale: number, xhatScale: number, dxShift: number, dx: number, channels: number, relu: number,
    rowStart: number, rowEnd: number,
  ): void;
  im2colRows(
    x: number, out: number, height: number, width: number, channels: number,
    outHeight: number, outWidth: number, kernelHeight: number, kernelWidth: number,
    strideHeight: number, strideWidth: number, padTop: number, padLeft: number,
    rowStart: number, rowEnd: number,
  ): void;
  groupedConv(
    x: number, kernel: number, out: number,
    height: number, width: number, channels: number, outHeight: number, outWidth: number,
    kernelHeight: number, kernelWidth: number, stride: number, padding: number,
    groupIn: number, groupOut: number, outChannels: number,
    interiorStart: number, interiorEnd: number, rowStart: number, rowEnd: number,
  ): void;
  groupedConvFilterGrad(
    x: number, dy: number, out: number,
    batch: number, height: number, width: number, channels: number, outHeight: number, outWidth: number,
    kernelWidth: number, stride: number, padding: number, groupIn: number, groupOut: number, outChannels: number,
    rowStart: number, rowEnd: number,
  ): void;
}

const decode = (base64: string) => Uint8Array.from(atob(base64), (c) => c.charCodeAt(0));

const compiled = new Map<boolean, WebAssembly.Module[]>();

/** The compiled modules for a shared or a plain memory (compiled once each). */
export function wasmKernelModules(shared: boolean): WebAssembly.Module[] {
  let modules = compiled.get(shared);
  if (modules == null) {
    modules = WASM_MODULES.map((m) => new WebAssembly.Module(decode(shared ? m.shared : m.plain)));
    compiled.set(shared, modules);
  }
  return modules;
}

/**
 * The kernels of every module on `memory` (a shared memory takes the modules built for one), their
 * exports in one object. Compiled synchronously: each module is under the 4 KB browsers allow on
 * the main thread. Throws where the engine lacks WebAssembly SIMD or bulk memory.
 */
export function instantiateWasmKernels(memory: WebAssembly.Memory): WasmKernelModule {
  const shared = typeof SharedArrayBuffer !== 'undefined' && memory.buffer instanceof SharedArrayBuffer;
  const exports = wasmKernelModules(shared).map((module) => new WebAssembly.Instance(module, { env: { memory } }).exports);
  return Object.assign({}, ...exports) as WasmKernelModule;
}

/** The memory of a tfjs-backend-wasm backend, if it has one this module can use. */
export function wasmMemoryOf(backend: object): WebAssembly.Memory | undefined {
  const wasm = (backend as { wasm?: EmscriptenModuleLike }).wasm;
  const memory = wasm?.wasmMemory ?? wasm?.asm?.memory;
  return memory instanceof WebAssembly.Memory ? memory : undefined;
}

/** What the module needs of tfjs-backend-wasm's emscripten module. */
interface EmscriptenModuleLike {
  /** The memory of the threaded build (imported by its module). */
  wasmMemory?: WebAssembly.Memory;
  /** The exports of the plain build, which exports its memory. */
  asm?: { memory?: WebAssembly.Memory };
}

const byBackend = new WeakMap<object, WasmKernelModule | null>();

/**
 * The kernels on the heap of a tfjs-backend-wasm backend, or `undefined` where they cannot run
 * there (no SIMD, an unknown build): the array kernels then run their JavaScript loops.
 */
export function wasmKernelsOf(backend: object): WasmKernelModule | undefined {
  let kernels = byBackend.get(backend);
  if (kernels === undefined) {
    const memory = wasmMemoryOf(backend);
    try {
      kernels = memory ? instantiateWasmKernels(memory) : null;
    } catch {
      kernels = null;
    }
    byBackend.set(backend, kernels);
  }
  return kernels ?? undefined;
}
