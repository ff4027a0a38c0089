// `tag2pix train` end to end on a tiny synthetic dataset on disk with tiny real Tag2Pix models.
import { execFile } from 'node:child_process';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { FileFormatError, OptionError, OutputError, Tag2PixError } from '../../src/errors.js';
import { readSafetensors, readSafetensorsMetadata, writeSafetensors } from '../../src/io/safetensors.js';
import { CHECKPOINT_FORMAT } from '../../src/training/checkpoint.js';
import { TRAIN_RUN_MODEL, TRAIN_RUN_SIZE, useTrainRunFixture } from '../helpers/train_run_fixture.js';
import { RUN_FILES, readStepLog } from '../../src/node/train.js';
import { loadColorizer } from '../../src/node/weights.js';
import { trainCommand, type TrainCommandOptions } from '../../src/node/train_command.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const SIZE = TRAIN_RUN_SIZE;
const MODEL = TRAIN_RUN_MODEL;
const fixture = useTrainRunFixture('tag2pix-train-cmd-', 6, 3);

const base = (): TrainCommandOptions => ({
  out: '',
  data: fixture.data,
  size: SIZE,
  batch: 2,
  epochs: 3,
  twoStepEpoch: 2,
  brightnessEpoch: 3,
  citWeight: 40,
  cvtWeight: 40,
  checkpointEvery: 0,
  seed: 5,
  limit: 2, // one step per epoch keeps this test short on cpu (mid-epoch resume: run.test.ts)
  init: fixture.init,
  ...MODEL,
  progress: 'silent',
});

const losses = (records: Awaited<ReturnType<typeof readStepLog>>) =>
  records.map((r) => ({ step: r.globalStep, stage: r.stage, d: r.discriminator, g: r.generator }));

describe('trainCommand', () => {
  it('a 3-epoch run stopped after epoch 1 and resumed gives the same losses as an uninterrupted one', async () => {
    const straight = path.join(fixture.root, 'straight');
    const a = await trainCommand({ ...base(), out: straight });
    expect(a.reason).toBe('finished');
    const expected = losses(await readStepLog(path.join(straight, RUN_FILES.log)));
    expect(expected.map((r) => r.stage)).toEqual(['segmentation', 'colourisation', 'brightness']);

    const split = path.join(fixture.root, 'split');
    await trainCommand({ ...base(), out: split, epochs: 1 });
    expect(await readStepLog(path.join(split, RUN_FILES.log))).toHaveLength(1);
    const resumed = await trainCommand({ out: split, resume: true, epochs: 3, progress: 'silent' });
    expect(resumed.steps.map((s) => s.globalStep)).toEqual([1, 2]);
    expect(losses(await readStepLog(path.join(split, RUN_FILES.log)))).toEqual(expected);

    for (const e of ['001', '002', '003']) {
      await expect(fs.stat(path.join(split, RUN_FILES.samples, `epoch-${e}.png`))).resolves.toBeTruthy();
    }
    await expect(fs.stat(path.join(split, RUN_FILES.lossCurve))).resolves.toBeTruthy();
  });

  it('refuses to overwrite a run, and to resume where there is none', async () => {
    const out = path.join(fixture.root, 'straight');
    await expect(trainCommand({ ...base(), out })).rejects.toThrow(/already holds a training run .* pass resume to continue it or choose another out\./);
    await expect(trainCommand({ out: path.join(fixture.root, 'nothing'), resume: true })).rejects.toThrow(/No checkpoint at .*start without resume or point out at the run folder/);
  });

  it('asks for the CIT extractor unless cit: false, in API terms', async () => {
    await expect(trainCommand({ ...base(), out: path.join(fixture.root, 'cit'), cit: true })).rejects.toThrow(/pass citWeights .* or cit: false to train/);
  });
});

