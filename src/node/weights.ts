import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import type { LayersModel } from '@tensorflow/tfjs-layers';
import { FileFormatError, LimitError, OptionError, Tag2PixError, WeightsError, type ErrorText, type Tag2PixErrorOptions, quoteValue } from '../errors.js';
import { readSafetensors, readSafetensorsHeader } from '../io/safetensors.js';
import { readTorchCheckpoint, torchStateDictEntries, type TorchTensor, type TorchValue } from '../io/torch_checkpoint.js';
import { PickleError } from '../io/pickle.js';
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

/** Shapes by key: a state dict's tensors, or their descriptions before they are decoded. */
export type StateDictShapes = Record<string, { readonly shape: readonly number[] }>;

/** Classifies a state dict by its keys. */
export function stateDictKind(tensors: StateDictShapes): StateDictKind {
  const has = (k: string) => k in tensors;
  if (has('Linear.weight') && has('conv1.0.weight')) return 'generator';
  if (has('adv_judge.0.weight')) return 'discriminator';
  if (has('conv1.weight') && has('layer1.0.conv1.weight')) return 'cit-extractor';
  return 'unknown';
}

/**
 * A state dict found in a weight file, not yet decoded: its keys and shapes, and `load` to decode
 * the tensors (all, or those passing a filter). Reading a file costs its bytes; decoding costs
 * only the tensors asked for (the discriminator of a tag2pix_256.pkl is never decoded to colourise).
 */
interface ScannedStateDict {
  file: string;
  entry?: string;
  kind: StateDictKind;
  shapes: StateDictShapes;
  load(filter?: (key: string) => boolean): Record<string, tf.Tensor>;
}

/** `'file'` or `'file' (G)`, for messages. */
function labelOf(d: { file: string; entry?: string }): string {
  return d.entry ? `${d.file} (${d.entry})` : d.file;
}

/** Error classes whose constructor takes (text, options), so that one can be re-made with the file named. */
const RENAMEABLE = new Set<unknown>([Tag2PixError, FileFormatError, LimitError, OptionError, WeightsError, PickleError]);

/** Re-raises an error of ours with the file named first; other errors as they are. */
function naming(file: string, err: unknown): unknown {
  if (!(err instanceof Tag2PixError) || err.file !== undefined || !RENAMEABLE.has(err.constructor)) return err;
  const Kind = err.constructor as new (text: ErrorText, options: Tag2PixErrorOptions) => Tag2PixError;
  return new Kind((name) => `Weight file ${quoteValue(file, 200)}: ${err.messageFor(name)}`, {
    file,
    option: err.option,
    hint: err.hint,
    cause: err,
  });
}

async function readWeightBytes(file: string): Promise<Uint8Array> {
  try {
    return new Uint8Array(await fs.readFile(file));
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new OptionError(
      (name) =>
        `Cannot read weight file ${quoteValue(file, 200)} (${name('sources')}): ` +
        `${code === 'EISDIR' ? 'it is a folder' : code === 'ENOENT' ? 'it does not exist' : (code ?? (err as Error).message)}.`,
      { file, option: 'sources', hint: HOW_TO_GET_WEIGHTS },
    );
  }
}

function withoutModule(keys: readonly string[]): (key: string) => string {
  const strip = keys.length > 0 && keys.every((k) => k.startsWith('module.'));
  return strip ? (k) => k.slice('module.'.length) : (k) => k;
}

