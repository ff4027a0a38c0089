// Starts a TensorFlow.js backend in the browser. The fast ones (WebGPU, WebGL) need a GPU
// and can fail on a given machine or browser; when the chosen one does not start, the page
// falls back to wasm (then cpu) and says why.
import * as tf from '@tensorflow/tfjs-core';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import { registerFastKernels } from 'tag2pix';
// Vite serves these binaries from this site (hashed in the build): no CDN involved.
import wasmPlain from '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm?url';
import wasmSimd from '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-simd.wasm?url';
import wasmThreadedSimd from '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-threaded-simd.wasm?url';

export type BrowserBackend = 'webgpu' | 'webgl' | 'wasm' | 'cpu';
export const BROWSER_BACKENDS: readonly BrowserBackend[] = ['webgpu', 'webgl', 'wasm', 'cpu'];

export interface BackendStart {
  /** The backend that is running. */
  backend: BrowserBackend;
  /** The backend that was asked for (or tried first when none was asked for). */
  requested: BrowserBackend | 'auto';
  /** Why each backend tried before the running one did not start, in order. */
  failures: { backend: BrowserBackend; reason: string }[];
  /** tag2pix's own kernels registered for it (`backend/kernel`, from `registerFastKernels`). */
  kernels: string[];
}

// tfjs-backend-wasm's threaded build starts its workers from the source text of a function,
// which bundlers' minifiers break (the workers die with "e is not defined"). Use the
// single-threaded SIMD build even on cross-origin-isolated hosts, where threads would be chosen.
tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', false);

setWasmPaths({
  'tfjs-backend-wasm.wasm': wasmPlain,
  'tfjs-backend-wasm-simd.wasm': wasmSimd,
  'tfjs-backend-wasm-threaded-simd.wasm': wasmThreadedSimd,
});

/** Loads a backend's code on demand so that a page using wasm never downloads the GPU ones. */
async function register(name: BrowserBackend): Promise<void> {
  switch (name) {
    case 'webgpu':
    {
      const gpu = (navigator as Navigator & { gpu?: { requestAdapter(): Promise<unknown> } }).gpu;
      if (!gpu) throw new Error('this browser has no WebGPU (navigator.gpu is missing)');
      // Without an adapter tfjs fails later with a cryptic TypeError; say what is wrong.
      if (!(await gpu.requestAdapter())) {
        throw new Error('the browser offers no WebGPU adapter (no usable GPU, or WebGPU is disabled)');
      }
      await import('@tensorflow/tfjs-backend-webgpu');
    }
      return;
    case 'webgl':
      await import('@tensorflow/tfjs-backend-webgl');
      return;
    case 'wasm':
      // Registered by the static import above (it also set the paths of the .wasm files).
      return;
    case 'cpu':
      await import('@tensorflow/tfjs-backend-cpu');
      return;
  }
}

async function tryStart(name: BrowserBackend): Promise<void> {
  await register(name);
  // setBackend resolves to false (rather than throwing) when a backend fails to initialise.
  const ok = await tf.setBackend(name);
  if (!ok || tf.getBackend() !== name) throw new Error(`tf.setBackend('${name}') returned false`);
  // Some GPU failures only show on the first kernel: run one before declaring success.
  const probe = tf.tidy(() => tf.sum(tf.add(tf.ones([4, 4]), tf.ones([4, 4]))));
  const value = (await probe.data())[0];
  probe.dispose();
  if (value !== 32) throw new Error(`a test computation gave ${value} instead of 32`);
}

/**
 * Starts `requested` (or the best available backend when it is 'auto': webgpu, webgl, wasm,
 * cpu in that order). When the requested backend fails, falls back to wasm, then cpu.
 */
export async function startBackend(requested: BrowserBackend | 'auto'): Promise<BackendStart> {
  const order: BrowserBackend[] =
    requested === 'auto'
      ? [...BROWSER_BACKENDS]
      : [requested, ...(['wasm', 'cpu'] as const).filter((b) => b !== requested)];
  const failures: BackendStart['failures'] = [];
  for (const name of order) {
    try {
      await tryStart(name);
      // Importing tag2pix changes no kernel: ask for its faster ones (on wasm, in-place Slice,
      // SplitV and Concat cut a colourisation's copies) once the backend runs.
      // On webgpu, its WebGPU programs (grouped convolution, BatchNorm + ReLU, …) the same way.
      const kernels = registerFastKernels([name]);
      return { backend: name, requested, failures, kernels };
    } catch (err) {
      failures.push({ backend: name, reason: (err as Error).message || String(err) });
    }
  }
  const reasons = failures.map((f) => `${f.backend}: ${f.reason}`).join('; ');
  throw new Error(`No TensorFlow.js backend could start (${reasons}).`);
}

/** Reads `?backend=` from the address; anything else than a known name means 'auto'. */
export function requestedBackend(search: string): BrowserBackend | 'auto' {
  const value = new URLSearchParams(search).get('backend');
  return (BROWSER_BACKENDS as readonly string[]).includes(value ?? '') ? (value as BrowserBackend) : 'auto';
}