describe('trainCommand refuses a bad run before building anything, and leaks nothing (issue 17)', () => {
  /** Runs a trainCommand that must fail; checks that it leaves no tensor behind. */
  async function refused(options: TrainCommandOptions): Promise<Error> {
    const before = tf.memory().numTensors;
    const err = await trainCommand(options).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(Tag2PixError);
    expect(tf.memory().numTensors, 'tensors left behind').toBe(before);
    return err as Error;
  }

  it('a missing dataset and a batch larger than the dataset (items 14, 7)', async () => {
    const missing = await refused({ ...base(), out: path.join(fixture.root, 'no-data'), data: path.join(fixture.root, 'nowhere') });
    expect(missing.message).toMatch(/Dataset '.*nowhere' \(data\) does not exist/);
    const big = await refused({ ...base(), out: path.join(fixture.root, 'big-batch'), batch: 8, limit: undefined });
    expect(big).toBeInstanceOf(OptionError);
    expect(big.message).toMatch(/^batch 8 is larger than the dataset \(6 samples in '.*data'\); lower batch to at most 6\./);
    await expect(fs.stat(path.join(fixture.root, 'big-batch', RUN_FILES.checkpoint))).rejects.toThrow(/ENOENT/);
  });

  it('a width multiplier that leaves no channels, and other values out of range (item 8)', async () => {
    for (const [option, value, message] of [
      ['widthMultiplier', 0.001, /^widthMultiplier must be from 0\.0625 to 4 .* got '0\.001'\./],
      ['widthMultiplier', 100, /^widthMultiplier must be from 0\.0625 to 4/],
      ['size', 4096, /^size must be a multiple of 16 from 32 to 1024, got '4096'\./],
      ['layers', [1, 0, 1, 1], /^layers must be 4 integers from 1 to 64/],
      ['seed', -1, /^seed must be an integer >= 0, got '-1'\./],
      ['learningRate', Number.NaN, /^learningRate must be a number > 0, got 'NaN'\./],
    ] as const) {
      const err = await refused({ ...base(), out: path.join(fixture.root, `range-${option}`), [option]: value });
      expect(err).toBeInstanceOf(OptionError);
      expect(err.message).toMatch(message);
    }
  });

  it('an --out that is a file, named before any model is built (item 18)', async () => {
    const file = path.join(fixture.root, 'a-file');
    await fs.writeFile(file, 'not a folder');
    const err = await refused({ ...base(), out: file });
    expect(err).toBeInstanceOf(OutputError);
    expect(err.message).toBe(`out '${file}' is a file, not a run folder; choose a folder name.`);
    expect(await fs.readFile(file, 'utf8')).toBe('not a folder');
  });

  it('a corrupt or incomplete checkpoint state names the file (items 16, 17)', async () => {
    const bad = async (name: string, state: string) => {
      const out = path.join(fixture.root, name);
      await fs.mkdir(out, { recursive: true });
      const t = tf.zeros([2]);
      await fs.writeFile(path.join(out, RUN_FILES.checkpoint), writeSafetensors({ 'G/x': t }, { tag2pix_checkpoint: CHECKPOINT_FORMAT, state }));
      t.dispose();
      return refused({ out, resume: true, progress: 'silent' });
    };
    const corrupt = await bad('corrupt-state', '{"epoch": 1, ');
    expect(corrupt).toBeInstanceOf(FileFormatError);
    expect(corrupt.message).toMatch(/^The checkpoint '.*corrupt-state\/checkpoint\.safetensors' holds a training state that is not valid JSON \(.*\); the file is damaged\./);
    const empty = await bad('empty-state', '{}');
    expect(empty.message).toMatch(/holds an incomplete training state: 'epoch' is 'missing', not an integer >= 0; the file is damaged/);
    const nan = await bad('nan-state', JSON.stringify({ epoch: 1, step: 0, globalStep: 'x', seed: 0 }));
    expect(nan.message).toMatch(/'globalStep' is '"x"', not an integer >= 0/);
  });

  it('a resumed run whose dataset is gone disposes the checkpoint it read (item 14)', async () => {
    // The run of the first test, copied, its configuration pointing at a dataset that no longer exists.
    const out = path.join(fixture.root, 'dataset-gone');
    await fs.mkdir(out, { recursive: true });
    const bytes = new Uint8Array(await fs.readFile(path.join(fixture.root, 'straight', RUN_FILES.checkpoint)));
    const metadata = readSafetensorsMetadata(bytes);
    const state = JSON.parse(metadata['state']!) as { config: { data: string } };
    state.config.data = path.join(fixture.root, 'moved-away');
    const tensors = readSafetensors(bytes);
    await fs.writeFile(path.join(out, RUN_FILES.checkpoint), writeSafetensors(tensors, { ...metadata, state: JSON.stringify(state) }));
    tf.dispose(Object.values(tensors));
    const err = await refused({ out, resume: true, progress: 'silent' });
    expect(err.message).toMatch(/Dataset '.*moved-away' \(data\) does not exist/);
  });
});

