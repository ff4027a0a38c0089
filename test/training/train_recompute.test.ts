// `tag2pix train --recompute`: the option reaches both models, a run with it gives the losses of a
// run without it, and a resumed run may switch it.
import { execFile } from 'node:child_process';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { TRAIN_RUN_MODEL, TRAIN_RUN_SIZE, useTrainRunFixture } from '../helpers/train_run_fixture.js';
import { readCheckpoint } from '../../src/node/checkpoint.js';
import { RUN_FILES, readStepLog } from '../../src/node/train.js';
import { recomputeByDefault, trainCommand, type TrainCommandOptions } from '../../src/node/train_command.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const SIZE = TRAIN_RUN_SIZE;
const MODEL = TRAIN_RUN_MODEL;
const fixture = useTrainRunFixture('tag2pix-recompute-', 4, 4);

const base = (out: string): TrainCommandOptions => ({
  out,
  data: fixture.data,
  size: SIZE,
  batch: 2,
  epochs: 2,
  twoStepEpoch: 0,
  seed: 2,
  limit: 2,
  checkpointEvery: 0,
  init: fixture.init,
  ...MODEL,
  progress: 'silent',
  skipImages: true,
});

async function runConfig(out: string): Promise<Record<string, unknown>> {
  return (await readCheckpoint(path.join(out, RUN_FILES.checkpoint))).state.config;
}

describe('trainCommand recompute', () => {
  it('trains as without it, is stored in the run config, and may change on resume', async () => {
    const plain = path.join(fixture.root, 'plain');
    await trainCommand(base(plain));
    expect(await runConfig(plain)).toMatchObject({ recompute: false });
    const expected = await readStepLog(path.join(plain, RUN_FILES.log));

    const switched = path.join(fixture.root, 'switched');
    await trainCommand({ ...base(switched), epochs: 1, recompute: true });
    expect(await runConfig(switched)).toMatchObject({ recompute: true });
    await trainCommand({ out: switched, resume: true, epochs: 2, recompute: false, progress: 'silent', skipImages: true });
    expect(await runConfig(switched)).toMatchObject({ recompute: false, epochs: 2 });
    const got = await readStepLog(path.join(switched, RUN_FILES.log));

    expect(got.map((r) => r.globalStep)).toEqual(expected.map((r) => r.globalStep));
    got.forEach((r, i) => {
      for (const side of ['discriminator', 'generator'] as const) {
        for (const [term, v] of Object.entries(expected[i]![side])) {
          const w = (r[side] as Record<string, number>)[term]!;
          expect(Math.abs(w - v), `step ${r.globalStep} ${side} ${term}`).toBeLessThanOrEqual(1e-5 * Math.max(1, Math.abs(v)));
        }
      }
    });
  });

  it('is on by default on wasm for large steps only, and --recompute / --no-recompute decide', async () => {
    // The published recipe (256 px, batch 4) and a 256 px batch of 2 fill the 4 GB heap without it.
    expect(recomputeByDefault('wasm', 256, 4)).toBe(true);
    expect(recomputeByDefault('wasm', 256, 2)).toBe(true);
    expect(recomputeByDefault('wasm', 256, 2, 0.25)).toBe(false);
    expect(recomputeByDefault('wasm', 128, 4)).toBe(false);
    expect(recomputeByDefault('wasm', 64, 4)).toBe(false);
    expect(recomputeByDefault('cpu', 256, 4)).toBe(false);
    expect(recomputeByDefault('tensorflow', 256, 4)).toBe(false);
    const run = async (name: string, extra: string[]) => {
      const out = path.join(fixture.root, name);
      const { stderr } = await promisify(execFile)(
        process.execPath,
        [
          '--import', 'tsx', path.join(repoRoot, 'src/cli/index.ts'), '--backend', 'wasm', 'train',
          '--data', fixture.data, '--out', out, '--size', String(SIZE), '--batch', '2', '--epochs', '1', '--layers', '1,1,1,1',
          '--width-multiplier', '0.25', '--no-cit', '--limit', '2', '--progress', 'lines', ...extra,
        ],
        { cwd: repoRoot, env: { ...process.env, TAG2PIX_BACKEND: '' } },
      );
      return { config: await runConfig(out), stderr };
    };
    // This small step keeps its full tape, and says nothing about it.
    const auto = await run('wasm-auto', []);
    expect(auto.config).toMatchObject({ recompute: false });
    expect(auto.stderr).not.toMatch(/recompute: on/);
    const on = await run('wasm-on', ['--recompute']);
    expect(on.config).toMatchObject({ recompute: true });
    expect(on.stderr).not.toMatch(/recompute: on \(the default/); // asked for, not a default
    expect((await run('wasm-off', ['--no-recompute'])).config).toMatchObject({ recompute: false });
  });

  it('the CLI passes --recompute through', async () => {
    const out = path.join(fixture.root, 'cli');
    await promisify(execFile)(
      process.execPath,
      [
        '--import', 'tsx', path.join(repoRoot, 'src/cli/index.ts'), '--backend', 'cpu', 'train',
        '--data', fixture.data, '--out', out, '--size', String(SIZE), '--batch', '2', '--epochs', '1', '--layers', '1,1,1,1',
        '--width-multiplier', '0.25', '--no-cit', '--limit', '2', '--progress', 'lines', '--recompute',
      ],
      { cwd: repoRoot, env: { ...process.env, TAG2PIX_BACKEND: '' } },
    );
    expect(await runConfig(out)).toMatchObject({ recompute: true });
  });
});
