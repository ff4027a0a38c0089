// Which networks a set of .safetensors files holds, and the generator configuration their
// shapes imply. Pure functions over the files' headers (no tensor is created here), so the
// page can refuse a wrong file before it allocates anything.
import { readSafetensorsHeader, type SafetensorsHeader } from 'tag2pix/io';

/** A chosen file, already read into memory. */
export interface WeightFile {
  name: string;
  bytes: Uint8Array;
}

/** The generator settings that can be read off its weights. */
export interface InferredGeneratorConfig {
  inputSize: number;
  widthMultiplier: number;
  decoderLayers: [number, number, number, number];
  cvtCount: number;
  batchNorm: boolean;
  guideDecoder: boolean;
  citFeatures: boolean;
  colorFcRelu: boolean;
  /** Channels of the CIT features the generator takes (512 for the published extractor). */
  citChannels?: number;
}

/** Where in the files each network's weights are. */
export interface WeightPlan {
  generator: {
    file: WeightFile;
    /**
     * `torch`: PyTorch state-dict keys (an exported or converted model), under `prefix`.
     * `checkpoint`: a tag2pix training checkpoint, whose generator weights are keyed
     * `G:<tfjs weight name>` in TensorFlow.js layouts (what `npm run demo` and training write).
     */
    format: 'torch' | 'checkpoint';
    prefix: string;
    config: InferredGeneratorConfig;
  };
  /**
   * Where the generator's CIT features come from: the CIT extractor's weights, the demo's
   * stand-in (two pooled statistics of the line art; the demo trains without a CIT classifier),
   * or nowhere (a generator built without the CIT path).
   */
  citSource: 'extractor' | 'demo-statistics' | 'none';
  /** The CIT extractor's weights, when `citSource` is 'extractor'. */
  citExtractor?: { file: WeightFile; prefix: string };
}

/** Metadata marker of tag2pix training checkpoints. */
export const CHECKPOINT_MARKER = 'tag2pix_checkpoint';
/** Channels of the demo's CIT stand-in features (mean and minimum of each 8×8 cell). */
export const DEMO_CIT_CHANNELS = 2;

const DATA_PARALLEL = 'module.';
// Keys that only the networks we do not run here have.
const DISCRIMINATOR_KEYS = /(^|\.)(adv_judge|cit_judge|cvt_judge)\./;

type Shapes = Map<string, number[]>;

/**
 * A training checkpoint's generator weights (`G:conv1.0/weight`, TensorFlow.js layouts) as the
 * PyTorch keys and shapes the config inference reads (`conv1.0.weight`, OIHW / [out, in]). A
 * weight name is `<layer>/<key in the layer>`; layers at the top of the PyTorch module (the CVT
 * encoder's `Linear`, `colorFC`, `colorConv`) have no layer part in PyTorch, so both readings
 * are recorded.
 */
