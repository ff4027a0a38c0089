import * as tfl from '@tensorflow/tfjs-layers';
import { ResNetStem } from '../layers/resnet_stem.js';
import { SEResNeXtBottleneck } from '../layers/se_resnext.js';
import type { BatchNormMode } from '../layers/torch_layer.js';
import { checkBatchNormMode, checkKnownOptions, checkPositiveInteger } from '../layers/checks.js';

/** Configuration of {@link buildSEResNeXt50}; every field is optional. */
export interface SEResNeXt50Config {
  /** Side of the square input. Default 256; `null` accepts any size. */
  inputSize?: number | null;
  /** 1 (line art, as the CIT classifier) or 3 (RGB). Default 1. */
  inputChannels?: 1 | 3;
  /** Outputs of the multi-label head (sigmoid). Default 370 (the CITs). */
  numClasses?: number;
  /** Groups of the bottlenecks' 3×3 convs. Default 32 (32×4d). */
  cardinality?: number;
  /** Bottlenecks per stage. Default `[3, 4, 6, 3]` (ResNeXt-50). */
  layers?: [number, number, number, number];
  /**
   * `'auto'` (default): BatchNorm uses running statistics at inference; `'batch-stats'`: always
   * the batch's statistics, as the reference's CIT extractor runs (it is never put in eval mode).
   */
  batchNormMode?: BatchNormMode;
  /** Return the head's logits instead of sigmoid probabilities. Default false. */
  logits?: boolean;
  /** Model name. Default `'se_resnext50'`. */
  name?: string;
}

interface Stage {
  planes: number;
  blocks: number;
  stride: number;
}

function buildTrunk(
  input: tfl.SymbolicTensor,
  stages: Stage[],
  cardinality: number,
  batchNormMode: BatchNormMode,
): tfl.SymbolicTensor {
  let x = new ResNetStem({ name: 'stem', batchNormMode }).apply(input) as tfl.SymbolicTensor;
  stages.forEach((stage, s) => {
    for (let i = 0; i < stage.blocks; i++) {
      // The reference's BottleneckX_Origin: width 2·planes, output 4·planes, SE with 1×1 convs with bias.
      x = new SEResNeXtBottleneck({
        name: `layer${s + 1}.${i}`,
        filters: 4 * stage.planes,
        width: 2 * stage.planes,
        cardinality,
        strides: i === 0 ? stage.stride : 1,
        excitation: 'se-conv',
        batchNormMode,
      }).apply(x) as tfl.SymbolicTensor;
    }
  });
  return x;
}

function checkInputSize(owner: string, size: unknown): void {
  if (size !== null) checkPositiveInteger(owner, 'inputSize', size);
}

/**
 * Builds an SE-ResNeXt-50 (32×4d) multi-label classifier as the Tag2Pix code defines it
 * (`SEResNeXt_Origin`): 7×7 stem, four stages of bottlenecks (width 2·planes, 32 groups, SE with
 * 1×1 convs with bias), global average pool, `fc` Linear and sigmoid. Input `[N, S, S, 1 or 3]`,
 * output `[N, numClasses]`. Layers are named by PyTorch module path (`layer3.5`, `fc`; the stem
 * owns the top-level `conv1`/`bn1`) so a pretrained `model.pth` state dict loads.
 */
