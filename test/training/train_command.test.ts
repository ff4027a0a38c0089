// `tag2pix train` end to end on a tiny synthetic dataset on disk with tiny real Tag2Pix models.
import { execFile } from 'node:child_process';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
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
    await expect(trainCommand({ ...base(), out })).rejects.toThrow(/already holds a training run .* pass --resume/);
    await expect(trainCommand({ out: path.join(fixture.root, 'nothing'), resume: true })).rejects.toThrow(/No checkpoint at .*start without --resume/);
  });

  it('asks for the CIT extractor unless --no-cit', async () => {
    await expect(trainCommand({ ...base(), out: path.join(fixture.root, 'cit'), cit: true })).rejects.toThrow(/--cit-weights .* or --no-cit/);
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