function checkpointGeneratorShapes(header: SafetensorsHeader): Shapes {
  const shapes: Shapes = new Map();
  for (const [key, entry] of Object.entries(header.tensors)) {
    if (!key.startsWith('G:')) continue;
    const name = key.slice(2);
    const s = entry.shape;
    const torchShape = s.length === 4 ? [s[3]!, s[2]!, s[0]!, s[1]!] : s.length === 2 ? [s[1]!, s[0]!] : s;
    shapes.set(name.replace(/\//g, '.'), torchShape);
    const slash = name.indexOf('/');
    if (slash >= 0) shapes.set(name.slice(slash + 1).replace(/\//g, '.'), torchShape);
  }
  return shapes;
}

function shapesOf(header: SafetensorsHeader): Shapes {
  const shapes: Shapes = new Map();
  for (const [key, entry] of Object.entries(header.tensors)) {
    shapes.set(key.startsWith(DATA_PARALLEL) ? key.slice(DATA_PARALLEL.length) : key, entry.shape);
  }
  return shapes;
}

/** Parses a file's safetensors header, or explains why the file is not a weights file. */
export function readWeightHeader(file: WeightFile): SafetensorsHeader {
  const b = file.bytes;
  const looksLike =
    b[0] === 0x89 && b[1] === 0x50
      ? 'a PNG image'
      : b[0] === 0xff && b[1] === 0xd8
        ? 'a JPEG image'
        : b[0] === 0x50 && b[1] === 0x4b
          ? 'a zip archive (a PyTorch .pth/.pkl checkpoint? convert it with tools/export_torch_checkpoint.py)'
          : b[0] === 0x80
            ? 'a Python pickle (a PyTorch checkpoint? convert it with tools/export_torch_checkpoint.py)'
            : undefined;
  if (looksLike) {
    throw new Error(`'${file.name}' is ${looksLike}, not a .safetensors weights file.`);
  }
  try {
    return readSafetensorsHeader(b);
  } catch (err) {
    throw new Error(`'${file.name}' is not a readable .safetensors weights file: ${(err as Error).message}`);
  }
}

/** The prefix under which `suffix` appears as a whole key (e.g. 'generator.' or ''), if any. */
function prefixOf(shapes: Shapes, suffix: string, exclude?: string): string | undefined {
  for (const key of shapes.keys()) {
    if (key === suffix || key.endsWith(`.${suffix}`)) {
      const prefix = key.slice(0, key.length - suffix.length);
      if (exclude !== undefined && exclude !== '' && prefix.startsWith(exclude)) continue;
      return prefix;
    }
  }
  return undefined;
}

function need(shapes: Shapes, file: string, key: string): number[] {
  const shape = shapes.get(key);
  if (!shape) throw new Error(`'${file}' looks like a Tag2Pix generator but has no '${key}'; the file is incomplete.`);
  return shape;
}

/** Reads the generator's configuration off the shapes of its weights under `prefix`. */
export function inferGeneratorConfig(shapes: Shapes, prefix: string, file: string): InferredGeneratorConfig {
  const key = (k: string) => prefix + k;
  const stem = need(shapes, file, key('conv1.0.weight'))[0]!; // 16 × width multiplier
  const cvtCount = need(shapes, file, key('colorFC.0.weight'))[1]!;
  const tagChannels = need(shapes, file, key('colorConv.0.weight'))[1]!;
  const linearRows = need(shapes, file, key('Linear.weight'))[0]!; // tagChannels · (S/16)²
  const side = Math.round(Math.sqrt(linearRows / tagChannels));
  if (side * side * tagChannels !== linearRows) {
    throw new Error(
      `'${file}': Linear.weight has ${linearRows} rows, which is not ${tagChannels}·(S/16)² for any size S; ` +
        'the file is not a Tag2Pix generator.',
    );
  }
  const decoderLayers = [1, 2, 3, 4].map((block) => {
    const blocks = new Set<string>();
    const pattern = new RegExp(`^${escape(key(`deconv${block}.`))}[A-Za-z_]+\\.(\\d+)\\.`);
    for (const k of shapes.keys()) {
      const m = pattern.exec(k);
      if (m) blocks.add(m[1]!);
    }
    return blocks.size;
  }) as [number, number, number, number];
  if (decoderLayers.some((n) => n === 0)) {
    throw new Error(`'${file}': a decoder block (deconv1..deconv4) has no weights; the file is incomplete.`);
  }
  const keys = [...shapes.keys()].filter((k) => k.startsWith(prefix));
  const config: InferredGeneratorConfig = {
    inputSize: side * 16,
    widthMultiplier: stem / 16,
    decoderLayers,
    cvtCount,
    batchNorm: keys.some((k) => k.startsWith(key('deconv1.')) && k.endsWith('.running_mean')),
    guideDecoder: keys.some((k) => k.startsWith(key('deconv_for_decoder.'))),
    citFeatures: keys.some((k) => k.startsWith(key('featureConv.'))),
    // With ReLUs between the colorFC layers, PyTorch numbers them 0, 2, 4, 6.
    colorFcRelu: shapes.has(key('colorFC.6.weight')),
  };
  if (config.citFeatures) config.citChannels = need(shapes, file, key('featureConv.network.0.weight'))[1]!;
  return config;
}

function escape(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/**
 * Finds the generator and the CIT extractor among the chosen files: one file holding both
 * (under prefixes such as `generator.` and `cit.`), or one file each, in any order.
 */
export function planWeights(files: readonly WeightFile[]): WeightPlan {
  if (files.length === 0) throw new Error('Choose the weights: one or two .safetensors files.');
  let generator: WeightPlan['generator'] | undefined;
  let citExtractor: WeightPlan['citExtractor'] | undefined;
  const unrecognised: string[] = [];
  let demo = false;
  for (const file of files) {
    const header = readWeightHeader(file);
    if (header.metadata[CHECKPOINT_MARKER]) {
      if (generator) throw new Error(`Both '${generator.file.name}' and '${file.name}' hold a generator; choose one.`);
      let state: { config?: { demo?: boolean } } = {};
      try {
        state = JSON.parse(header.metadata['state'] ?? '{}') as typeof state;
      } catch {
        // A checkpoint without readable state still has its weights.
      }
      const shapes = checkpointGeneratorShapes(header);
      if (shapes.size === 0) throw new Error(`'${file.name}' is a training checkpoint without generator weights (G:…).`);
      generator = { file, format: 'checkpoint', prefix: 'G:', config: inferGeneratorConfig(shapes, '', file.name) };
      demo = state.config?.demo === true;
      continue;
    }
    const shapes = shapesOf(header);
    const gPrefix = prefixOf(shapes, 'deconv5.0.weight');
    if (gPrefix !== undefined) {
      if (generator) throw new Error(`Both '${generator.file.name}' and '${file.name}' hold a generator; choose one.`);
      generator = { file, format: 'torch', prefix: gPrefix, config: inferGeneratorConfig(shapes, gPrefix, file.name) };
    }
    // The CIT extractor is an SE-ResNeXt cut after layer2; skip matches inside the generator.
    const cPrefix = prefixOf(shapes, 'layer2.0.conv1.weight', gPrefix);
    if (cPrefix !== undefined && shapes.has(`${cPrefix}conv1.weight`)) {
      if (citExtractor) {
        throw new Error(`Both '${citExtractor.file.name}' and '${file.name}' hold a CIT extractor; choose one.`);
      }
      citExtractor = { file, prefix: cPrefix };
    }
    if (gPrefix === undefined && cPrefix === undefined) {
      const keys = [...shapes.keys()];
      unrecognised.push(
        keys.some((k) => DISCRIMINATOR_KEYS.test(k))
          ? `'${file.name}' holds a Tag2Pix discriminator, which colourising does not use.`
          : `'${file.name}' holds neither a Tag2Pix generator nor a CIT extractor ` +
              `(${keys.length} tensors, e.g. ${keys.slice(0, 3).map((k) => `'${k}'`).join(', ') || 'none'}).`,
      );
    }
  }
  if (!generator) {
    throw new Error(
      [
        'No Tag2Pix generator among the chosen weights (its keys end in deconv5.0.weight, colorFC.0.weight, …).',
        ...unrecognised,
      ].join('\n'),
    );
  }
  const config = generator.config;
  if (unrecognised.length > 0) throw new Error(unrecognised.join('\n'));
  if (!config.citFeatures) return { generator, citSource: 'none' };
  if (demo && config.citChannels === DEMO_CIT_CHANNELS) return { generator, citSource: 'demo-statistics' };
  if (!citExtractor) {
    throw new Error(
      `The generator in '${generator.file.name}' takes CIT features, so it needs the CIT extractor's weights too ` +
        '(an SE-ResNeXt whose keys start conv1.weight, layer1.0…): choose both files together.',
    );
  }
  if (config.citChannels !== 512) {
    throw new Error(
      `The generator in '${generator.file.name}' takes ${config.citChannels} CIT feature channels, but the CIT ` +
        'extractor gives 512; these weights belong to a generator trained with other CIT features.',
    );
  }
  return { generator, citSource: 'extractor', citExtractor };
}

/** One line describing a plan, for the page. */
export function describePlan(plan: WeightPlan): string {
  const c = plan.generator.config;
  const width = c.widthMultiplier === 1 ? 'full width' : `width × ${c.widthMultiplier}`;
  const files = [...new Set([plan.generator.file.name, plan.citExtractor?.file.name].filter(Boolean))].join(' + ');
  const cit = {
    extractor: ', with CIT extractor',
    'demo-statistics': ", with the demo's line-art statistics as CIT features",
    none: ', no CIT features',
  }[plan.citSource];
  const kind = plan.generator.format === 'checkpoint' ? ' (training checkpoint)' : '';
  return `${files}${kind}: generator ${c.inputSize} px, ${width}, decoder blocks [${c.decoderLayers.join(', ')}]${cit}`;
}
