import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import sharp from 'sharp';
import { afterAll, describe, expect, it } from 'vitest';
import { ChangingLossScheduler } from '../../src/losses/index.js';
import { readCheckpoint } from '../../src/node/checkpoint.js';
import { RUN_FILES, readStepLog, runTrainingInFolder } from '../../src/node/train.js';
import { NonFiniteLossError, Tag2PixTrainer, namedWeights, restoreTrainer, type TrainingBatch, type TrainingDataSource } from '../../src/training/index.js';
import { FileFormatError } from '../../src/errors.js';
import { rng } from '../helpers/gradcheck.js';
import { TINY, tinyDiscriminator, tinyGenerator } from '../training/tiny_models.js';

const tmp: string[] = [];
async function tempDir(): Promise<string> {
  const d = await fs.mkdtemp(path.join(os.tmpdir(), 'tag2pix-train-'));
  tmp.push(d);
  return d;
}
afterAll(async () => {
  for (const d of tmp) await fs.rm(d, { recursive: true, force: true });
});

/** 6 synthetic samples, batch 2, shuffled per epoch from (seed, epoch). */
function syntheticData(seed: number, poison?: { epoch: number; batch: number }): TrainingDataSource {
  const n = 6;
  const batchSize = 2;
  const { size, features, cit, cvt } = TINY;
  const r = rng(seed);
  const sample = () => ({
    lineArt: Float32Array.from({ length: size * size }, () => r()),
    color: Float32Array.from({ length: size * size * 3 }, () => 2 * r() - 1),
    feat: Float32Array.from({ length: (size / 8) ** 2 * features }, () => r()),
    cit: Float32Array.from({ length: cit }, () => (r() < 0.3 ? 1 : 0)),
    cvt: Float32Array.from({ length: cvt }, () => (r() < 0.3 ? 1 : 0)),
  });
  const samples = Array.from({ length: n }, sample);
  const order = (epoch: number) => {
    const o = [...Array(n).keys()];
    const rr = rng(seed * 1000 + epoch);
    for (let i = n - 1; i > 0; i--) {
      const j = Math.floor(rr() * (i + 1));
      [o[i], o[j]] = [o[j], o[i]];
    }
    return o;
  };
  const stack = (idx: number[], pick: (s: (typeof samples)[0]) => Float32Array, shape: number[]) => {
    const per = shape.reduce((a, b) => a * b, 1);
    const v = new Float32Array(idx.length * per);
    idx.forEach((k, i) => v.set(pick(samples[k]), i * per));
    return tf.tensor(v, [idx.length, ...shape]);
  };
  return {
    batchesPerEpoch: n / batchSize,
    brightnessStage: false,
    async *epoch(epoch, options = {}) {
      const o = order(epoch);
      const start = (options.from as { next: number } | undefined)?.next ?? 0;
      for (let b = start; b < n / batchSize; b++) {
        const idx = o.slice(b * batchSize, (b + 1) * batchSize);
        const batch: TrainingBatch = {
          lineArt: stack(idx, (s) => s.lineArt, [size, size, 1]) as tf.Tensor4D,
          color: stack(idx, (s) => s.color, [size, size, 3]) as tf.Tensor4D,
          citFeatures: stack(idx, (s) => s.feat, [size / 8, size / 8, features]) as tf.Tensor4D,
          cit: stack(idx, (s) => s.cit, [cit]) as tf.Tensor2D,
          cvt: stack(idx, (s) => s.cvt, [cvt]) as tf.Tensor2D,
          cursor: { epoch, next: b + 1 },
        };
        if (poison && poison.epoch === epoch && poison.batch === b) {
          batch.color.dispose();
          batch.color = tf.fill([2, size, size, 3], NaN) as tf.Tensor4D;
        }
        yield batch;
      }
    },
  };
}

type Snapshot = Record<string, Float32Array>;
const initial = (() => {
  const G = tinyGenerator();
  const D = tinyDiscriminator();
  const snap: Snapshot = {};
  for (const p of [...namedWeights(G, 'G'), ...namedWeights(D, 'D')]) snap[p.key] = p.variable.dataSync().slice() as Float32Array;
  return snap;
})();

function freshTrainer(scheduler = ChangingLossScheduler.tag2pix({ twoStepEpoch: 2, brightnessEpoch: 3, citWeight: 40, cvtWeight: 40 })) {
  const G = tinyGenerator();
  const D = tinyDiscriminator();
  for (const p of [...namedWeights(G, 'G'), ...namedWeights(D, 'D')]) p.variable.assign(tf.tensor(initial[p.key], p.variable.shape));
  return new Tag2PixTrainer({ generator: G, discriminator: D, scheduler });
}

