// The demo's configuration: every default in one place (DEMO_DEFAULTS, which the CLI reads), the
// colours it trains on, and the tag combinations it holds out of training.
import type { CharacterSpec } from '../data/synth/character.js';
import { FAMILY_TAGS, type TagFamily } from '../data/synth/palette.js';
import type { DecoderBlockKind } from '../layers/ablation_decoder_block.js';
import type { Tag2PixDiscriminatorConfig } from '../models/discriminator.js';
import type { ProgressMode } from '../node/train.js';
import type { RegionWeights } from '../data/synth/pixel_weights.js';
import { CLOSE_UP_ZOOM, type CloseUpPlacement } from './sources.js';

/**
 * The colours the demo trains on: a subset of each family, far apart, so a CPU run of a few
 * minutes can learn them. `--palette full` uses every colour tag of {@link FAMILY_TAGS}.
 */
export const DEMO_PALETTE: Readonly<Record<TagFamily, readonly string[]>> = {
  hair: ['blonde_hair', 'brown_hair', 'black_hair', 'blue_hair', 'purple_hair', 'pink_hair', 'green_hair', 'red_hair', 'white_hair', 'aqua_hair'],
  eyes: ['blue_eyes', 'red_eyes', 'green_eyes', 'purple_eyes', 'yellow_eyes', 'brown_eyes'],
  shirt: FAMILY_TAGS.shirt,
  skirt: ['black_skirt', 'blue_skirt', 'red_skirt', 'green_skirt', 'white_skirt', 'pink_skirt'],
  dress: FAMILY_TAGS.dress,
  hat: FAMILY_TAGS.hat,
  bow: ['red_bow', 'blue_bow', 'white_bow', 'yellow_bow', 'black_bow'],
  background: ['white_background', 'blue_background', 'pink_background', 'yellow_background', 'black_background', 'green_background'],
};

/** D's bottlenecks per stage and after conv5, as {@link buildTag2PixDiscriminator} takes them. */
export type DiscriminatorBlocks = Required<Pick<Tag2PixDiscriminatorConfig, 'stageBlocks' | 'topBlocks'>>;

