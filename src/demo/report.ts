// What the demo measured, as the Markdown report and the JSON summary.
import type { TagAccuracyReport } from '../eval/tag_accuracy.js';
import type { DemoConfig } from './config.js';

/** Tag accuracy after one epoch of the demo. */
export interface DemoEpoch {
  epoch: number;
  /** Training steps so far. */
  steps: number;
  /** Training seconds so far (including these measurements), the extractor's pretraining included. */
  seconds: number;
  /** CPU seconds of the process over the same span (near the wall time alone on one thread). */
  cpuSeconds: number;
  overall: number;
  hair: number;
  eyes: number;
  background: number;
  l1: number;
  /** G's learning rate in the epoch's last step. */
  learningRate: number;
}

/** What {@link runDemo} measured and wrote. */
export interface DemoResult {
  /** The backend, with wasm's thread count (e.g. `wasm (2 threads)`). */
  backend: string;
  /** Seed of the data and the initial weights. */
  seed: number;
  /** The machine's 1-minute load average at the start and after training (2 = two busy cores). */
  loadAverage: { start: number; afterTraining: number };
  /** The synthetic CIT extractor: parameters, pretraining steps and seconds, region accuracy of its last batch. */
  extractor: { parameters: number; steps: number; seconds: number; cpuSeconds: number; regionAccuracy: number };
  /** CPU seconds of the process during training (extractor included), beside `seconds.training`. */
  trainingCpuSeconds: number;
  /** Training steps of G alone (the warm-up); the rest of `steps` are adversarial. */
  warmupSteps: number;
  /** Held-out characters with seen tag combinations. */
  test: TagAccuracyReport;
  /** Held-out characters with tag combinations never seen in training. */
  unseen: TagAccuracyReport;
  /** The generator's L1 (colour output) at every training step. */
  l1PerStep: number[];
  /** First and last 10-step mean of the generator's L1 (colour output). */
  l1Start: number;
  l1End: number;
  seconds: { data: number; training: number; evaluation: number; total: number };
  /** Training steps of G (and D), the extractor's pretraining aside. */
  steps: number;
  /** Tag accuracy on (up to 64) held-out characters after each epoch. */
  history: DemoEpoch[];
  parameters: { generator: number; discriminator: number };
  files: Record<string, string>;
}

/** A fraction as a percentage with one decimal, '–' for NaN. */
export function pct(x: number): string {
  return Number.isNaN(x) ? '–' : `${(x * 100).toFixed(1)}%`;
}

/** The Markdown report of a demo run. */
export function demoReport(d: DemoResult, cfg: Record<string, unknown>, palette: DemoConfig['palette']): string {
  const families = [...new Set([...Object.keys(d.test.perFamily), ...Object.keys(d.unseen.perFamily)])];
  const rows = families.map((f) => {
    const a = d.test.perFamily[f];
    const b = d.unseen.perFamily[f];
    return `| ${f} | ${a ? `${pct(a.accuracy)} (${a.correct}/${a.total})` : '–'} | ${b ? `${pct(b.accuracy)} (${b.correct}/${b.total})` : '–'} | ${pct((a ?? b)!.chance)} |`;
  });
  return [
    '# Tag2Pix demo report',
    '',
    `Seed ${d.seed}, backend ${d.backend}; the synthetic CIT extractor pretrained for ${d.extractor.steps} steps (${d.extractor.seconds.toFixed(0)} s), ` +
      `then ${d.steps} training steps of G (${d.warmupSteps} warm-up, ${d.steps - d.warmupSteps} adversarial); ` +
      `training ${d.seconds.training.toFixed(0)} s in all (${d.trainingCpuSeconds.toFixed(0)} s of CPU time), whole run ${d.seconds.total.toFixed(0)} s ` +
      `(load average ${d.loadAverage.start.toFixed(1)} at the start, ${d.loadAverage.afterTraining.toFixed(1)} after training).`,
    `Generator ${d.parameters.generator.toLocaleString('en')} parameters, discriminator ${d.parameters.discriminator.toLocaleString('en')}, ` +
      `CIT extractor ${d.extractor.parameters.toLocaleString('en')} (region accuracy ${pct(d.extractor.regionAccuracy)} on its last pretraining batch).`,
    '',
    `Configuration: \`${JSON.stringify({ ...cfg, palette })}\``,
    '',
    'Tag accuracy: for each region whose colour a tag sets, whether the mean colour of the generated pixels is nearer (CIELAB) to the requested colour than to every other colour of the family the demo trains on.',
    '',
    '| family | held-out characters | unseen tag combinations | chance |',
    '|---|---|---|---|',
    ...rows,
    `| **overall** | **${pct(d.test.overall)}** | **${pct(d.unseen.overall)}** | |`,
    '',
    `L1 to ground truth (range [-1, 1]): ${d.test.l1.toFixed(4)} (held-out), ${d.unseen.l1.toFixed(4)} (unseen combinations).`,
    `Training L1 of the colour output: ${d.l1Start.toFixed(4)} (first 10 steps) → ${d.l1End.toFixed(4)} (last 10 steps).`,
    '',
    'Files: `figure8-grid.png` (one line art per column pair, each row a tag combination; rows marked unseen never occur in training), `loss-curve.png`, `run/log.jsonl`, `run/samples/`, `run/checkpoint.safetensors`; ' +
      '`generator.safetensors` and `cit_extractor.safetensors`, for `tag2pix colorize <line art> --tags … --weights <this folder>`.',
    '',
  ].join('\n');
}


/** The JSON summary of a demo run (without the per-step L1 and the per-region judgements). */
export function demoSummaryJson(d: DemoResult): string {
  const { l1PerStep: _l1, ...rest } = d;
  return JSON.stringify({ ...rest, test: { ...d.test, judgements: undefined }, unseen: { ...d.unseen, judgements: undefined } }, null, 2) + '\n';
}