export function buildSEResNeXt50(config: SEResNeXt50Config = {}): tfl.LayersModel {
  const owner = 'buildSEResNeXt50';
  const c = {
    inputSize: config.inputSize === undefined ? 256 : config.inputSize,
    inputChannels: config.inputChannels ?? 1,
    numClasses: config.numClasses ?? 370,
    cardinality: config.cardinality ?? 32,
    layers: config.layers ?? ([3, 4, 6, 3] as [number, number, number, number]),
    batchNormMode: config.batchNormMode ?? 'auto',
    logits: config.logits ?? false,
    name: config.name ?? 'se_resnext50',
  };
  checkKnownOptions(owner, config, Object.keys(c));
  checkInputSize(owner, c.inputSize);
  if (c.inputChannels !== 1 && c.inputChannels !== 3) {
    throw new Error(`${owner}: inputChannels must be 1 (line art) or 3 (RGB), got ${String(c.inputChannels)}.`);
  }
  checkPositiveInteger(owner, 'numClasses', c.numClasses);
  checkPositiveInteger(owner, 'cardinality', c.cardinality);
  if (!Array.isArray(c.layers) || c.layers.length !== 4) {
    throw new Error(`${owner}: layers must list 4 stage depths, got ${JSON.stringify(c.layers)}.`);
  }
  c.layers.forEach((n, i) => checkPositiveInteger(owner, `layers[${i}]`, n));
  checkBatchNormMode(owner, c.batchNormMode);

  const input = tfl.input({ shape: [c.inputSize, c.inputSize, c.inputChannels], name: 'image' });
  const stages = [64, 128, 256, 512].map((planes, i) => ({ planes, blocks: c.layers[i], stride: i === 0 ? 1 : 2 }));
  const trunk = buildTrunk(input, stages, c.cardinality, c.batchNormMode);
  const pooled = tfl.layers.globalAveragePooling2d({ name: 'avgpool' }).apply(trunk) as tfl.SymbolicTensor;
  const bound = 1 / Math.sqrt(2048);
  const init = () => tfl.initializers.randomUniform({ minval: -bound, maxval: bound });
  let out = tfl.layers
    .dense({ name: 'fc', units: c.numClasses, kernelInitializer: init(), biasInitializer: init() })
    .apply(pooled) as tfl.SymbolicTensor;
  if (!c.logits) out = tfl.layers.activation({ name: 'classifier', activation: 'sigmoid' }).apply(out) as tfl.SymbolicTensor;
  return tfl.model({ name: c.name, inputs: input, outputs: out });
}

/** Configuration of {@link buildCITExtractor}; every field is optional. */
export interface CITExtractorConfig {
  /** Side of the square line art. Default 256; `null` accepts any size (a multiple of 8 is best). */
  inputSize?: number | null;
  /**
   * `'auto'` (default) uses the running statistics at inference; `'batch-stats'` normalises
   * with each batch's statistics, as the published Tag2Pix code runs its CIT extractor (also at
   * test time). Use `'batch-stats'` to reproduce the published generator's inputs.
   */
  batchNormMode?: BatchNormMode;
  /** Whether its weights train. Default false (frozen, as in Tag2Pix). */
  trainable?: boolean;
  /** Model name. Default `'cit_extractor'`. */
  name?: string;
}

/**
 * Builds the Tag2Pix CIT feature extractor: the SE-ResNeXt-50 classifier cut after `layer2`
 * (the reference's `SEResNeXt_Half`). Input: line art `[N, S, S, 1]` in [0, 1]; output
 * `[N, S/8, S/8, 512]`. Frozen by default. 1,564,784 parameters. Its state-dict keys are the
 * pretrained classifier's (`conv1.weight`, `bn1.*`, `layer1.*`, `layer2.*`; a leading `module.`
 * is stripped by the loader), so load the CIT `model.pth` weights with `{strict: false}` or after
 * dropping `layer3`/`layer4`/`fc`.
 */
export function buildCITExtractor(config: CITExtractorConfig = {}): tfl.LayersModel {
  const owner = 'buildCITExtractor';
  const c = {
    inputSize: config.inputSize === undefined ? 256 : config.inputSize,
    batchNormMode: config.batchNormMode ?? 'auto',
    trainable: config.trainable ?? false,
    name: config.name ?? 'cit_extractor',
  };
  checkKnownOptions(owner, config, Object.keys(c));
  checkInputSize(owner, c.inputSize);
  checkBatchNormMode(owner, c.batchNormMode);
  const input = tfl.input({ shape: [c.inputSize, c.inputSize, 1], name: 'lineArt' });
  const stages = [
    { planes: 64, blocks: 3, stride: 1 },
    { planes: 128, blocks: 4, stride: 2 },
  ];
  const output = buildTrunk(input, stages, 32, c.batchNormMode);
  const model = tfl.model({ name: c.name, inputs: input, outputs: output });
  model.trainable = c.trainable;
  return model;
}