/** Options of {@link runDemo}; every field defaults to {@link DEMO_DEFAULTS}. */
export interface DemoOptions {
  /** Output folder. */
  out?: string;
  /** Image size. */
  size?: number;
  /** Training characters per epoch. */
  trainCount?: number;
  /**
   * `fresh`: new characters for every batch, so no line art repeats; `fixed`: the same
   * `trainCount` characters every epoch.
   */
  trainingData?: 'fresh' | 'fixed';
  /** With `fresh` data, colourings of each line art in a batch. */
  colorsPerLineArt?: number;
  /** Held-out test characters for the accuracy report. */
  testCount?: number;
  /** Batch size (16: per image the fastest of 8, 16 and 32 on a 2-core machine). */
  batchSize?: number;
  /**
   * Epochs over the training set, warm-up included (30 warm-up and 2 adversarial). The time budget
   * may stop earlier: on 2 CPU cores (wasm on two threads: about 33 s of extractor pretraining,
   * then 16-17 s a warm-up epoch and 36 s an adversarial one) it ends after the first adversarial
   * epoch (docs/results.md, run 5).
   */
  epochs?: number;
  /**
   * Epochs at the start in which G trains on the reconstruction loss alone, without D (0 =
   * adversarial from the start, as published). Hair colours only start to follow their tags after
   * several hundred generator steps, and a warm-up step costs under half an adversarial one.
   */
  warmupEpochs?: number;
  /**
   * First epoch with the classification losses, counted from 1 as `tag2pix train`'s
   * `--two-step-epoch` (1: from the start; 2 makes epoch 1 segmentation only).
   */
  twoStepEpoch?: number;
  /** CIT/CVT classification weight from `twoStepEpoch` on. */
  classificationWeight?: number;
  /** Channel width of G relative to the published model. */
  widthMultiplier?: number;
  /**
   * Width of G's CVT encoder alone: the published width, so the 64-value tag embedding is not
   * what limits a narrow generator.
   */
  tagEncoderWidth?: number;
  /** Channel width of D (default half of G's): the demo's D only needs to be a critic. */
  discriminatorWidth?: number;
  /**
   * D's bottlenecks per stage and after conv5 (published `[2, 2, 2, 2]` and 3). The demo's critic
   * has one per stage and none after conv5, which makes an adversarial step about 30 % cheaper.
   */
  discriminatorBlocks?: DiscriminatorBlocks;
  /**
   * Training time budget in seconds, the CIT extractor's pretraining included: training stops at
   * the end of the epoch after which another epoch would pass it, so the demo ends in about 10
   * minutes on slow machines too (a slow machine trains fewer steps).
   */
  trainingBudgetSeconds?: number;
  /**
   * Steps of batch `batchSize` that pretrain the synthetic CIT extractor (region coverage of every
   * S/8 cell and the CIT tags; see `buildSynthCitExtractor`) before G trains; it is frozen after.
   * Its time counts in the training budget.
   */
  extractorSteps?: number;
  /** Channels of the synthetic CIT extractor's features, G's `citFeatures`. */
  extractorFeatures?: number;
  /**
   * Share of each training batch's line arts drawn as close-ups (zoom `closeUpZoom`, placed as
   * `closeUpPlacement` says), for G and for the extractor's pretraining; the test characters
   * stay full figures.
   */
  closeUpShare?: number;
  /** Range of the close-ups' zoom, drawn uniformly per line art (1: the full figure's scale). */
  closeUpZoom?: [number, number];
  /**
   * `'centre'`: the eyes at the middle of the image; `'anywhere'`: the eyes or the bow anywhere
   * in its middle half (see `freshSynthSource`). With `'centre'` the generator learns eye colours
   * for the centre only, with `'anywhere'` none in the budget (docs/results.md, seventh round).
   */
  closeUpPlacement?: CloseUpPlacement;
  /**
   * Probability that a training line art is drawn mirrored left to right, for G and for the
   * extractor's pretraining (the published training flips with 0.5; the demo's default 0: it did
   * not remove seed 5's corner patch, docs/results.md, tenth round); the test characters are
   * drawn as sampled.
   */
  flipProbability?: number;
  /**
   * Width of the close-ups' border, as a fraction of the image side, that G's reconstruction
   * loss leaves out (a full figure's border is background, a close-up's holds hair, hats and
   * bows). Default 0: with 0.125 seed 5's corner patch went, but seed 1 got a patch above every
   * head and missed on bows (docs/results.md, tenth round).
   */
  closeUpBorder?: number;
  /**
   * Weights of regions in G's reconstruction loss, from the exact masks of the synthetic
   * characters (`regionPixelWeights`; a region not named weighs 1; `{}`: every pixel counts the
   * same, as published). A departure from the published recipe: eyes (1 % of the pixels) and bows
   * (0.35 %) are too small to learn from their share of the L1 in the budget, and hair, skirts and
   * dresses learn their colours sooner with twice theirs (docs/results.md, eighth round); the
   * background at 0.75 lets the other regions learn sooner without the noise that 0.5 brings
   * (ninth round). A close-up's extra weights are divided by its zoom (see
   * `regionPixelWeights`). Default `{ hair: 2, eyes: 10, bow: 30, skirt: 2, dress: 2, background: 0.75 }`.
   */
  regionWeights?: RegionWeights;
  /**
   * Steps of batch `batchSize` that pretrain a colour-tag classifier (`buildSynthTagClassifier`)
   * on true colourings before G trains; frozen after, its CVT cross-entropy on G's output joins
   * G's warm-up loss (weight `tagGuideWeight`), as D's CVT classification term does in the
   * published adversarial loss. Its time counts in the budget. 0 (the default): off. A research
   * option: with 3,000 steps pretrained outside the budget it lifted held-out eyes from 12.5 % to
   * 28.1 % (docs/results.md).
   */
  tagGuideSteps?: number;
  /** Weight of the tag guide's cross-entropy beside `λ_rec·L1` (λ_rec = 1,000). Default 300. */
  tagGuideWeight?: number;
  /** Bottlenecks per decoder block (published [12, 8, 5, 5]). */
  decoderLayers?: [number, number, number, number];
  /**
   * SECat hidden width is bottleneck channels / `seReduction` (4: the published 16 leaves the
   * demo's narrow decoder 4–16 hidden units per SECat; docs/results.md, run C).
   */
  seReduction?: number;
  /** Decoder block kind. */
  decoderBlock?: DecoderBlockKind;
  /**
   * Adam learning rate of G and D (2e-3: ten times the published 2e-4, which learns too slowly
   * for a run of a few hundred steps; see docs/results.md).
   */
  learningRate?: number;
  /**
   * Lower the learning rate linearly over the second half of the epochs that fit the budget
   * (planned after the first two epochs, see `decayFactor`), e.g. ×0.75, ×0.5, ×0.25 over the
   * last three of six.
   */
  learningRateDecay?: boolean;
  /**
   * Steps over which the learning rate rises linearly from 1/n of its value to all of it at the
   * start of training (0, the default: none). Tried against the edge patches, whose noise blocks
   * form in the first epoch: 128 steps removed seed 4's patch but not seed 5's; centring the CIT
   * extractor's features removed both (docs/results.md, eleventh round).
   */
  learningRateRamp?: number;
  /** `demo` (a few far-apart colours per family) or `full` (every colour tag). */
  palette?: 'demo' | 'full';
  /** Seed of the data and the initial weights: the same seed gives the same run. */
  seed?: number;
  /** Backend (default: the fastest available). */
  backend?: string;
  /** How training shows its progress (default `'auto'`: a bar on a terminal, else lines). */
  progress?: ProgressMode;
  /** Where progress lines and messages go (default `console.log`; the CLI sends them to stderr). */
  print?: (line: string) => void;
  /**
   * Where the results go: the tag accuracy tables, the L1 summary and the files written (default:
   * `print`; the CLI sends them to stdout, apart from the progress).
   */
  printResult?: (line: string) => void;
  /** Skip the Figure-8 grid and per-epoch images (for tests). */
  skipImages?: boolean;
}

