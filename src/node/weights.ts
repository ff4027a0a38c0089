import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import {
  loadColorizer as loadColorizerFromSources,
  type Colorizer,
  type LoadColorizerOptions,
  type NamedWeightBytes,
  type WeightSource,
} from '../io/colorizer.js';
import { readSafetensors } from '../io/safetensors.js';
import { readTorchCheckpoint, torchStateDictFrom, type TorchValue } from '../io/torch_checkpoint.js';
import { stateDictKind, type StateDictKind } from '../models/infer_config.js';

export { inferGeneratorConfig, stateDictKind } from '../models/infer_config.js';
export type { StateDictKind } from '../models/infer_config.js';
export type { Colorizer, LoadColorizerOptions } from '../io/colorizer.js';

/** One state dict found in a weight file. */
export interface FoundStateDict {
  file: string;
  /** Entry of a torch checkpoint it came from (`G`, `D`, `weight`), if any. */
  entry?: string;
  kind: StateDictKind;
  tensors: Record<string, tf.Tensor>;
}

const WEIGHT_EXTENSIONS = ['.safetensors', '.pkl', '.pth', '.pt', '.ckpt', '.bin'];

/** How to get weights, for error messages and the CLI. */
export const HOW_TO_GET_WEIGHTS = [
  'Tag2Pix needs two sets of weights: a generator and the CIT extractor it was trained with.',
  '  - Published weights: download tag2pix_256.pkl (or tag2pix_512.pkl) and the CIT network',
  '    model.pth from https://github.com/blandocs/Tag2Pix/releases (non-commercial licence; not',
  '    bundled). Pass them as they are, e.g. --weights tag2pix_256.pkl model.pth, or a folder',
  '    holding them; or convert them once with python tools/export_torch_checkpoint.py and pass',
  '    the .safetensors files (docs/weights.md).',
  '  - Your own: `tag2pix train --out runs/x` writes runs/x/generator.safetensors at each epoch',
  '    (docs/training.md); pass it with the CIT extractor it was trained with (a generator trained',
  '    with --no-cit needs none). From code: writeSafetensors(exportTorchStateDict(generator)).',
].join('\n');

function stripModulePrefix(tensors: Record<string, tf.Tensor>): Record<string, tf.Tensor> {
  const keys = Object.keys(tensors);
  if (keys.length === 0 || !keys.every((k) => k.startsWith('module.'))) return tensors;
  return Object.fromEntries(Object.entries(tensors).map(([k, t]) => [k.slice('module.'.length), t]));
}

function isDict(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * Reads every state dict of a weight file: a `.safetensors` file is one; a torch checkpoint may
 * hold several (the official `tag2pix_*.pkl` holds `G` and `D`; the CIT `model.pth` holds
 * `weight`).
 */
export async function readStateDicts(file: string): Promise<FoundStateDict[]> {
  let bytes: Uint8Array;
  try {
    bytes = new Uint8Array(await fs.readFile(file));
  } catch (err) {
    throw new Error(`Cannot read weight file '${file}': ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}.`);
  }
  if (file.endsWith('.safetensors')) {
    const tensors = stripModulePrefix(readSafetensors(bytes));
    return [{ file, kind: stateDictKind(tensors), tensors }];
  }
  let checkpoint: TorchValue;
  try {
    checkpoint = readTorchCheckpoint(bytes);
  } catch (err) {
    throw new Error(`'${file}' is neither safetensors nor a readable PyTorch checkpoint: ${(err as Error).message}`);
  }
  const entries = isDict(checkpoint) ? ['G', 'D', 'weight'].filter((k) => k in checkpoint) : [];
  if (entries.length === 0) {
    const tensors = torchStateDictFrom(checkpoint);
    return [{ file, kind: stateDictKind(tensors), tensors }];
  }
  return entries.map((entry) => {
    const tensors = torchStateDictFrom(checkpoint, entry);
    return { file, entry, kind: stateDictKind(tensors), tensors };
  });
}

/** Expands folders into their weight files (sorted), keeping files as given. */
export async function listWeightFiles(sources: string | readonly string[]): Promise<string[]> {
  const list = typeof sources === 'string' ? [sources] : [...sources];
  const files: string[] = [];
  for (const source of list) {
    let stat;
    try {
      stat = await fs.stat(source);
    } catch {
      throw new Error(`Weights '${source}' do not exist.\n${HOW_TO_GET_WEIGHTS}`);
    }
    if (stat.isDirectory()) {
      const names = (await fs.readdir(source)).filter((n) => WEIGHT_EXTENSIONS.some((e) => n.endsWith(e))).sort();
      if (names.length === 0) {
        throw new Error(`The folder '${source}' holds no weight files (${WEIGHT_EXTENSIONS.join(', ')}).\n${HOW_TO_GET_WEIGHTS}`);
      }
      files.push(...names.map((n) => path.join(source, n)));
    } else {
      files.push(source);
    }
  }
  return files;
}

/** A weight source in Node: a file or folder path, or anything `loadColorizer` of tag2pix/io takes but a URL string. */
export type NodeWeightSource = string | Exclude<WeightSource, string>;

/** Reads a weight file's bytes, with an error naming it. */
async function readWeightFile(file: string): Promise<NamedWeightBytes> {
  try {
    return { name: file, bytes: new Uint8Array(await fs.readFile(file)) };
  } catch (err) {
    throw new Error(`Cannot read weight file '${file}': ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}.`);
  }
}

/**
 * Builds the generator and CIT extractor from weight files or folders (safetensors, the official
 * PyTorch checkpoints read directly, or a training checkpoint), inferring the generator's
 * configuration from its keys: `loadColorizer` of tag2pix/io, with strings read as paths (a folder
 * gives its weight files). `URL`s, `Response`s, `Blob`s and bytes are taken as tag2pix/io takes them.
 * Dispose the result when done.
 */
export async function loadColorizer(
  sources: NodeWeightSource | readonly NodeWeightSource[],
  options: LoadColorizerOptions = {},
): Promise<Colorizer> {
  const list: readonly NodeWeightSource[] = Array.isArray(sources) ? sources : [sources as NodeWeightSource];
  const read: WeightSource[] = [];
  for (const source of list) {
    if (typeof source !== 'string') read.push(source);
    else for (const file of await listWeightFiles(source)) read.push(await readWeightFile(file));
  }
  return loadColorizerFromSources(read, { help: HOW_TO_GET_WEIGHTS, ...options });
}
