import { Option, type Command } from 'commander';
import { CLOSE_UP_PLACEMENTS, DEMO_DEFAULTS as D, DEMO_QUICK, runDemo, type DemoOptions } from '../../demo/index.js';
import { DECODER_BLOCK_KINDS as BLOCKS, type DecoderBlockKind } from '../../layers/ablation_decoder_block.js';
import { checkRegionWeights, type RegionWeights } from '../../data/synth/pixel_weights.js';
import { borderFraction, integer, oneOf, positiveNumber as positive, probability } from '../options.js';

interface DemoCliOptions {
  out: string;
  size: number;
  trainCount: number;
  testCount: number;
  batch: number;
  epochs: number;
  warmupEpochs: number;
  twoStepEpoch: number;
  width: number;
  dWidth?: number;
  dBlocks: string;
  budget: number;
  decoderLayers: string;
  decoderBlock: DecoderBlockKind;
  lr: number;
  lrDecay: boolean;
  lrRamp: number;
  seReduction: number;
  extractorSteps: number;
  extractorFeatures: number;
  closeUpShare: number;
  closeUpZoom: string;
  closeUpPlacement: DemoOptions['closeUpPlacement'];
  flipProbability: number;
  closeUpBorder: number;
  regionWeights: RegionWeights;
  tagGuideSteps: number;
  tagGuideWeight: number;
  tagEncoderWidth: number;
  trainingData: DemoOptions['trainingData'];
  colorsPerLineArt: number;
  classificationWeight: number;
  palette: DemoOptions['palette'];
  seed: number;
  quick?: boolean;
}

/** The value of the flag's name before 0.2.0, when given. */
function legacyColorsPerLineArt(opts: DemoCliOptions): number | undefined {
  return (opts as unknown as Record<string, number | undefined>)['coloursPerLineArt']; // keep-spelling: commander's key of the old flag
}

/** `--region-weights eyes=10,bow=5` as region weights; `none`: every pixel the same. */
function parseRegionWeights(value: string): RegionWeights {
  const flag = '--region-weights';
  if (value.trim() === 'none') return {};
  const weights: Record<string, number> = {};
  for (const part of value.split(',')) {
    const match = /^\s*([a-z_]+)\s*=\s*([^\s]+)\s*$/.exec(part);
    if (!match) throw new Error(`${flag} needs region=weight pairs like eyes=10,bow=5 (or none), got '${value}'`);
    weights[match[1]!] = Number(match[2]);
  }
  checkRegionWeights(weights, flag);
  return weights;
}

/** The CLI form of region weights: `eyes=10,bow=5`, or `none`. */
function formatRegionWeights(weights: RegionWeights): string {
  const parts = Object.entries(weights).map(([region, w]) => `${region}=${w}`);
  return parts.length ? parts.join(',') : 'none';
}