/** The options that have a fixed default. */
export type DemoDefaults = Required<Omit<DemoOptions, 'discriminatorWidth' | 'backend' | 'progress' | 'print' | 'printResult' | 'skipImages'>>;

/** Every option set: the defaults, D's width (half of G's unless given), and how to run. */
export type DemoConfig = DemoDefaults & Pick<DemoOptions, 'backend' | 'progress' | 'print' | 'printResult' | 'skipImages'> & { discriminatorWidth: number };

/** The demo's defaults: what `npm run demo` and `tag2pix demo` run (about 10 minutes on 2 CPU cores). */
export const DEMO_DEFAULTS: Readonly<DemoDefaults> = {
  out: 'demo-output',
  size: 64,
  trainCount: 1024,
  trainingData: 'fresh',
  colorsPerLineArt: 1,
  testCount: 128,
  batchSize: 16,
  epochs: 30 + 2,
  warmupEpochs: 30,
  twoStepEpoch: 1,
  classificationWeight: 1,
  widthMultiplier: 0.25,
  tagEncoderWidth: 1,
  discriminatorBlocks: { stageBlocks: [1, 1, 1, 1], topBlocks: 0 },
  trainingBudgetSeconds: 560,
  decoderLayers: [1, 1, 1, 1],
  extractorSteps: 300,
  extractorFeatures: 32,
  closeUpShare: 0.25,
  closeUpZoom: [...CLOSE_UP_ZOOM],
  closeUpPlacement: 'centre',
  flipProbability: 0,
  closeUpBorder: 0,
  regionWeights: { hair: 2, eyes: 10, bow: 30, skirt: 2, dress: 2, background: 0.75 },
  tagGuideSteps: 0,
  tagGuideWeight: 300,
  seReduction: 4,
  decoderBlock: 'secat',
  learningRate: 2e-3,
  learningRateDecay: true,
  learningRateRamp: 0,
  palette: 'demo',
  seed: 1,
};