async function scanStateDicts(file: string): Promise<ScannedStateDict[]> {
  const bytes = await readWeightBytes(file);
  try {
    if (file.endsWith('.safetensors')) {
      const header = readSafetensorsHeader(bytes);
      const names = Object.keys(header.tensors);
      const short = withoutModule(names);
      const shapes: StateDictShapes = {};
      for (const n of names) Object.defineProperty(shapes, short(n), { value: header.tensors[n], enumerable: true });
      return [
        {
          file,
          kind: stateDictKind(shapes),
          shapes,
          load: (filter) => {
            const tensors = readSafetensors(bytes, { filter: (n) => !filter || filter(short(n)) });
            const out: Record<string, tf.Tensor> = {};
            for (const [n, t] of Object.entries(tensors)) Object.defineProperty(out, short(n), { value: t, enumerable: true, writable: true, configurable: true });
            return out;
          },
        },
      ];
    }
    let checkpoint: TorchValue;
    try {
      checkpoint = readTorchCheckpoint(bytes);
    } catch (err) {
      if (!(err instanceof FileFormatError)) throw err;
      throw new FileFormatError(`neither safetensors nor a readable PyTorch checkpoint: ${err.message}`, { cause: err });
    }
    const isDict = typeof checkpoint === 'object' && checkpoint !== null && !Array.isArray(checkpoint) && !(checkpoint instanceof Uint8Array);
    const entries = isDict ? ['G', 'D', 'weight'].filter((k) => Object.prototype.hasOwnProperty.call(checkpoint, k)) : [];
    const scan = (entry?: string): ScannedStateDict => {
      const pairs = torchStateDictEntries(checkpoint, entry);
      const byKey = new Map<string, TorchTensor>(pairs);
      const shapes: StateDictShapes = {};
      for (const [k, t] of pairs) Object.defineProperty(shapes, k, { value: t, enumerable: true });
      return {
        file,
        ...(entry !== undefined ? { entry } : {}),
        kind: stateDictKind(shapes),
        shapes,
        load: (filter) => {
          const out: Record<string, tf.Tensor> = {};
          try {
            for (const [k, t] of byKey) {
              if (filter && !filter(k)) continue;
              Object.defineProperty(out, k, { value: t.toTensor(`tensor ${quoteValue(k)}`), enumerable: true, writable: true, configurable: true });
            }
          } catch (e) {
            tf.dispose(Object.values(out));
            throw naming(file, e);
          }
          return out;
        },
      };
    };
    return entries.length === 0 ? [scan()] : entries.map(scan);
  } catch (err) {
    throw naming(file, err);
  }
}

/**
 * Reads every state dict of a weight file: a `.safetensors` file is one; a torch checkpoint may
 * hold several (the official `tag2pix_*.pkl` holds `G` and `D`; the CIT `model.pth` holds
 * `weight`). The caller owns the tensors. A file that cannot be read is a Tag2PixError naming it.
 */
