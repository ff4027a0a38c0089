// The synthetic counterpart of the paper's Table 3/4: the demo's budget for three decoder blocks,
// SECat (tags injected in every bottleneck's squeeze-excitation), concat-front (tags concatenated
// once, before the decoder) and plain SE-ResNeXt (tags only through the bottom feature map).
// Usage: npx tsx examples/ablation.ts [--epochs 17 (the demo default)] [--train-count 1024] [--seeds 1] [--budget 480]
//        [--blocks secat,concat-front,se-resnext] [--out demo-output/ablation]
// Writes demo-output/ablation/<block>/ and prints tag accuracy per family; record the table in
// docs/results.md whatever it shows.
import type { DecoderBlockKind } from '../src/models/generator.js';
import { runDemo, type DemoResult } from '../src/demo/index.js';

const args = process.argv.slice(2);
const text = (name: string, fallback: string): string => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1]! : fallback;
};
const arg = (name: string, fallback: number): number => Number(text(name, String(fallback)));
// Unset: the demo's default (its warm-up epochs, then the adversarial ones).
const epochs = args.includes('--epochs') ? arg('epochs', 0) : undefined;
const trainCount = arg('train-count', 1024);
const seeds = arg('seeds', 1);
const budget = arg('budget', 480);
const out = text('out', 'demo-output/ablation');
const blocks = text('blocks', 'secat,concat-front,se-resnext').split(',') as DecoderBlockKind[];

const results: Array<{ block: DecoderBlockKind; seed: number; result: DemoResult }> = [];
for (let seed = 1; seed <= seeds; seed++) {
  for (const block of blocks) {
    console.log(`\n=== ${block}, seed ${seed} ===`);
    const result = await runDemo({
      out: `${out}/${block}-seed${seed}`,
      decoderBlock: block,
      epochs,
      trainCount,
      trainingBudgetSeconds: budget,
      seed,
      progress: 'lines',
      skipImages: true,
    });
    results.push({ block, seed, result });
  }
}

const families = ['hair', 'eyes', 'shirt', 'skirt', 'dress', 'background'];
const pct = (x: number | undefined): string => (x === undefined ? '–' : `${(x * 100).toFixed(1)}%`);
console.log('\n| block | seed | G params | ' + families.join(' | ') + ' | overall | unseen overall | L1 | train s |');
console.log('|---|---|---|' + families.map(() => '---').join('|') + '|---|---|---|---|');
for (const { block, seed, result } of results) {
  const cells = families.map((f) => pct(result.test.perFamily[f]?.accuracy));
  console.log(
    `| ${block} | ${seed} | ${result.parameters.generator.toLocaleString('en')} | ${cells.join(' | ')} | ${pct(result.test.overall)} | ` +
      `${pct(result.unseen.overall)} | ${result.test.l1.toFixed(3)} | ${result.seconds.training.toFixed(0)} |`,
  );
}
