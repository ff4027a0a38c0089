import { createRequire } from 'node:module';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
// Registers every gradient and layer; the Node build of tfjs-core registers no gradients.
import '@tensorflow/tfjs-layers';
import '@tensorflow/tfjs-backend-cpu';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';

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
}

const ORDER: BackendName[] = ['tensorflow', 'wasm', 'cpu'];
const require = createRequire(import.meta.url);

function isBackendName(name: string): name is BackendName {
  return (ORDER as string[]).includes(name);
}

async function tryTensorflow(): Promise<string | undefined> {
  const failures: string[] = [];
  for (const pkg of ['@tensorflow/tfjs-node-gpu', '@tensorflow/tfjs-node']) {
    try {
      await import(pkg);
      return undefined;
    } catch (err) {
      failures.push(`${pkg}: ${(err as Error).message.split('\n')[0]}`);
    }
  }
  return `neither optional package loads (${failures.join('; ')})`;
}

function wasmDirectory(): string {
  const entry = require.resolve('@tensorflow/tfjs-backend-wasm');
  // The resolved entry sits in dist/ (or a subfolder of it) beside the .wasm files.
  let dir = path.dirname(entry);
  while (!dir.endsWith(`${path.sep}dist`) && path.dirname(dir) !== dir) dir = path.dirname(dir);
  return dir + path.sep;
}

async function activate(name: BackendName): Promise<string | undefined> {
  try {
    if (name === 'tensorflow') {
      const why = await tryTensorflow();
      if (why) return why;
    }
    if (name === 'wasm') {
      // The threaded build cannot start its workers under Node as shipped.
      tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', false);
      setWasmPaths(wasmDirectory());
    }
    if (tf.findBackendFactory(name) == null) return `backend '${name}' is not registered`;
    const ok = await tf.setBackend(name);
    if (!ok) return `backend '${name}' failed to initialise`;
    await tf.ready();
    return undefined;
  } catch (err) {
    return (err as Error).message.split('\n')[0];
  }
}

/**
 * Selects the fastest backend available in Node: `tensorflow` (when `@tensorflow/tfjs-node-gpu`
 * or `@tensorflow/tfjs-node` is installed), else `wasm` (SIMD, files read from node_modules, no
 * network), else `cpu`. `name`, or the `TAG2PIX_BACKEND` environment variable, forces one; a
 * forced backend that cannot start is an error. Call it before the first tensor operation.
 */
export async function initBackend(name?: string): Promise<BackendReport> {
  const forced = name ?? process.env['TAG2PIX_BACKEND'] ?? undefined;
  const source: BackendReport['source'] =
    name != null ? 'argument' : forced != null && forced !== '' ? 'TAG2PIX_BACKEND' : 'auto';
  if (forced != null && forced !== '') {
    if (!isBackendName(forced)) {
      throw new Error(
        `Unknown backend '${forced}'${source === 'TAG2PIX_BACKEND' ? ' in TAG2PIX_BACKEND' : ''}. ` +
          `Choose one of: ${ORDER.join(', ')}.`,
      );
    }
    const why = await activate(forced);
    if (why) {
      throw new Error(
        `Backend '${forced}' could not start: ${why}.` +
          (forced === 'tensorflow'
            ? ' Install @tensorflow/tfjs-node (or -node-gpu) or choose wasm or cpu.'
            : ''),
      );
    }
    return { backend: forced, source, skipped: [] };
  }
  const skipped: BackendReport['skipped'] = [];
  for (const candidate of ORDER) {
    const why = await activate(candidate);
    if (!why) return { backend: candidate, source, skipped };
    skipped.push({ backend: candidate, reason: why });
  }
  throw new Error(
    `No TensorFlow.js backend could start: ${skipped.map((s) => `${s.backend}: ${s.reason}`).join('; ')}.`,
  );
}