async function resumedTrainer(out: string) {
  const ckpt = await readCheckpoint(path.join(out, RUN_FILES.checkpoint));
  const trainer = new Tag2PixTrainer({
    generator: tinyGenerator(),
    discriminator: tinyDiscriminator(),
    scheduler: ChangingLossScheduler.fromJSON(ckpt.state.scheduler),
  });
  restoreTrainer(trainer, ckpt);
  return { trainer, state: ckpt.state };
}

const common = { epochs: 3, seed: 11, config: { test: true }, progress: 'silent' as const, skipImages: true };
const weightsOf = (t: Tag2PixTrainer) =>
  [...namedWeights(t.generator, 'G'), ...namedWeights(t.discriminator, 'D')].map((p) => Array.from(p.variable.dataSync()));
const losses = (r: { steps: Array<{ globalStep: number; discriminator: object; generator: object }> }) =>
  r.steps.map((s) => ({ g: s.globalStep, d: s.discriminator, gen: s.generator }));

describe('runTrainingInFolder: checkpoints and --resume', () => {
  let straight: { losses: ReturnType<typeof losses>; weights: number[][] };

  it('an uninterrupted 3-epoch run', async () => {
    const out = await tempDir();
    const trainer = freshTrainer();
    const r = await runTrainingInFolder({ ...common, trainer, data: syntheticData(11), out });
    expect(r.reason).toBe('finished');
    expect(r.steps).toHaveLength(9);
    expect(r.steps.map((s) => s.stage)).toEqual([...Array(3).fill('segmentation'), ...Array(3).fill('colourisation'), ...Array(3).fill('brightness')]);
    straight = { losses: losses(r), weights: weightsOf(trainer) };
    expect((await readStepLog(path.join(out, RUN_FILES.log))).map((s) => s.globalStep)).toEqual([...Array(9).keys()]);
    expect((await fs.readdir(out)).filter((f) => f.includes('.tmp'))).toEqual([]);
  });

  it('stopped after epoch 1 and resumed gives identical losses and weights', async () => {
    const out = await tempDir();
    const first = await runTrainingInFolder({ ...common, trainer: freshTrainer(), data: syntheticData(11), out, stopAfterEpoch: 0 });
    expect(first.reason).toBe('stopAfterEpoch');
    const { trainer, state } = await resumedTrainer(out);
    expect([state.epoch, state.step, state.globalStep, state.seed]).toEqual([1, 0, 3, 11]);
    expect(state.config).toEqual({ test: true });
    const second = await runTrainingInFolder({ ...common, trainer, data: syntheticData(11), out });
    expect([...losses(first), ...losses(second)]).toEqual(straight.losses);
    expect(weightsOf(trainer)).toEqual(straight.weights);
    expect((await readStepLog(path.join(out, RUN_FILES.log))).map((s) => s.globalStep)).toEqual([...Array(9).keys()]);
  });

  it('resumes past a torn last log line (dropped, with a warning) and removes stale temporaries (issue 17, items 12, 13)', async () => {
    const out = await tempDir();
    const first = await runTrainingInFolder({ ...common, trainer: freshTrainer(), data: syntheticData(11), out, stopAfterEpoch: 0 });
    // A crash while appending leaves half a record; a kill while checkpointing leaves a temporary.
    const log = path.join(out, RUN_FILES.log);
    await fs.appendFile(log, '{"epoch":1,"step":0,"globalStep":3,"st');
    const stale = path.join(out, `${RUN_FILES.checkpoint}.tmp-${2 ** 22 + 99}-1700000000000`);
    await fs.writeFile(stale, new Uint8Array(1024));
    const torn: string[] = [];
    expect((await readStepLog(log, { onTornLine: (m) => torn.push(m) })).map((r) => r.globalStep)).toEqual([0, 1, 2]);
    expect(torn).toEqual([expect.stringMatching(/log\.jsonl:4: the last line is incomplete \(38 characters, a crash while it was written\); it is dropped\./)]);
    const printed: string[] = [];
    const { trainer } = await resumedTrainer(out);
    const second = await runTrainingInFolder({ ...common, trainer, data: syntheticData(11), out, print: (l) => printed.push(l) });
    expect([...losses(first), ...losses(second)]).toEqual(straight.losses);
    expect(printed.filter((l) => /warning: .*log\.jsonl:4: the last line is incomplete/.test(l))).toHaveLength(1);
    expect(printed.filter((l) => l.startsWith(`removed ${stale}`))).toHaveLength(1);
    await expect(fs.stat(stale)).rejects.toThrow(/ENOENT/);
    const lines = (await fs.readFile(log, 'utf8')).trim().split('\n');
    expect(lines.map((l) => (JSON.parse(l) as { globalStep: number }).globalStep)).toEqual([...Array(9).keys()]);
  });

  it('a damaged line before the last is an error naming the file and line, not a silent loss', async () => {
    const out = await tempDir();
    const log = path.join(out, RUN_FILES.log);
    await fs.writeFile(log, '{"globalStep":0}\n{"globalStep":1,\n{"globalStep":2}\n');
    const err = await readStepLog(log).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(FileFormatError);
    expect((err as Error).message).toMatch(/log\.jsonl':2: not a step record .*Move it aside to resume without its history/);
  });

  it('resumes across a reconstruction warm-up identically; the log keeps its uncomputed D terms as NaN', async () => {
    const warm = () => ChangingLossScheduler.tag2pix({ warmupEpochs: 1, twoStepEpoch: 0, citWeight: 40, cvtWeight: 40 });
    const whole = await runTrainingInFolder({ ...common, trainer: freshTrainer(warm()), data: syntheticData(11), out: await tempDir() });
    expect(whole.steps.map((s) => s.stage)).toEqual([...Array(3).fill('warm-up'), ...Array(6).fill('colourisation')]);
    expect(whole.steps.slice(0, 3).every((s) => Number.isNaN(s.discriminator.total))).toBe(true);
    expect(whole.steps.slice(3).every((s) => Number.isFinite(s.discriminator.total))).toBe(true);

    const out = await tempDir();
    const first = await runTrainingInFolder({ ...common, trainer: freshTrainer(warm()), data: syntheticData(11), out, stopAfterEpoch: 0 });
    const { trainer } = await resumedTrainer(out);
    const second = await runTrainingInFolder({ ...common, trainer, data: syntheticData(11), out });
    expect([...losses(first), ...losses(second)]).toEqual(losses(whole));
    const log = await readStepLog(path.join(out, RUN_FILES.log));
    expect(log.map((s) => s.globalStep)).toEqual([...Array(9).keys()]);
    expect(Number.isNaN(log[0]!.discriminator.advReal)).toBe(true);
    expect(Number.isFinite(log[0]!.generator.l1Color)).toBe(true);
  });

  it('killed mid-epoch after a step checkpoint, resumed from it, gives identical losses', async () => {
    const out = await tempDir();
    const controller = new AbortController();
    const data = syntheticData(11);
    // Simulate a kill: the run stops taking steps after global step 5 without a final checkpoint.
    const killing: TrainingDataSource = {
      batchesPerEpoch: data.batchesPerEpoch,
      brightnessStage: false,
      async *epoch(epoch, options = {}) {
        let next = (options.from as { next: number } | undefined)?.next ?? 0;
        for await (const b of data.epoch(epoch, options)) {
          if (epoch * 3 + next >= 5) throw new Error('killed');
          next++;
          yield b;
        }
      },
    };
    await expect(
      runTrainingInFolder({ ...common, trainer: freshTrainer(), data: killing, out, checkpointEvery: 2, signal: controller.signal }),
    ).rejects.toThrow('killed');
    const { trainer, state } = await resumedTrainer(out);
    // Steps 0-4 ran; the last checkpoint was after global step 4 (epoch 2, step 1).
    expect([state.epoch, state.step, state.globalStep]).toEqual([1, 1, 4]);
    expect(state.dataCursor).toEqual({ epoch: 1, next: 1 });
    await expect(runTrainingInFolder({ ...common, trainer, data: syntheticData(11), out })).rejects.toThrow(/pass resumeCursor/);
    const second = await runTrainingInFolder({ ...common, trainer, data: syntheticData(11), out, resumeCursor: state.dataCursor });
    expect(losses(second)).toEqual(straight.losses.slice(4));
    expect(weightsOf(trainer)).toEqual(straight.weights);
    // The log holds each step once, the redone step 4 included.
    expect((await readStepLog(path.join(out, RUN_FILES.log))).map((s) => s.globalStep)).toEqual([...Array(9).keys()]);
  });
});

describe('runTrainingInFolder: guard rails and outputs', () => {
  it('stops on a NaN loss naming the term and keeps the last good checkpoint', async () => {
    const out = await tempDir();
    const err = await runTrainingInFolder({ ...common, trainer: freshTrainer(), data: syntheticData(11, { epoch: 1, batch: 1 }), out }).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(NonFiniteLossError);
    expect((err as Error).message).toMatch(/epoch 2 step 2: The discriminator loss term "advReal" is NaN/);
    expect((err as Error).message).toMatch(/last good checkpoint .*checkpoint.safetensors is kept/);
    const { state } = await resumedTrainer(out);
    expect([state.epoch, state.step]).toEqual([1, 0]);
  });

  it('writes the JSONL log, a loss-curve PNG and a sample grid per epoch; plain progress lines off a TTY', async () => {
    const out = await tempDir();
    const lines: string[] = [];
    await runTrainingInFolder({
      ...common, epochs: 2, skipImages: false, progress: 'lines', lineEvery: 2, print: (l) => lines.push(l),
      trainer: freshTrainer(), data: syntheticData(5), out,
    });
    const log = await readStepLog(path.join(out, RUN_FILES.log));
    expect(log).toHaveLength(6);
    expect(Object.keys(log[0].discriminator).sort()).toEqual(['advFake', 'advReal', 'citFake', 'citReal', 'cvtFake', 'cvtReal', 'total']);
    expect(Object.keys(log[0].generator).sort()).toEqual(['adv', 'cit', 'cvt', 'l1Color', 'l1Guide', 'total']);
    expect(log[3].weights).toMatchObject({ citWeight: 40, cvtWeight: 40, lambdaRec: 1000 });
    const curve = await sharp(path.join(out, RUN_FILES.lossCurve)).metadata();
    expect([curve.format, curve.width]).toEqual(['png', 900]);
    for (const e of ['001', '002']) {
      const grid = await sharp(path.join(out, RUN_FILES.samples, `epoch-${e}.png`)).metadata();
      // 2 samples of 16 px in rows; line art, guide, colour, ground truth in columns.
      expect([grid.width, grid.height]).toEqual([4 * TINY.size, 2 * TINY.size]);
    }
    expect(lines.filter((l) => /^epoch \d\/2 step \d\/3 D [\d.]+ .* img\/s$/.test(l))).toHaveLength(4);
    expect(lines.some((l) => l.startsWith('epoch 2/2 done'))).toBe(true);
  });

  it("hands each step to the caller's onStep after logging it", async () => {
    const out = await tempDir();
    const seen: Array<{ step: number; logged: number; total: number }> = [];
    await runTrainingInFolder({
      ...common, epochs: 1, trainer: freshTrainer(), data: syntheticData(5), out,
      onStep: async (record, result) => {
        const logged = (await fs.readFile(path.join(out, RUN_FILES.log), 'utf8')).trim().split('\n').length;
        seen.push({ step: record.globalStep, logged, total: result.generator.total });
      },
    });
    expect(seen.map((s) => [s.step, s.logged])).toEqual([[0, 1], [1, 2], [2, 3]]);
    expect(seen.every((s) => Number.isFinite(s.total))).toBe(true);
  });

  it('stops cleanly on abort with a checkpoint to resume from', async () => {
    const out = await tempDir();
    const controller = new AbortController();
    controller.abort();
    const r = await runTrainingInFolder({ ...common, trainer: freshTrainer(), data: syntheticData(11), out, signal: controller.signal });
    expect(r.reason).toBe('aborted');
    const { state } = await resumedTrainer(out);
    expect([state.epoch, state.step, state.dataCursor]).toEqual([0, 1, { epoch: 0, next: 1 }]);
  });
});

describe('readStepLog', () => {
  it('reads a log written before 0.2.0 under the keys the code writes today', async () => {
    const out = await tempDir();
    const file = path.join(out, RUN_FILES.log);
    const generator = { adv: 1, cit: 2, cvt: 3, l1Colour: 0.5, l1Guide: 0.25, total: 9 }; // keep-spelling: an old log line
    await fs.writeFile(file, JSON.stringify({ epoch: 0, step: 0, globalStep: 0, stage: 'warm-up', weights: {}, discriminator: {}, generator, seconds: 1, imagesPerSecond: 2 }) + '\n');
    const [record] = await readStepLog(file);
    expect(Object.keys(record!.generator).sort()).toEqual(['adv', 'cit', 'cvt', 'l1Color', 'l1Guide', 'total']);
    expect(record!.generator['l1Color']).toBe(0.5);
  });
});
