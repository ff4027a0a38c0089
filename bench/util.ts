import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as tf from '@tensorflow/tfjs-core';
import { loadColorizer } from '../src/io/colorizer.js';
import type { TagAccuracyReport } from '../src/eval/tag_accuracy.js';
import type { SynthSample } from '../src/data/synth/dataset.js';
import { DEMO_DEFAULTS, DEMO_PALETTE, heldOutPairs, isHeldOut } from '../src/demo/config.js';
import { freshSynthBatches } from '../src/demo/sources.js';

/** Median of `runs` timings (ms) of `f` after `warmup` untimed calls; `f` must sync its result. */
export function timeMedian(f: () => void, runs = 5, warmup = 1): { median: number; all: number[] } {
  for (let i = 0; i < warmup; i++) f();
  const all: number[] = [];
  for (let i = 0; i < runs; i++) {
    const start = performance.now();
    f();
    all.push(performance.now() - start);
  }
  const sorted = [...all].sort((a, b) => a - b);
  return { median: sorted[Math.floor(sorted.length / 2)]!, all };
}

/** Runs `f` inside tidy and waits for its outputs' data, so timings include the compute. */
export function syncRun(f: () => tf.Tensor | tf.Tensor[]): void {
  tf.tidy(() => {
    const out = f();
    for (const t of Array.isArray(out) ? out : [out]) t.dataSync();
  });
}

/** One-line description of the machine load, for the record. */
export function loadNote(): string {
  const [one, five] = os.loadavg();
  return `load average ${one!.toFixed(2)} (1 min), ${five!.toFixed(2)} (5 min) on ${os.cpus().length} cores`;
}

export const fmtMs = (ms: number): string =>
  ms >= 10_000 ? `${(ms / 1000).toFixed(1)} s` : ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : `${ms.toFixed(1)} ms`;

/** Per requested colour of `family`: right/judged and what the wrong ones were judged as. */
export function colorConfusion(r: TagAccuracyReport, family: string): string {
  const by = new Map<string, { right: number; all: number; wrong: Map<string, number> }>();
  for (const j of r.judgements.filter((j) => j.family === family)) {
    const e = by.get(j.requested) ?? { right: 0, all: 0, wrong: new Map<string, number>() };
    e.all++;
    if (j.correct) e.right++;
    else e.wrong.set(j.nearest, (e.wrong.get(j.nearest) ?? 0) + 1);
    by.set(j.requested, e);
  }
  const name = (tag: string): string => tag.split('_')[0]!;
  return [...by.entries()]
    .map(([t, e]) => `${name(t)} ${e.right}/${e.all}${e.wrong.size ? ` (${[...e.wrong.entries()].map(([w, n]) => `${n} ${name(w)}`).join(', ')})` : ''}`)
    .join('; ');
}

/**
 * The demo's training batches for `seed` (its batch size, size, palette, held-out pairs,
 * close-ups and mirroring), with the close-ups' share and the flip probability overridable;
 * index → samples.
 */
export function demoTrainingBatches(
  seed: number,
  { closeUpShare = DEMO_DEFAULTS.closeUpShare, flipProbability = DEMO_DEFAULTS.flipProbability }: { closeUpShare?: number; flipProbability?: number } = {},
): (index: number) => SynthSample[] {
  const d = DEMO_DEFAULTS;
  const pairs = heldOutPairs();
  return freshSynthBatches({
    batchSize: d.batchSize, seed, size: d.size, colorChoices: DEMO_PALETTE, reject: (s) => isHeldOut(s, pairs),
    closeUpShare, closeUpZoom: d.closeUpZoom, closeUpPlacement: d.closeUpPlacement, flipProbability,
  });
}

/** The generator and CIT extractor a demo wrote to `dir` (what `tag2pix colorize --weights dir` reads). */
export async function loadDemoRun(dir: string): Promise<Awaited<ReturnType<typeof loadColorizer>>> {
  const read = async (file: string) => ({ name: file, bytes: await fs.readFile(`${dir}/${file}`) });
  return loadColorizer([await read('generator.safetensors'), await read('cit_extractor.safetensors')]);
}

/**
 * 32 full figures (no close-ups, none mirrored) that a demo run of `seed` did not train on
 * (another data seed, its palette and held-out pairs), with their line arts `[32, S, S, 1]` and
 * colour tags `[32, cvtCount]` as tensors (the caller disposes them).
 */
export function unseenFullFigures(seed: number): { samples: SynthSample[]; lineArt: tf.Tensor4D; cvt: tf.Tensor2D } {
  const batchAt = demoTrainingBatches(seed + 100, { closeUpShare: 0, flipProbability: 0 });
  const samples = [...batchAt(0), ...batchAt(1)];
  const n = samples.length;
  const size = samples[0]!.size;
  const lineArt = tf.tensor4d(Float32Array.from(samples.flatMap((s) => Array.from(s.lineArt.data))), [n, size, size, 1]);
  const cvt = tf.tensor2d(samples.map((s) => Array.from(s.multiHot.cvt)), [n, samples[0]!.multiHot.cvt.length]);
  return { samples, lineArt, cvt };
}
