import { createRequire } from 'node:module';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
// Registers every gradient and layer; the Node build of tfjs-core registers no gradients.
import '@tensorflow/tfjs-layers';
import '@tensorflow/tfjs-backend-cpu';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import { registerFastKernels } from '../kernels/register.js';

/** A backend this library can run on. `tensorflow` needs the optional `@tensorflow/tfjs-node(-gpu)`. */
export type BackendName = 'tensorflow' | 'wasm' | 'cpu';

/** What {@link initBackend} chose and why. */
export interface BackendReport {
  /** The active backend. */
  backend: BackendName;
  /** Where the choice came from. */
  source: 'argument' | 'TAG2PIX_BACKEND' | 'auto';
  /** Backends tried before it, each with the reason it was not used. */
  skipped: Array<{ backend: BackendName; reason: string }>;
  /** The package that provided the `tensorflow` backend, when that one was chosen. */
  tensorflowPackage?: string;
}

/** Options of {@link initBackend}; the defaults are what applications want. */
export interface InitBackendOptions {
  /**
   * Loads an optional package by name (default: dynamic `import`). Tests inject a failing or
   * fake loader to walk every path without installing libtensorflow.
   */
  importModule?: (specifier: string) => Promise<unknown>;
  /** Environment to read `TAG2PIX_BACKEND` from (default `process.env`). */
  env?: Record<string, string | undefined>;
}

/** Preference order of the automatic choice. */
export const BACKEND_ORDER: readonly BackendName[] = ['tensorflow', 'wasm', 'cpu'];
/** Packages that provide the `tensorflow` backend, best first. */
export const TENSORFLOW_PACKAGES = ['@tensorflow/tfjs-node-gpu', '@tensorflow/tfjs-node'] as const;

const require = createRequire(import.meta.url);

function isBackendName(name: string): name is BackendName {
  return (BACKEND_ORDER as readonly string[]).includes(name);
}

const firstLine = (err: unknown) => String((err as Error)?.message ?? err).split('\n')[0];

/** Imports the first tensorflow package that loads; returns its name or why none did. */
async function loadTensorflow(
  importModule: (specifier: string) => Promise<unknown>,
): Promise<{ pkg?: string; why?: string }> {
  const failures: string[] = [];
  for (const pkg of TENSORFLOW_PACKAGES) {
    try {
      await importModule(pkg);
      if (tf.findBackendFactory('tensorflow') == null) {
        failures.push(`${pkg}: loaded but registered no 'tensorflow' backend`);
        continue;
      }
      return { pkg };
    } catch (err) {
      failures.push(`${pkg}: ${firstLine(err)}`);
    }
  }
  return { why: `neither optional package loads (${failures.join('; ')})` };
}

/** The folder holding the backend's .wasm files inside node_modules. */
export function wasmDirectory(): string {
  const entry = require.resolve('@tensorflow/tfjs-backend-wasm');
  // The resolved entry sits in dist/ (or a subfolder of it) beside the .wasm files.
  let dir = path.dirname(entry);
  while (!dir.endsWith(`${path.sep}dist`) && path.dirname(dir) !== dir) dir = path.dirname(dir);
  return dir + path.sep;
}

let wasmPathsSet = false;

async function activate(
  name: BackendName,
  importModule: (specifier: string) => Promise<unknown>,
): Promise<{ why?: string; pkg?: string }> {
  try {
    let pkg: string | undefined;
    if (name === 'tensorflow') {
      const loaded = await loadTensorflow(importModule);
      if (loaded.why) return { why: loaded.why };
      pkg = loaded.pkg;
    }
    if (name === 'wasm' && !wasmPathsSet && tf.engine().registry['wasm'] == null) {
      // The threaded build cannot start its workers under Node as shipped
      // (docs/performance.md, "Threads"), so the single-threaded SIMD build is used.
      tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', false);
      setWasmPaths(wasmDirectory());
      wasmPathsSet = true;
    }
    if (tf.findBackendFactory(name) == null) return { why: `backend '${name}' is not registered` };
    const ok = await tf.setBackend(name);
    if (!ok) return { why: `backend '${name}' failed to initialise` };
    await tf.ready();
    // Backend packages loaded after tag2pix's import get our kernels now.
    registerFastKernels();
    return { pkg };
  } catch (err) {
    return { why: firstLine(err) };
  }
}

/**
 * Selects the fastest backend available in Node: `tensorflow` (when `@tensorflow/tfjs-node-gpu`
 * or `@tensorflow/tfjs-node` is installed), else `wasm` (SIMD, files read from node_modules, no
 * network), else `cpu`. `name`, or the `TAG2PIX_BACKEND` environment variable, forces one; a
 * forced backend that cannot start is an error. Call it before the first tensor operation.
 *
 * @example
 * ```ts
 * import { initBackend } from 'tag2pix/node';
 * const { backend, skipped } = await initBackend();
 * console.log(`running on ${backend}`, skipped);
 * ```
 */
export async function initBackend(
  name?: string,
  options: InitBackendOptions = {},
): Promise<BackendReport> {
  const importModule = options.importModule ?? ((specifier: string) => import(specifier));
  const env = options.env ?? process.env;
  const fromEnv = env['TAG2PIX_BACKEND'];
  const forced = name ?? (fromEnv !== '' ? fromEnv : undefined);
  const source: BackendReport['source'] =
    name != null ? 'argument' : forced != null ? 'TAG2PIX_BACKEND' : 'auto';
  if (forced != null) {
    if (!isBackendName(forced)) {
      throw new Error(
        `Unknown backend '${forced}'${source === 'TAG2PIX_BACKEND' ? ' in TAG2PIX_BACKEND' : ''}. ` +
          `Choose one of: ${BACKEND_ORDER.join(', ')}.`,
      );
    }
    const { why, pkg } = await activate(forced, importModule);
    if (why) {
      throw new Error(
        `Backend '${forced}' could not start: ${why}.` +
          (forced === 'tensorflow'
            ? ' Install @tensorflow/tfjs-node (or -node-gpu) or choose wasm or cpu.'
            : ''),
      );
    }
    return { backend: forced, source, skipped: [], ...(pkg ? { tensorflowPackage: pkg } : {}) };
  }
  const skipped: BackendReport['skipped'] = [];
  for (const candidate of BACKEND_ORDER) {
    const { why, pkg } = await activate(candidate, importModule);
    if (!why) return { backend: candidate, source, skipped, ...(pkg ? { tensorflowPackage: pkg } : {}) };
    skipped.push({ backend: candidate, reason: why });
  }
  throw new Error(
    `No TensorFlow.js backend could start: ${skipped.map((s) => `${s.backend}: ${s.reason}`).join('; ')}.`,
  );
}
