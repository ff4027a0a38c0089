// From a folder of illustrations to training batches:
//   1. extract XDoG line art for every image (worker threads, like `tag2pix extract-lineart`),
//   2. write a manifest (colour, line art, tags),
//   3. open it as a dataset and pull one augmented batch.
//
//   npx tsx examples/extract-lineart.ts [images dir] [out dir] [tags]
//
// Defaults: ../shared/data/samples, demo-output/extract-lineart, and the tags 'long hair, skirt'.
// Any folder of PNG/JPEG/WebP pictures works; put your own tags per image in the manifest.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { initBackend, extractLineArtFolder, openDataset, createDataLoader } from '../src/node/index.js';

const inDir = process.argv[2] ?? '../shared/data/samples';
const outDir = process.argv[3] ?? 'demo-output/extract-lineart';
const tags = process.argv[4] ?? 'long hair, skirt';

async function main(): Promise<void> {
  await initBackend();
  const lineDir = path.join(outDir, 'xdog');
  const t0 = Date.now();
  const result = await extractLineArtFolder(inDir, lineDir, {
    overwrite: true,
    onProgress: (done, total, file) => console.log(`  [${done}/${total}] ${path.basename(file)}`),
  });
  console.log(`Extracted ${result.written} line art(s) into ${lineDir} in ${Date.now() - t0} ms`);
  for (const f of result.failed) console.log(`  skipped ${f.file}: ${f.error}`);

  // A manifest next to the outputs; paths are relative to it.
  const rows = fs
    .readdirSync(lineDir)
    .filter((f) => f.endsWith('.png'))
    .map((f) => {
      const name = path.basename(f, '.png');
      const color = fs.readdirSync(inDir).find((c) => path.basename(c, path.extname(c)) === name)!;
      return [path.relative(outDir, path.join(inDir, color)), `xdog/${f}`, `"${tags}"`].join(',');
    });
  const manifest = path.join(outDir, 'manifest.csv');
  fs.writeFileSync(manifest, ['colour,lineart,tags', ...rows].join('\n') + '\n');
  console.log(`Wrote ${manifest} (${rows.length} row(s))`);

  const dataset = await openDataset(manifest);
  console.log('Dataset:', JSON.stringify(dataset.report));
  const loader = createDataLoader(dataset, { imageSize: 256, batchSize: 2, seed: 1 });
  for await (const batch of loader.epoch(0)) {
    console.log(
      `Batch ${batch.index}: ids ${batch.ids.join(', ')}; lineArt [${batch.lineArt.shape}], colour [${batch.color.shape}], ` +
        `cit [${batch.cit.shape}], cvt [${batch.cvt.shape}]; tags ${JSON.stringify(dataset.vocabulary.decode(batch.cit.arraySync()[0]!, null).cit)}`,
    );
    batch.dispose();
    break;
  }
}

main().catch((err: unknown) => {
  console.error(`extract-lineart example: ${(err as Error).message}`);
  process.exitCode = 1;
});
