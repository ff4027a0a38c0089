import * as os from 'node:os';
import type { Command } from 'commander';
import { OptionError, quoteValue } from '../../errors.js';
import { DEFAULT_MAX_PIXELS } from '../../node/image.js';
import { extractLineArtFolder } from '../../node/lineart.js';
import { nameOptions } from '../errors.js';
import { finiteNumber, integer, pixelCount } from '../options.js';
import { commandProgressBar } from '../progress.js';

interface ExtractOptions {
  method: string;
  size?: number;
  workers?: number;
  overwrite?: boolean;
  sigma?: number;
  k?: number;
  gamma?: number;
  epsilon?: number;
  phi?: number;
  maxPixels?: number;
}

/** `tag2pix extract-lineart <in> <out>`: builds a line-art folder (e.g. xdog_train) from colour images. */
export function registerExtractLineArtCommand(program: Command): void {
  const command = program
    .command('extract-lineart')
    .description('Extract line art from a folder of colour images (PNG/JPEG/WebP), e.g. to build xdog_train')
    .argument('<in>', 'folder of colour images')
    .argument('<out>', 'output folder; each image becomes <out>/<name>.png')
    .option('--method <name>', 'extraction method (only xdog is built in)', 'xdog')
    .option('--size <px>', 'scale so the longer side is this many pixels (default: keep the size)', integer('--size', 1))
    .option('--workers <n>', `worker threads (default: one per core, ${os.availableParallelism?.() ?? os.cpus().length} here)`, integer('--workers', 1))
    .option('--overwrite', 'replace existing outputs (default: keep them, so a run can continue)')
    .option('--sigma <v>', 'XDoG sigma (default 0.4)', finiteNumber('--sigma'))
    .option('--k <v>', 'XDoG k: the wide Gaussian is k*sigma (default 2.5)', finiteNumber('--k'))
    .option('--gamma <v>', 'XDoG gamma (default 0.95)', finiteNumber('--gamma'))
    .option('--epsilon <v>', 'XDoG epsilon (default -0.5)', finiteNumber('--epsilon'))
    .option('--phi <v>', 'XDoG phi (default 1e9)', finiteNumber('--phi'))
    .option(
      '--max-pixels <n>',
      `largest image accepted, in pixels (default ${DEFAULT_MAX_PIXELS} = 4096x4096; e.g. 8192x8192)`,
      pixelCount('--max-pixels'),
    )
    .action(async (inDir: string, outDir: string, opts: ExtractOptions) => {
      if (opts.method !== 'xdog') throw new OptionError(`unknown --method ${quoteValue(opts.method, 40)}: only xdog is built in.`);
      const xdog = Object.fromEntries(
        (['sigma', 'k', 'gamma', 'epsilon', 'phi'] as const).filter((k) => opts[k] !== undefined).map((k) => [k, opts[k]]),
      );
      const bar = commandProgressBar('extract-lineart');
      let started = false;
      const t0 = Date.now();
      const result = await extractLineArtFolder(inDir, outDir, {
        method: 'xdog',
        xdog,
        size: opts.size,
        workers: opts.workers,
        overwrite: opts.overwrite ?? false,
        maxPixels: opts.maxPixels,
        onProgress: (done, total) => {
          if (bar) {
            if (!started) {
              bar.start(total, 0);
              started = true;
            }
            bar.update(done);
          } else if (done % 100 === 0 || done === total) {
            console.error(`extract-lineart: ${done}/${total}`);
          }
        },
      });
      bar?.stop();
      for (const f of result.removedTemporaries) console.warn(`tag2pix: removed ${f}, left by a run killed while writing it`);
      for (const r of result.renamed) console.warn(`tag2pix: ${r.file} shares its output name with another input; written as ${r.output}`);
      for (const f of result.failed) console.warn(`tag2pix: skipped ${quoteValue(f.file, 200)}: ${f.error}`);
      console.log(
        `Wrote ${result.written} line arts to ${outDir} in ${((Date.now() - t0) / 1000).toFixed(1)} s` +
          (result.existing ? ` (${result.existing} already there, kept)` : '') +
          (result.failed.length ? `; ${result.failed.length} unreadable file(s) skipped` : '') +
          '.',
      );
      if (result.written + result.existing === 0) process.exitCode = 1;
    });
  nameOptions(command, { inDir: '<in>', outDir: '<out>' });
}