/** What `--quick` changes: a smoke run of about a minute (a warm-up epoch, then an adversarial one). */
export const DEMO_QUICK: Readonly<DemoOptions> = { trainCount: 64, testCount: 16, epochs: 2, warmupEpochs: 1, twoStepEpoch: 1, extractorSteps: 20 };

/** The options with every default filled in (D's width: half of G's unless given). */
export function resolveDemoOptions(options: DemoOptions = {}): DemoConfig {
  const given = Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)) as DemoOptions;
  const d = DEMO_DEFAULTS;
  const merged = {
    ...d,
    discriminatorBlocks: { stageBlocks: [...d.discriminatorBlocks.stageBlocks], topBlocks: d.discriminatorBlocks.topBlocks },
    decoderLayers: [...d.decoderLayers],
    closeUpZoom: [...d.closeUpZoom],
    regionWeights: { ...d.regionWeights },
    ...given,
  } as DemoDefaults & DemoOptions;
  return { ...merged, discriminatorWidth: merged.discriminatorWidth ?? merged.widthMultiplier / 2 };
}

/** The colours the demo judges and trains with: {@link DEMO_PALETTE}, or every colour tag. */
export function demoPalette(palette: DemoConfig['palette']): Readonly<Record<TagFamily, readonly string[]>> {
  return palette === 'full' ? FAMILY_TAGS : DEMO_PALETTE;
}

/** Rows of the Figure-8 grid: tag combinations; the `unseen` ones never occur in training. */
export const DEMO_GRID_ROWS: ReadonlyArray<{ colors: Partial<Record<TagFamily, string>>; unseen: boolean }> = [
  { colors: { hair: 'blonde_hair', eyes: 'blue_eyes', background: 'white_background', shirt: 'white_shirt', skirt: 'blue_skirt', dress: 'blue_dress' }, unseen: false },
  { colors: { hair: 'black_hair', eyes: 'red_eyes', background: 'pink_background', shirt: 'black_shirt', skirt: 'red_skirt', dress: 'black_dress' }, unseen: false },
  { colors: { hair: 'pink_hair', eyes: 'green_eyes', background: 'blue_background', shirt: 'pink_shirt', skirt: 'white_skirt', dress: 'pink_dress' }, unseen: false },
  { colors: { hair: 'green_hair', eyes: 'yellow_eyes', background: 'pink_background', shirt: 'red_shirt', skirt: 'black_skirt', dress: 'red_dress' }, unseen: true },
  { colors: { hair: 'blue_hair', eyes: 'red_eyes', background: 'yellow_background', shirt: 'white_shirt', skirt: 'green_skirt', dress: 'white_dress' }, unseen: true },
  { colors: { hair: 'red_hair', eyes: 'purple_eyes', background: 'black_background', shirt: 'blue_shirt', skirt: 'pink_skirt', dress: 'purple_dress' }, unseen: true },
];

/** Hair/background and hair/eye pairs held out of training (those of the unseen grid rows). */
export function heldOutPairs(): Array<[string, string]> {
  return DEMO_GRID_ROWS.filter((r) => r.unseen).flatMap((r) => [
    [r.colors.hair!, r.colors.background!],
    [r.colors.hair!, r.colors.eyes!],
  ]);
}

/** Whether a character has one of the held-out tag pairs. */
export function isHeldOut(spec: CharacterSpec, pairs: ReadonlyArray<[string, string]>): boolean {
  const tags = new Set(Object.values(spec.colors));
  return pairs.some(([a, b]) => tags.has(a) && tags.has(b));
}

