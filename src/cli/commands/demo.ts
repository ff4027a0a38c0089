import type { Command } from 'commander';
import { DECODER_BLOCK_KINDS as BLOCKS, type DecoderBlockKind } from '../../layers/ablation_decoder_block.js';
import {
  DEMO_ADVERSARIAL_EPOCHS,
  DEMO_COLOURS_PER_LINE_ART,
  DEMO_DISCRIMINATOR_BLOCKS,
  DEMO_SE_REDUCTION,
  DEMO_WARMUP_EPOCHS,
  runDemo,
  type DemoOptions,
} from '../../node/demo.js';
import { integer, positiveNumber as positive } from '../options.js';


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
  decoderBlock: string;
  lr: number;
  lrDecay: boolean;
  seReduction: number;
  tagEncoderWidth?: number;
  trainingData: string;
  coloursPerLineArt: number;
  classificationWeight: number;
  palette: string;
  seed: number;
  quick?: boolean;
}

/** `tag2pix demo`: synthetic data → a reduced Tag2Pix trained here → demo-output/. */
export function registerDemoCommand(program: Command): void {
  program
    .command('demo')
    .description('Train a small Tag2Pix on synthetic characters (about 10 minutes on 2 CPU cores) and write a grid, loss curves and tag accuracy')
    .option('--out <dir>', 'output folder', 'demo-output')
    .option('--size <px>', 'image size (multiple of 16)', integer('--size', 32), 64)
    .option('--train-count <n>', 'training characters (per epoch with fresh data)', integer('--train-count', 8), 1024)
    .option('--training-data <kind>', 'fresh (new characters every batch) or fixed (the same --train-count characters every epoch)', 'fresh')
    .option('--colours-per-line-art <n>', 'with fresh data: colourings of each line art in a batch', integer('--colours-per-line-art', 1), DEMO_COLOURS_PER_LINE_ART)
    .option('--test-count <n>', 'held-out characters for the accuracy report', integer('--test-count', 1), 128)
    .option('--batch <n>', 'batch size', integer('--batch', 2), 16)
    .option('--epochs <n>', 'epochs, warm-up included (the time budget may stop earlier)', integer('--epochs', 1), DEMO_WARMUP_EPOCHS + DEMO_ADVERSARIAL_EPOCHS)
    .option('--warmup-epochs <n>', 'first epochs train G alone on the reconstruction loss, without D (0: adversarial from the start)', integer('--warmup-epochs', 0), DEMO_WARMUP_EPOCHS)
    .option('--two-step-epoch <n>', 'first epoch with the classification losses, counted from 1 (1: from the start)', integer('--two-step-epoch', 0), 1)
    .option('--width <m>', 'width multiplier of G', positive('--width'), 0.25)
    .option('--tag-encoder-width <m>', "width multiplier of G's CVT encoder (default: 1, the published width)", positive('--tag-encoder-width'))
    .option('--d-width <m>', 'width multiplier of D (default: half of --width)', positive('--d-width'))
    .option('--d-blocks <a,b,c,d+t>', "D's bottlenecks in conv2..conv5, + those after (published: 2,2,2,2+3)", `${DEMO_DISCRIMINATOR_BLOCKS.stageBlocks.join(',')}+${DEMO_DISCRIMINATOR_BLOCKS.topBlocks}`)
    .option('--budget <seconds>', 'training time budget: stop at the epoch end that would pass it', positive('--budget'), 480)
    .option('--decoder-layers <a,b,c,d>', 'bottlenecks per decoder block', '1,1,1,1')
    .option('--decoder-block <kind>', `decoder block: ${BLOCKS.join(', ')}`, 'secat')
    .option('--se-reduction <n>', 'SECat hidden width = bottleneck channels / n', integer('--se-reduction', 1), DEMO_SE_REDUCTION)
    .option('--lr <rate>', 'Adam learning rate (published: 2e-4)', positive('--lr'), 2e-3)
    .option('--no-lr-decay', 'keep the learning rate constant (default: lower it linearly over the second half of the epochs that fit the budget)')
    .option('--classification-weight <w>', 'CIT/CVT loss weight after the two-step epoch', positive('--classification-weight'), 1)
    .option('--palette <name>', 'demo (a few colours per family) or full (every colour tag)', 'demo')
    .option('--seed <n>', 'seed', integer('--seed', 0), 1)
    .option('--quick', 'a smoke run of about a minute (64 characters, 2 epochs: warm-up, then adversarial)')
    .action(async (opts: DemoCliOptions, cmd: Command) => {
      const layers = opts.decoderLayers.split(',').map((v) => Number(v.trim()));
      if (layers.length !== 4 || layers.some((n) => !Number.isInteger(n) || n < 1)) {
        throw new Error(`--decoder-layers needs four positive integers like 1,1,1,1, got '${opts.decoderLayers}'`);
      }
      if (!BLOCKS.includes(opts.decoderBlock as DecoderBlockKind)) {
        throw new Error(`--decoder-block must be one of ${BLOCKS.join(', ')}, got '${opts.decoderBlock}'`);
      }
      const blocks = /^(\d+),(\d+),(\d+),(\d+)\+(\d+)$/.exec(opts.dBlocks.replace(/\s+/g, ''));
      if (!blocks || blocks.slice(1, 5).some((n) => Number(n) < 1)) {
        throw new Error(`--d-blocks needs four positive counts and the count after them, like 1,1,1,1+0 or 2,2,2,2+3, got '${opts.dBlocks}'`);
      }
      if (opts.trainingData !== 'fresh' && opts.trainingData !== 'fixed') throw new Error(`--training-data must be fresh or fixed, got '${opts.trainingData}'`);
      if (opts.palette !== 'demo' && opts.palette !== 'full') throw new Error(`--palette must be demo or full, got '${opts.palette}'`);
      const options: DemoOptions = {
        out: opts.out,
        size: opts.size,
        trainCount: opts.quick ? 64 : opts.trainCount,
        testCount: opts.quick ? 16 : opts.testCount,
        batchSize: opts.batch,
        epochs: opts.quick ? 2 : opts.epochs,
        warmupEpochs: opts.quick ? 1 : opts.warmupEpochs,
        twoStepEpoch: opts.quick ? 1 : opts.twoStepEpoch,
        widthMultiplier: opts.width,
        discriminatorWidth: opts.dWidth,
        discriminatorBlocks: {
          stageBlocks: blocks.slice(1, 5).map(Number) as [number, number, number, number],
          topBlocks: Number(blocks[5]),
        },
        trainingBudgetSeconds: opts.budget,
        decoderLayers: layers as [number, number, number, number],
        decoderBlock: opts.decoderBlock as DecoderBlockKind,
        learningRate: opts.lr,
        learningRateDecay: opts.lrDecay,
        seReduction: opts.seReduction,
        tagEncoderWidth: opts.tagEncoderWidth,
        trainingData: opts.trainingData,
        coloursPerLineArt: opts.coloursPerLineArt,
        classificationWeight: opts.classificationWeight,
        palette: opts.palette,
        seed: opts.seed,
        backend: (cmd.optsWithGlobals() as { backend?: string }).backend,
      };
      await runDemo(options);
    });
}