describe('tag2pix train (CLI)', () => {
  const run = (args: string[]) =>
    promisify(execFile)(process.execPath, ['--import', 'tsx', path.join(repoRoot, 'src/cli/index.ts'), '--backend', 'cpu', 'train', ...args], {
      cwd: repoRoot,
      env: { ...process.env, TAG2PIX_BACKEND: '' },
    });

  // A tiny CLI run on the fixture dataset, classification from the start, plain progress lines.
  const tinyRun = (out: string, extra: string[]) =>
    run([
      '--data', fixture.data, '--out', out, '--size', String(SIZE), '--batch', '2', '--layers', '1,1,1,1',
      '--width-multiplier', '0.25', '--no-cit', '--two-step-epoch', '0', '--progress', 'lines', ...extra,
    ]);

  it('trains one epoch with plain progress lines and writes the run folder', async () => {
    const out = path.join(fixture.root, 'cli');
    const { stdout, stderr } = await tinyRun(out, ['--epochs', '1', '--limit', '4', '--cit-cvt-weight', '40,40']);
    // Without a terminal: progress lines on stderr, the result alone on stdout.
    expect(stderr).toMatch(/epoch 1\/1 step 2\/2 D [\d.]+ .* img\/s/);
    expect(stdout).toMatch(/^tag2pix: trained 1 epochs \(2 steps\); checkpoint .*\n$/);
    const log = await readStepLog(path.join(out, RUN_FILES.log));
    expect(log.map((r) => r.weights['citWeight'])).toEqual([40, 40]);
    // The run folder's generator export loads (strictly, key for key) for `tag2pix colorize`.
    const colorizer = await loadColorizer([path.join(out, RUN_FILES.generator)]);
    expect(colorizer.config).toMatchObject({ inputSize: SIZE, decoderLayers: [1, 1, 1, 1], widthMultiplier: 0.25, citFeatures: false });
    expect(colorizer.citExtractor).toBeUndefined();
    colorizer.generator.dispose();
  });

  it('--warmup-epochs trains G alone first, showing no D loss for those steps', async () => {
    const out = path.join(fixture.root, 'cli-warmup');
    const { stderr } = await tinyRun(out, ['--epochs', '2', '--limit', '2', '--warmup-epochs', '1']);
    expect(stderr).toMatch(/epoch 1\/2 step 1\/1 D – \(adv –\/–\) G [\d.]+ \(adv – L1 /);
    expect(stderr).toMatch(/epoch 2\/2 step 1\/1 D [\d.]+ \(adv [\d.]+\/[\d.]+\)/);
    const log = await readStepLog(path.join(out, RUN_FILES.log));
    expect(log.map((r) => r.stage)).toEqual(['warm-up', 'colourisation']);
    const bad = await run(['--out', path.join(fixture.root, 'bad-warmup'), '--warmup-epochs', '-1']).catch((e: { stderr: string }) => e);
    expect((bad as { stderr: string }).stderr).toMatch(/--warmup-epochs must be an integer >= 0/);
  });

  it('reports a bad option in one line', async () => {
    const err = await run(['--out', path.join(fixture.root, 'bad'), '--cit-cvt-weight', '40']).catch((e: { stderr: string; code: number }) => e);
    expect((err as { code: number }).code).toBe(1);
    expect((err as { stderr: string }).stderr).toMatch(/--cit-cvt-weight takes 2 comma-separated numbers >= 0, got '40'/);
  });
});
