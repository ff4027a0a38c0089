// The synthetic counterpart of the paper's Table 3/4: the demo's budget for three decoder blocks,
// SECat (tags injected in every bottleneck's squeeze-excitation), concat-front (tags concatenated
// once, before the decoder) and plain SE-ResNeXt (tags only through the bottom feature map),
// each with several seeds, reported as mean ± spread (half the range) per family.
// Usage: npx tsx examples/ablation.ts [--epochs N (default: the demo's)] [--train-count 1024] [--seeds 3] [--first-seed 1] [--budget S (default: the demo's)]
//        [--blocks secat,concat-front,se-resnext] [--out demo-output/ablation] [--no-region-weights] [--quick]
// --no-region-weights: every pixel counts the same in G's reconstruction loss, as published (the
// demo's default weights eyes, bows, hair, skirts and dresses more); --quick: the demo's smoke run.
// Writes demo-output/ablation/<block>-seed<k>/ and prints tag accuracy per family; record the
// table in docs/results.md whatever it shows.
import type { DecoderBlockKind } from '../src/models/generator.js';
import { DEMO_DEFAULTS, DEMO_QUICK, runDemo, type DemoResult } from '../src/demo/index.js';

const args = process.argv.slice(2);
const text = (name: string, fallback: string): string => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1]! : fallback;
};
const arg = (name: string, fallback: number): number => Number(text(name, String(fallback)));
// Unset: the demo's default (its warm-up epochs, then the adversarial ones).
const epochs = args.includes('--epochs') ? arg('epochs', 0) : undefined;
const trainCount = arg('train-count', 1024);
const seeds = arg('seeds', 3);
// Seeds firstSeed … firstSeed + seeds − 1 (several processes can share the seeds of one ablation).
const firstSeed = arg('first-seed', 1);
const budget = arg('budget', DEMO_DEFAULTS.trainingBudgetSeconds);
const out = text('out', 'demo-output/ablation');
const blocks = text('blocks', 'secat,concat-front,se-resnext').split(',') as DecoderBlockKind[];
const regionWeights = args.includes('--no-region-weights') ? {} : undefined;
const quick = args.includes('--quick') ? DEMO_QUICK : {};

const results: Array<{ block: DecoderBlockKind; seed: number; result: DemoResult }> = [];
for (let seed = firstSeed; seed < firstSeed + seeds; seed++) {
  for (const block of blocks) {
    console.log(`\n=== ${block}, seed ${seed} ===`);
    const result = await runDemo({
      out: `${out}/${block}-seed${seed}`,
      decoderBlock: block,
      epochs,
      trainCount,
      trainingBudgetSeconds: budget,
      seed,
      regionWeights,
      progress: 'lines',
      skipImages: true,
      ...quick,
    });
    results.push({ block, seed, result });
  }
}

const families = ['hair', 'eyes', 'bow', 'shirt', 'skirt', 'dress', 'background'];
const pct = (x: number | undefined): string => (x === undefined ? '–' : `${(x * 100).toFixed(1)}%`);
console.log('\nEvery run (held-out characters; "unseen" = tag pairs never seen in training):\n');
console.log('| block | seed | steps | ' + families.join(' | ') + ' | overall | unseen hair | unseen eyes | unseen overall |');
console.log('|---|---|---|' + families.map(() => '---').join('|') + '|---|---|---|---|');
for (const { block, seed, result } of results) {
  const cells = families.map((f) => pct(result.test.perFamily[f]?.accuracy));
  console.log(
    `| ${block} | ${seed} | ${result.steps} | ${cells.join(' | ')} | ${pct(result.test.overall)} | ` +
      `${pct(result.unseen.perFamily['hair']?.accuracy)} | ${pct(result.unseen.perFamily['eyes']?.accuracy)} | ${pct(result.unseen.overall)} |`,
  );
}

// Mean ± half the range over seeds: with 3 seeds the range is the honest spread.
const summary = (xs: number[]): string => {
  const ok = xs.filter((x) => Number.isFinite(x));
  if (ok.length === 0) return '–';
  const mean = ok.reduce((a, b) => a + b, 0) / ok.length;
  const half = (Math.max(...ok) - Math.min(...ok)) / 2;
  return `${(mean * 100).toFixed(1)} ± ${(half * 100).toFixed(1)}`;
};
const columns: Array<[string, (r: DemoResult) => number]> = [
  ['hair', (r) => r.test.perFamily['hair']?.accuracy ?? NaN],
  ['eyes', (r) => r.test.perFamily['eyes']?.accuracy ?? NaN],
  ['unseen hair', (r) => r.unseen.perFamily['hair']?.accuracy ?? NaN],
  ['unseen eyes', (r) => r.unseen.perFamily['eyes']?.accuracy ?? NaN],
  ['overall', (r) => r.test.overall],
  ['unseen overall', (r) => r.unseen.overall],
];
console.log(`\nMean ± spread (half the range) over ${seeds} seed${seeds === 1 ? '' : 's'}, in %:\n`);
console.log('| block | ' + columns.map(([name]) => name).join(' | ') + ' |');
console.log('|---|' + columns.map(() => '---').join('|') + '|');
for (const block of blocks) {
  const runs = results.filter((r) => r.block === block).map((r) => r.result);
  console.log(`| ${block} | ${columns.map(([, get]) => summary(runs.map(get))).join(' | ')} |`);
}
