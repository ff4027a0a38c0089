import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import type { LayersModel } from '@tensorflow/tfjs-layers';
import { readSafetensors } from '../io/safetensors.js';
import { readTorchCheckpoint, torchStateDictFrom, type TorchValue } from '../io/torch_checkpoint.js';
import { loadTorchStateDict } from '../io/torch_state_dict.js';
import type { BatchNormMode } from '../layers/torch_layer.js';
import { buildTag2PixGenerator, type Tag2PixGeneratorConfig } from '../models/generator.js';
import { buildCITExtractor } from '../models/se_resnext50.js';

/** What a state dict holds, judged from its keys. */
export type StateDictKind = 'generator' | 'discriminator' | 'cit-extractor' | 'unknown';

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

/** Classifies a state dict by its keys. */
export function stateDictKind(tensors: Record<string, tf.Tensor>): StateDictKind {
  const has = (k: string) => k in tensors;
  if (has('Linear.weight') && has('conv1.0.weight')) return 'generator';
  if (has('adv_judge.0.weight')) return 'discriminator';
  if (has('conv1.weight') && has('layer1.0.conv1.weight')) return 'cit-extractor';
  return 'unknown';
}

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

/**
 * The generator configuration a state dict was trained with, read off its keys and shapes:
 * input size (from `Linear`), decoder block counts, BatchNorm, guide decoder, CIT path, colorFC
 * ReLU, width multiplier, the CVT encoder's own width and the SECat reduction. Only SECat
 * generators (the published model) are recognised.
 */
export function inferGeneratorConfig(tensors: Record<string, tf.Tensor>): Tag2PixGeneratorConfig {
  const shape = (k: string) => {
    const t = tensors[k];
    if (!t) throw new Error(`This is not a Tag2Pix generator state dict: it has no '${k}'.`);
    return t.shape;
  };
  const keys = Object.keys(tensors);
  if (!keys.some((k) => /^deconv1\.secat_layer\.0\.selayer\.fc\.0\.weight$/.test(k))) {
    throw new Error(
      'The generator state dict has no SECat decoder blocks (deconv1.secat_layer.0.selayer.fc.0.weight); ' +
        'only SECat generators (the published model) can be loaded from files; build ablations with buildTag2PixGenerator.',
    );
  }
  const stem = shape('conv1.0.weight')[0];
  const [linearRows, cvtCount] = shape('Linear.weight');
  const linearChannels = shape('colorConv.0.weight')[1] ?? 1;
  const bottom = Math.round(Math.sqrt(linearRows / linearChannels));
  const decoderLayers = [1, 2, 3, 4].map((d) => {
    const indices = new Set(
      keys.map((k) => new RegExp(`^deconv${d}\\.secat_layer\\.(\\d+)\\.`).exec(k)?.[1]).filter((v): v is string => v !== undefined),
    );
    return indices.size;
  }) as [number, number, number, number];
  const config: Tag2PixGeneratorConfig = {
    inputSize: bottom * 16,
    decoderLayers,
    cvtCount,
    batchNorm: keys.includes('deconv1.secat_layer.0.bn1.weight'),
    guideDecoder: keys.includes('deconv_for_decoder.0.weight'),
    citFeatures: keys.includes('featureConv.network.0.weight'),
    colorFcRelu: keys.includes('colorFC.6.weight'),
    widthMultiplier: stem / 16,
  };
  if (config.citFeatures) config.citChannels = shape('featureConv.network.0.weight')[1];
  // A CVT encoder wider or narrower than the rest (the demo's is ×1 in a ×0.25 generator).
  const tagEncoderWidth = shape('colorConv.0.weight')[0]! / 64;
  if (tagEncoderWidth !== config.widthMultiplier) config.tagEncoderWidthMultiplier = tagEncoderWidth;
  // SECat hidden width = filters // reduction, read off the widest block.
  const reduction = Math.round(shape('deconv1.secat_layer.0.conv3.weight')[0]! / shape('deconv1.secat_layer.0.selayer.fc.0.weight')[0]!);
  if (reduction !== 16) config.seReduction = reduction;
  return config;
}

/** Options of {@link loadColorizer}. */
export interface LoadColorizerOptions {
  /** Expected generator size (256 or 512); an error if the weights are for another size. */
  size?: number;
  /** BatchNorm mode of the CIT extractor. Default `'batch-stats'`, as the published code runs it. */
  citBatchNormMode?: BatchNormMode;
}

/** A generator and CIT extractor with weights, ready for `colorize`. */
export interface Colorizer {
  generator: LayersModel;
  citExtractor?: LayersModel;
  /** The inferred generator configuration. */
  config: Tag2PixGeneratorConfig;
  /** Which file each network came from. */
  sources: { generator: string; citExtractor?: string };
}

/**
 * Builds the generator and CIT extractor from weight files or folders (safetensors, or the
 * official PyTorch checkpoints read directly), inferring the generator's configuration from its
 * keys. Unused state dicts (a discriminator) are ignored.
 */
export async function loadColorizer(sources: string | readonly string[], options: LoadColorizerOptions = {}): Promise<Colorizer> {
  const files = await listWeightFiles(sources);
  const found: FoundStateDict[] = [];
  try {
    for (const f of files) found.push(...(await readStateDicts(f)));
    const label = (d: FoundStateDict) => (d.entry ? `${d.file} (${d.entry})` : d.file);
    let generators = found.filter((d) => d.kind === 'generator');
    const cits = found.filter((d) => d.kind === 'cit-extractor');
    if (generators.length > 1 && options.size !== undefined) {
      // e.g. a folder with both published generators: --size picks one.
      generators = generators.filter((d) => inferGeneratorConfig(d.tensors).inputSize === options.size);
    }
    if (generators.length !== 1) {
      throw new Error(
        generators.length === 0
          ? `No generator weights${options.size ? ` for ${options.size} px` : ''} among ${found.map(label).join(', ')}.\n${HOW_TO_GET_WEIGHTS}`
          : `Several generators (${generators.map(label).join(', ')}); give the one to use${options.size ? '' : ', or --size'}.`,
      );
    }
    const g = generators[0];
    const config = inferGeneratorConfig(g.tensors);
    if (options.size !== undefined && options.size !== config.inputSize) {
      throw new Error(`--size ${options.size} was asked for, but ${label(g)} is a ${config.inputSize} px generator.`);
    }
    const generator = buildTag2PixGenerator(config);
    loadTorchStateDict(generator, g.tensors);
    const result: Colorizer = { generator, config, sources: { generator: label(g) } };
    if (config.citFeatures) {
      if (cits.length === 0) {
        throw new Error(`${label(g)} needs a CIT extractor (the CIT network's model.pth), which is missing.\n${HOW_TO_GET_WEIGHTS}`);
      }
      const cit = cits[0];
      const citExtractor = buildCITExtractor({
        inputSize: config.inputSize,
        batchNormMode: options.citBatchNormMode ?? 'batch-stats',
      });
      // The CIT classifier's model.pth also has layer3, layer4 and fc, which the extractor drops.
      loadTorchStateDict(citExtractor, cit.tensors, { ignore: (k) => /^(layer3|layer4|fc)\./.test(k) });
      result.citExtractor = citExtractor;
      result.sources.citExtractor = label(cit);
    }
    return result;
  } finally {
    for (const d of found) tf.dispose(Object.values(d.tensors));
  }
}
