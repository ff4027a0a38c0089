import type { Command } from 'commander';
import { initBackend } from '../../node/backend.js';
import { TRAIN_DEFAULTS, trainCommand, type TrainCommandOptions } from '../../node/train_command.js';
import type { ProgressMode } from '../../node/train.js';
import { DEFAULT_MAX_PIXELS } from '../../node/image.js';
import { nameOptions } from '../errors.js';
import { integer, numberList, oneOf, pixelCount, positiveNumber } from '../options.js';

interface TrainCliOptions {
  data?: string;
  size?: number;
  batch?: number;
  epochs?: number;
  twoStepEpoch?: number;
  warmupEpochs?: number;
  brightnessEpoch?: number;
  citCvtWeight?: [number, number];
  out: string;
  resume?: boolean;
  lr?: number;
  seed?: number;
  checkpointEvery?: number;
  layers?: [number, number, number, number];
  widthMultiplier?: number;
  cit: boolean;
  citWeights?: string;
  init?: string[];
  bn: boolean;
  recompute?: boolean;
  limit?: number;
  progress?: ProgressMode;
  skipMissing?: boolean;
  maxPixels?: number;
}

const progressMode = oneOf<ProgressMode>('--progress', ['auto', 'bar', 'lines']);

/** `tag2pix train`: trains Tag2Pix with the two-step curriculum, resumable. */
export function registerTrainCommand(program: Command): void {
  const d = TRAIN_DEFAULTS;
  const command = program
    .command('train')
    .description('Train the Tag2Pix generator and discriminator (two-step curriculum, resumable checkpoints)')
    .option('--data <path>', 'dataset: reference layout folder, or manifest folder/file (see docs/data.md)')
    .requiredOption('--out <dir>', 'run folder: checkpoint, log.jsonl, loss-curve.png, samples/')
    .option('--size <px>', `image size, a multiple of 16 (default ${d.size})`, integer('--size', 32))
    .option('--batch <n>', `batch size (default ${d.batch})`, integer('--batch', 1))
    .option('--epochs <n>', `epochs to train; with --resume, a new total (default ${d.epochs})`, integer('--epochs', 1))
    .option('--two-step-epoch <n>', `first epoch (counted from 1) with the classification losses; 0 = from the start (default ${d.twoStepEpoch})`, integer('--two-step-epoch', 0))
    .option('--warmup-epochs <n>', `first epochs train G alone on the reconstruction loss, without D (default ${d.warmupEpochs}; the published recipe has none)`, integer('--warmup-epochs', 0))
    .option('--brightness-epoch <n>', 'first epoch (counted from 1) of the strong line-art brightness jitter (default: never)', integer('--brightness-epoch', 0))
    .option('--cit-cvt-weight <cit,cvt>', `classification loss weights from --two-step-epoch on (default ${d.citWeight},${d.cvtWeight}; published runs: 40,40)`, numberList('--cit-cvt-weight', 2, false))
    .option('--resume', 'continue the run in --out from its checkpoint, exactly where it stopped')
    .option('--lr <rate>', `Adam learning rate of G and D (default ${d.learningRate})`, positiveNumber('--lr'))
    .option('--seed <n>', `seed of data order and augmentation (default ${d.seed})`, integer('--seed', 0))
    .option('--checkpoint-every <steps>', `also checkpoint every this many steps; 0 = epoch ends only (default ${d.checkpointEvery})`, integer('--checkpoint-every', 0))
    .option('--layers <a,b,c,d>', `bottlenecks in the generator's decoder blocks (default ${d.layers.join(',')})`, numberList('--layers', 4, true))
    .option('--width-multiplier <m>', 'scale every channel count of G and D (default 1; the published weights need 1)', positiveNumber('--width-multiplier'))
    .option('--cit-weights <file>', "the pretrained CIT extractor (the CIT network's model.pth or a .safetensors export)")
    .option('--no-cit', 'train a generator without the CIT feature path (no CIT extractor needed)')
    .option('--init <paths...>', 'starting weights for G and/or D (e.g. the official tag2pix_256.pkl, or .safetensors)')
    .option('--no-bn', 'no BatchNorm in the generator (the published 512 px model)')
    .option('--recompute', 'recompute each bottleneck in the backward pass: same results, far less memory, 10-20% slower steps (default on wasm when size² × batch × width-multiplier exceeds 65,536, e.g. 256 px at batch 2)')
    .option('--no-recompute', 'keep every activation for the backward pass (default on tensorflow and cpu)')
    .option('--limit <n>', 'use at most this many samples (quick runs)', integer('--limit', 1))
    .option('--progress <mode>', 'auto (bar on a terminal, lines otherwise), bar or lines', progressMode)
    .option('--skip-missing', 'leave out dataset entries whose image files are missing (default: they are an error)')
    .option(
      '--max-pixels <n>',
      `largest training image accepted, in pixels (default ${DEFAULT_MAX_PIXELS} = 4096x4096); larger ones are skipped`,
      pixelCount('--max-pixels'),
    )
    .addHelpText(
      'after',
      '\nExamples:\n' +
        '  tag2pix train --data data/danbooru --cit-weights model.pth --size 256 --batch 4 --epochs 30 \\\n' +
        '      --two-step-epoch 10 --cit-cvt-weight 40,40 --out runs/x\n' +
        '  tag2pix train --out runs/x --resume\n' +
        'Ctrl-C stops after the current step with a checkpoint. See docs/training.md.',
    )
    .action(async (opts: TrainCliOptions, cmd: Command) => {
      const globals = cmd.optsWithGlobals<{ backend?: string }>();
      const report = await initBackend(globals.backend);
      if (report.backend === 'cpu') {
        console.error('tag2pix: training on the cpu backend is slow; install @tensorflow/tfjs-node for real runs.');
      }
      if (report.webgpuAdapter) {
        console.error(
          `tag2pix: webgpu on ${report.webgpuAdapter.description}` +
            (report.webgpuAdapter.software ? ' (a software renderer: correct, but slower than wasm)' : ''),
        );
      }
      const controller = new AbortController();
      const onSigint = () => {
        if (controller.signal.aborted) process.exit(130);
        console.error('\ntag2pix: stopping after this step (Ctrl-C again to quit at once)…');
        controller.abort();
      };
      process.on('SIGINT', onSigint);
      const options: TrainCommandOptions = {
        out: opts.out,
        resume: opts.resume,
        data: opts.data,
        size: opts.size,
        batch: opts.batch,
        epochs: opts.epochs,
        twoStepEpoch: opts.twoStepEpoch,
        warmupEpochs: opts.warmupEpochs,
        brightnessEpoch: opts.brightnessEpoch === undefined ? undefined : opts.brightnessEpoch || null,
        citWeight: opts.citCvtWeight?.[0],
        cvtWeight: opts.citCvtWeight?.[1],
        learningRate: opts.lr,
        seed: opts.seed,
        checkpointEvery: opts.checkpointEvery,
        layers: opts.layers,
        widthMultiplier: opts.widthMultiplier,
        cit: opts.cit,
        citWeights: opts.citWeights,
        init: opts.init,
        batchNorm: opts.bn,
        recompute: opts.recompute,
        limit: opts.limit,
        progress: opts.progress,
        skipMissing: opts.skipMissing,
        maxPixels: opts.maxPixels,
        // Progress lines and messages on stderr, the result on stdout.
        print: (line) => console.error(line),
        signal: controller.signal,
      };
      try {
        const result = await trainCommand(options);
        console.log(
          result.reason === 'finished'
            ? `tag2pix: trained ${result.epochsCompleted} epochs (${result.globalStep} steps); checkpoint ${result.checkpoint}`
            : `tag2pix: stopped after ${result.globalStep} steps; continue with --resume`,
        );
      } finally {
        process.off('SIGINT', onSigint);
      }
    });
  nameOptions(command, { learningRate: '--lr', citWeight: '--cit-cvt-weight', cvtWeight: '--cit-cvt-weight', batchNorm: '--no-bn' });
}
