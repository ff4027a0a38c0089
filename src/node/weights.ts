import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { LimitError, OptionError, quoteValue } from '../errors.js';
import {
  DEFAULT_MAX_WEIGHT_BYTES,
  checkLoadColorizerOptions,
  loadColorizer as loadColorizerFromSources,
  type Colorizer,
  type LoadColorizerOptions,
  type NamedWeightBytes,
  type WeightSource,
} from '../io/colorizer.js';
import { namingWeightFile, scanWeightFile } from '../io/weight_file.js';
import { stateDictKind, type StateDictKind } from '../models/infer_config.js';

export { inferGeneratorConfig, stateDictKind } from '../models/infer_config.js';
export type { StateDictKind, StateDictShapes } from '../models/infer_config.js';
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
  '  - The demo\'s: `npm run demo` writes demo-output/generator.safetensors and the synthetic CIT',
  '    extractor it was trained with, demo-output/cit_extractor.safetensors (64 px, synthetic',
  '    characters); pass the folder: --weights demo-output.',
].join('\n');

/** A weight file's bytes, with an error naming it and the option; files past `maxBytes` are refused unread. */
async function readWeightBytes(file: string, maxBytes = DEFAULT_MAX_WEIGHT_BYTES): Promise<Uint8Array> {
  try {
    const stat = await fs.stat(file);
    if (stat.isFile() && stat.size > maxBytes) {
      throw new LimitError(
        (name) => `Weight file ${quoteValue(file, 200)} is ${stat.size} bytes, above the limit of ${maxBytes} bytes; raise ${name('maxBytes')} if it is right.`,
        { file, option: 'maxBytes' },
      );
    }
    return new Uint8Array(await fs.readFile(file));
  } catch (err) {
    // Our own LimitError passes; a file system error (it has a code) says what is wrong with the path.
    const code = (err as NodeJS.ErrnoException).code;
    if (!code) throw err;
    throw new OptionError(
      (name) =>
        `Cannot read weight file ${quoteValue(file, 200)} (${name('sources')}): ` +
        `${code === 'EISDIR' ? 'it is a folder' : code === 'ENOENT' ? 'it does not exist' : code}.`,
      { file, option: 'sources', hint: HOW_TO_GET_WEIGHTS },
    );
  }
}

/**
 * Reads every state dict of a weight file: a `.safetensors` file is one; a torch checkpoint may
 * hold several (the official `tag2pix_*.pkl` holds `G` and `D`; the CIT `model.pth` holds
 * `weight`). Everything is decoded (`loadColorizer` decodes only what the networks use). The
 * caller owns the tensors. A file that cannot be read is a Tag2PixError naming it; nothing is
 * left allocated then.
 */
export async function readStateDicts(file: string): Promise<FoundStateDict[]> {
  const bytes = await readWeightBytes(file);
  const found: FoundStateDict[] = [];
  try {
    for (const d of scanWeightFile(file, bytes)) {
      found.push({ file, ...(d.entry !== undefined ? { entry: d.entry } : {}), kind: stateDictKind(d.shapes), tensors: d.load() });
    }
  } catch (e) {
    for (const d of found) tf.dispose(Object.values(d.tensors));
    throw namingWeightFile(file, e);
  }
  return found;
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
      throw new OptionError((name) => `Weights ${quoteValue(source, 200)} (${name('sources')}) do not exist.`, {
        file: source,
        option: 'sources',
        hint: HOW_TO_GET_WEIGHTS,
      });
    }
    if (stat.isDirectory()) {
      const names = (await fs.readdir(source)).filter((n) => WEIGHT_EXTENSIONS.some((e) => n.endsWith(e))).sort();
      if (names.length === 0) {
        throw new OptionError(
          (name) => `The folder ${quoteValue(source, 200)} (${name('sources')}) holds no weight files (${WEIGHT_EXTENSIONS.join(', ')}).`,
          { file: source, option: 'sources', hint: HOW_TO_GET_WEIGHTS },
        );
      }
      for (const n of names) files.push(path.join(source, n));
    } else {
      files.push(source);
    }
  }
  return files;
}

/** A weight source in Node: a file or folder path, or anything `loadColorizer` of tag2pix/io takes but a URL string. */
export type NodeWeightSource = string | Exclude<WeightSource, string>;

/**
 * Builds the generator and CIT extractor from weight files or folders (safetensors, the official
 * PyTorch checkpoints read directly, or a training checkpoint), inferring the generator's
 * configuration from its keys: `loadColorizer` of tag2pix/io, with strings read as paths (a folder
 * gives its weight files). `URL`s, `Response`s, `Blob`s and bytes are taken as tag2pix/io takes them.
 * Only the tensors the two networks use are decoded (a discriminator, an optimizer state or the
 * CIT classifier's upper layers never are). Errors are Tag2PixErrors naming the file and the
 * option (`sources`, `size`), with how to get weights as their hint when weights are missing;
 * nothing is left allocated when it fails. Dispose the result when done.
 */
export async function loadColorizer(
  sources: NodeWeightSource | readonly NodeWeightSource[],
  options: LoadColorizerOptions = {},
): Promise<Colorizer> {
  checkLoadColorizerOptions(options);
  const list: readonly NodeWeightSource[] = Array.isArray(sources) ? sources : [sources as NodeWeightSource];
  const read: WeightSource[] = [];
  for (const source of list) {
    if (typeof source !== 'string') read.push(source);
    else {
      for (const file of await listWeightFiles(source)) {
        read.push({ name: file, bytes: await readWeightBytes(file, options.maxBytes) } satisfies NamedWeightBytes);
      }
    }
  }
  return loadColorizerFromSources(read, { help: HOW_TO_GET_WEIGHTS, ...options });
}