/** `tag2pix demo`: synthetic data → a reduced Tag2Pix trained here → demo-output/ (defaults: DEMO_DEFAULTS). */
export function registerDemoCommand(program: Command): void {
  const blocks = D.discriminatorBlocks;
  program
    .command('demo')
    .description('Train a small Tag2Pix on synthetic characters (about 10 minutes on 2 CPU cores) and write a grid, loss curves and tag accuracy')
    .option('--out <dir>', 'output folder', D.out)
    .option('--size <px>', 'image size (multiple of 16)', integer('--size', 32), D.size)
    .option('--train-count <n>', 'training characters (per epoch with fresh data)', integer('--train-count', 8), D.trainCount)
    .option('--training-data <kind>', 'fresh (new characters every batch) or fixed (the same --train-count characters every epoch)', oneOf('--training-data', ['fresh', 'fixed'] as const), D.trainingData)
    .option('--colors-per-line-art <n>', 'with fresh data: colourings of each line art in a batch', integer('--colors-per-line-art', 1), D.colorsPerLineArt)
    .addOption(new Option('--colours-per-line-art <n>').argParser(integer('--colours-per-line-art', 1)).hideHelp()) // keep-spelling: the flag before 0.2.0
    .option('--test-count <n>', 'held-out characters for the accuracy report', integer('--test-count', 1), D.testCount)
    .option('--batch <n>', 'batch size', integer('--batch', 2), D.batchSize)
    .option('--epochs <n>', 'epochs, warm-up included (the time budget may stop earlier)', integer('--epochs', 1), D.epochs)
    .option('--warmup-epochs <n>', 'first epochs train G alone on the reconstruction loss, without D (0: adversarial from the start)', integer('--warmup-epochs', 0), D.warmupEpochs)
    .option('--two-step-epoch <n>', 'first epoch with the classification losses, counted from 1 (1: from the start)', integer('--two-step-epoch', 0), D.twoStepEpoch)
    .option('--width <m>', 'width multiplier of G', positive('--width'), D.widthMultiplier)
    .option('--tag-encoder-width <m>', "width multiplier of G's CVT encoder (1: the published width)", positive('--tag-encoder-width'), D.tagEncoderWidth)
    .option('--d-width <m>', 'width multiplier of D (default: half of --width)', positive('--d-width'))
    .option('--d-blocks <a,b,c,d+t>', "D's bottlenecks in conv2..conv5, + those after (published: 2,2,2,2+3)", `${blocks.stageBlocks.join(',')}+${blocks.topBlocks}`)
    .option('--budget <seconds>', 'training time budget: stop at the epoch end that would pass it', positive('--budget'), D.trainingBudgetSeconds)
    .option('--decoder-layers <a,b,c,d>', 'bottlenecks per decoder block', D.decoderLayers.join(','))
    .option('--decoder-block <kind>', `decoder block: ${BLOCKS.join(', ')}`, oneOf('--decoder-block', BLOCKS), D.decoderBlock)
    .option('--se-reduction <n>', 'SECat hidden width = bottleneck channels / n', integer('--se-reduction', 1), D.seReduction)
    .option('--extractor-steps <n>', 'steps that pretrain the synthetic CIT extractor before G trains (counted in --budget)', integer('--extractor-steps', 1), D.extractorSteps)
    .option('--extractor-features <n>', "channels of the synthetic CIT extractor's features (G's CIT input)", integer('--extractor-features', 1), D.extractorFeatures)
    .option('--close-up-share <p>', "share of each batch's line arts drawn as close-ups (0 to 1)", probability('--close-up-share'), D.closeUpShare)
    .option('--close-up-zoom <min,max>', "range of the close-ups' zoom (1: the full figure's scale)", D.closeUpZoom.join(','))
    .option('--close-up-placement <where>', 'centre (the eyes at the middle of the image) or anywhere (the eyes or the bow anywhere in its middle half)', oneOf('--close-up-placement', CLOSE_UP_PLACEMENTS), D.closeUpPlacement)
    .option('--flip-probability <p>', 'probability that a training line art is drawn mirrored left to right (0 to 1; published: 0.5)', probability('--flip-probability'), D.flipProbability)
    .option('--close-up-border <fraction>', "width of the close-ups' border that G's reconstruction loss leaves out, as a fraction of the image side (0: none)", borderFraction('--close-up-border'), D.closeUpBorder)
    .addOption(
      new Option('--region-weights <region=w,…>', "weights of regions in G's reconstruction loss, like eyes=10,bow=5 (none: every pixel the same, as published)")
        .argParser(parseRegionWeights)
        .default(D.regionWeights, formatRegionWeights(D.regionWeights)),
    )
    .option('--tag-guide-steps <n>', "steps that pretrain a colour-tag classifier whose loss on G's output joins G's warm-up loss (0: off; counted in --budget)", integer('--tag-guide-steps', 0), D.tagGuideSteps)
    .option('--tag-guide-weight <w>', "weight of the tag classifier's loss beside 1000 x L1", positive('--tag-guide-weight'), D.tagGuideWeight)
    .option('--lr <rate>', 'Adam learning rate (published: 2e-4)', positive('--lr'), D.learningRate)
    .option('--no-lr-decay', 'keep the learning rate constant (default: lower it linearly over the second half of the epochs that fit the budget)')
    .option('--lr-ramp <steps>', 'steps over which the learning rate rises linearly to --lr at the start (0: none)', integer('--lr-ramp', 0), D.learningRateRamp)
    .option('--classification-weight <w>', 'CIT/CVT loss weight after the two-step epoch', positive('--classification-weight'), D.classificationWeight)
    .option('--palette <name>', 'demo (a few colours per family) or full (every colour tag)', oneOf('--palette', ['demo', 'full'] as const), D.palette)
    .option('--seed <n>', 'seed', integer('--seed', 0), D.seed)
    .option('--quick', `a smoke run of about a minute (${DEMO_QUICK.trainCount} characters, ${DEMO_QUICK.epochs} epochs: warm-up, then adversarial)`)
    .action(async (opts: DemoCliOptions, cmd: Command) => {
      const layers = opts.decoderLayers.split(',').map((v) => Number(v.trim()));
      if (layers.length !== 4 || layers.some((n) => !Number.isInteger(n) || n < 1)) {
        throw new Error(`--decoder-layers needs four positive integers like 1,1,1,1, got '${opts.decoderLayers}'`);
      }
      const dBlocks = /^(\d+),(\d+),(\d+),(\d+)\+(\d+)$/.exec(opts.dBlocks.replace(/\s+/g, ''));
      if (!dBlocks || dBlocks.slice(1, 5).some((n) => Number(n) < 1)) {
        throw new Error(`--d-blocks needs four positive counts and the count after them, like 1,1,1,1+0 or 2,2,2,2+3, got '${opts.dBlocks}'`);
      }
      const zoom = opts.closeUpZoom.split(',').map((v) => Number(v.trim()));
      if (zoom.length !== 2 || !(zoom[0]! >= 1 && zoom[1]! >= zoom[0]!)) {
        throw new Error(`--close-up-zoom needs two numbers min,max with 1 <= min <= max, like 1,3.5, got '${opts.closeUpZoom}'`);
      }
      const options: DemoOptions = {
        out: opts.out,
        size: opts.size,
        trainCount: opts.trainCount,
        testCount: opts.testCount,
        batchSize: opts.batch,
        epochs: opts.epochs,
        warmupEpochs: opts.warmupEpochs,
        twoStepEpoch: opts.twoStepEpoch,
        widthMultiplier: opts.width,
        discriminatorWidth: opts.dWidth,
        discriminatorBlocks: {
          stageBlocks: dBlocks.slice(1, 5).map(Number) as [number, number, number, number],
          topBlocks: Number(dBlocks[5]),
        },
        trainingBudgetSeconds: opts.budget,
        decoderLayers: layers as [number, number, number, number],
        decoderBlock: opts.decoderBlock,
        learningRate: opts.lr,
        learningRateDecay: opts.lrDecay,
        learningRateRamp: opts.lrRamp,
        seReduction: opts.seReduction,
        extractorSteps: opts.extractorSteps,
        extractorFeatures: opts.extractorFeatures,
        closeUpShare: opts.closeUpShare,
        closeUpZoom: zoom as [number, number],
        closeUpPlacement: opts.closeUpPlacement,
        flipProbability: opts.flipProbability,
        closeUpBorder: opts.closeUpBorder,
        regionWeights: opts.regionWeights,
        tagGuideSteps: opts.tagGuideSteps,
        tagGuideWeight: opts.tagGuideWeight,
        tagEncoderWidth: opts.tagEncoderWidth,
        trainingData: opts.trainingData,
        colorsPerLineArt: legacyColorsPerLineArt(opts) ?? opts.colorsPerLineArt,
        classificationWeight: opts.classificationWeight,
        palette: opts.palette,
        seed: opts.seed,
        ...(opts.quick ? DEMO_QUICK : {}),
        backend: (cmd.optsWithGlobals() as { backend?: string }).backend,
        // Progress on stderr, the results (accuracy, L1, files written) on stdout.
        print: (line) => console.error(line),
        printResult: (line) => console.log(line),
      };
      await runDemo(options);
    });
}
