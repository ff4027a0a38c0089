// Data pipeline throughput: does a trainer ever wait for batches?
//
//   npx tsx bench/data_pipeline.ts [--count 48] [--source 512] [--size 256] [--batch 4] [--json out.json]
//
// Builds a reference-layout dataset of `count` synthetic illustrations at `source` px (colour PNG,
// the generator's line art as `keras_train`, XDoG as `xdog_train` made with extractLineArtFolder),
// then measures
//   1. line-art extraction: images/s with worker threads and on the main thread alone;
//   2. the loader alone: batches/s when the consumer takes no time;
//   3. the loader under a trainer: the consumer blocks the main thread for `step` ms per batch (as a
//      cpu/wasm training step does) and we record how long each `next()` then waits.
// Other processes share the cores; the load average is printed with the results.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { defaultVocabulary } from '../src/index.js';
import { generateCharacter } from '../src/data/synth/index.js';
import { createDataLoader, encodePng, extractLineArtFolder, initBackend, openDataset } from '../src/node/index.js';
import { loadNote } from './util.js';

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
}

const count = arg('count', 48);
const source = arg('source', 512);
const size = arg('size', 256);
const batchSize = arg('batch', 4);
const jsonIndex = process.argv.indexOf('--json');

function busy(ms: number): void {
  const end = performance.now() + ms;
  while (performance.now() < end) {
    // Simulates a synchronous training step holding the main thread.
  }
}

async function main(): Promise<void> {
  await initBackend('cpu');
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'tag2pix-bench-data-'));
  const results: Record<string, unknown> = { count, source, size, batchSize, cores: os.cpus().length };
  try {
    const vocab = defaultVocabulary();
    for (const d of ['rgb_train', 'keras_train']) fs.mkdirSync(path.join(root, d));
    const lines: string[] = [];
    for (let i = 0; i < count; i++) {
      const s = generateCharacter(i, { size: source });
      fs.writeFileSync(path.join(root, 'rgb_train', `${i}.png`), await encodePng(s.color));
      fs.writeFileSync(path.join(root, 'keras_train', `${i}.png`), await encodePng(s.lineArt));
      const ids = vocab.parseTags([...s.tags.cit, ...s.tags.cvt, '1girl']).map((t) => t.id);
      lines.push([i, ...ids].join(' '));
    }
    fs.writeFileSync(path.join(root, 'tags.txt'), lines.join('\n') + '\n');

    // 1. Extraction.
    for (const workers of [os.availableParallelism?.() ?? os.cpus().length, 0]) {
      const out = path.join(root, workers > 0 ? 'xdog_train' : 'xdog_main');
      const t0 = performance.now();
      const r = await extractLineArtFolder(path.join(root, 'rgb_train'), out, { workers });
      const s = (performance.now() - t0) / 1000;
      results[`extract_${workers > 0 ? `workers${workers}` : 'main'}_images_per_s`] = +(r.written / s).toFixed(1);
      console.log(`extract-lineart, ${workers > 0 ? `${workers} workers` : 'main thread'}: ${r.written} images of ${source} px in ${s.toFixed(2)} s = ${(r.written / s).toFixed(1)} images/s`);
    }

    const dataset = await openDataset(root, { filter: false });
    const epoch = async (stepMs: number, prefetch: number) => {
      const loader = createDataLoader(dataset, { imageSize: size, batchSize, seed: 1, prefetch });
      const waits: number[] = [];
      const t0 = performance.now();
      let batches = 0;
      const it = loader.epoch(0);
      for (;;) {
        const w0 = performance.now();
        const r = await it.next();
        if (r.done) break;
        waits.push(performance.now() - w0);
        batches++;
        busy(stepMs);
        r.value.dispose();
      }
      const total = (performance.now() - t0) / 1000;
      // The first batch cannot be prefetched; steady state is what a long run sees.
      const steady = waits.slice(1);
      const mean = steady.reduce((a, b) => a + b, 0) / Math.max(1, steady.length);
      return { batches, total, firstWait: waits[0]!, meanWait: mean, maxWait: Math.max(...steady) };
    };

    // 2. Loader alone.
    const alone = await epoch(0, 2);
    results['loader_batches_per_s'] = +(alone.batches / alone.total).toFixed(2);
    results['loader_samples_per_s'] = +((alone.batches * batchSize) / alone.total).toFixed(1);
    console.log(
      `loader alone (${size} px, batch ${batchSize}, prefetch 2): ${(alone.batches / alone.total).toFixed(2)} batches/s ` +
        `= ${((alone.batches * batchSize) / alone.total).toFixed(1)} samples/s`,
    );

    // 3. Under a (simulated, synchronous) training step.
    for (const [stepMs, prefetch] of [[250, 2], [1000, 2], [1000, 0], [1000, 6]] as const) {
      const r = await epoch(stepMs, prefetch);
      results[`wait_ms_step${stepMs}_prefetch${prefetch}`] = { mean: +r.meanWait.toFixed(1), max: +r.maxWait.toFixed(1), first: +r.firstWait.toFixed(1) };
      console.log(
        `step ${stepMs} ms, prefetch ${prefetch}: next() waits ${r.meanWait.toFixed(1)} ms on average ` +
          `(max ${r.maxWait.toFixed(1)} ms, first batch ${r.firstWait.toFixed(1)} ms) = ${((100 * r.meanWait) / stepMs).toFixed(1)} % of the step`,
      );
    }
    console.log(loadNote());
    results['load'] = loadNote();
    if (jsonIndex >= 0) fs.writeFileSync(process.argv[jsonIndex + 1]!, JSON.stringify(results, null, 2) + '\n');
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