export async function readStateDicts(file: string): Promise<FoundStateDict[]> {
  const found: FoundStateDict[] = [];
  try {
    for (const d of await scanStateDicts(file)) {
      found.push({ file, ...(d.entry !== undefined ? { entry: d.entry } : {}), kind: d.kind, tensors: d.load() });
    }
  } catch (e) {
    for (const d of found) tf.dispose(Object.values(d.tensors));
    throw naming(file, e);
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

/**
 * The generator configuration a state dict was trained with, read off its keys and shapes:
 * input size (from `Linear`), decoder block counts, BatchNorm, guide decoder, CIT path, colorFC
 * ReLU, width multiplier, the CVT encoder's own width and the SECat reduction. Only SECat
 * generators (the published model) are recognised.
 */
export function inferGeneratorConfig(tensors: StateDictShapes): Tag2PixGeneratorConfig {
  const shape = (k: string) => {
    const t = Object.prototype.hasOwnProperty.call(tensors, k) ? tensors[k] : undefined;
    if (!t) throw new WeightsError(`This is not a Tag2Pix generator state dict: it has no '${k}'.`);
    return t.shape;
  };
  const keys = Object.keys(tensors);
  if (!keys.some((k) => /^deconv1\.secat_layer\.0\.selayer\.fc\.0\.weight$/.test(k))) {
    throw new WeightsError(
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

/** The CIT classifier's model.pth also has layer3, layer4 and fc, which the extractor drops. */
const CIT_UNUSED = /^(layer3|layer4|fc)\./;

/**
 * Builds the generator and CIT extractor from weight files or folders (safetensors, or the
 * official PyTorch checkpoints read directly), inferring the generator's configuration from its
 * keys. Only the tensors the two networks use are decoded (a discriminator, an optimizer state
 * or the CIT classifier's upper layers never are). Errors name the file and the option
 * (`sources`, `size`); nothing is left allocated when it fails.
 */
export async function loadColorizer(sources: string | readonly string[], options: LoadColorizerOptions = {}): Promise<Colorizer> {
  if (options.size !== undefined && !(Number.isInteger(options.size) && options.size > 0)) {
    throw new OptionError((name) => `${name('size')} must be a positive integer (256 or 512), got ${quoteValue(options.size)}.`, { option: 'size' });
  }
  const files = await listWeightFiles(sources);
  const found: ScannedStateDict[] = [];
  for (const f of files) for (const d of await scanStateDicts(f)) found.push(d);
  let generators = found.filter((d) => d.kind === 'generator');
  const cits = found.filter((d) => d.kind === 'cit-extractor');
  if (generators.length > 1 && options.size !== undefined) {
    // e.g. a folder with both published generators: --size picks one.
    generators = generators.filter((d) => {
      try {
        return inferGeneratorConfig(d.shapes).inputSize === options.size;
      } catch {
        return false;
      }
    });
  }
  if (generators.length !== 1) {
    const listed = found.slice(0, 10).map(labelOf).join(', ') + (found.length > 10 ? `, … ${found.length - 10} more` : '');
    throw new WeightsError(
      (name) =>
        generators.length === 0
          ? `No generator weights${options.size ? ` for ${options.size} px` : ''} among ${listed} (${name('sources')}).`
          : `Several generators (${generators.map(labelOf).join(', ')}); give the one to use${options.size ? '' : `, or ${name('size')}`}.`,
      { option: options.size !== undefined ? 'size' : 'sources', hint: generators.length === 0 ? HOW_TO_GET_WEIGHTS : undefined },
    );
  }
  const g = generators[0]!;
  let config: Tag2PixGeneratorConfig;
  try {
    config = inferGeneratorConfig(g.shapes);
  } catch (e) {
    throw naming(labelOf(g), e);
  }
  if (options.size !== undefined && options.size !== config.inputSize) {
    throw new OptionError((name) => `${name('size')} ${options.size} was asked for, but ${labelOf(g)} is a ${config.inputSize} px generator.`, {
      option: 'size',
    });
  }
  if (config.citFeatures && cits.length === 0) {
    throw new WeightsError(
      (name) => `${labelOf(g)} needs a CIT extractor (the CIT network's model.pth), which is missing from ${name('sources')}.`,
      { option: 'sources', hint: HOW_TO_GET_WEIGHTS },
    );
  }
  // Build and fill one network at a time; whatever exists is disposed if a later step fails.
  const built: LayersModel[] = [];
  const load = (d: ScannedStateDict, model: LayersModel, ignore?: (k: string) => boolean) => {
    const tensors = d.load(ignore ? (k) => !ignore(k) : undefined);
    try {
      loadTorchStateDict(model, tensors, ignore ? { ignore } : {});
    } catch (e) {
      throw naming(labelOf(d), e);
    } finally {
      tf.dispose(Object.values(tensors));
    }
  };
  try {
    const generator = buildTag2PixGenerator(config);
    built.push(generator);
    load(g, generator);
    const result: Colorizer = { generator, config, sources: { generator: labelOf(g) } };
    if (config.citFeatures) {
      const cit = cits[0]!;
      const citExtractor = buildCITExtractor({
        inputSize: config.inputSize,
        batchNormMode: options.citBatchNormMode ?? 'batch-stats',
      });
      built.push(citExtractor);
      load(cit, citExtractor, (k) => CIT_UNUSED.test(k));
      result.citExtractor = citExtractor;
      result.sources.citExtractor = labelOf(cit);
    }
    return result;
  } catch (e) {
    for (const model of built) model.dispose();
    throw e;
  }
}
