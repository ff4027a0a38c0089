import * as os from 'node:os';
import type { Command } from 'commander';
import cliProgress from 'cli-progress';
import { extractLineArtFolder } from '../../node/lineart.js';
import { finiteNumber as finite, integer } from '../options.js';

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
}

/** `tag2pix extract-lineart <in> <out>`: builds a line-art folder (e.g. xdog_train) from colour images. */
export function registerExtractLineArtCommand(program: Command): void {
  program
    .command('extract-lineart')
    .description('Extract line art from a folder of colour images (PNG/JPEG/WebP), e.g. to build xdog_train')
    .argument('<in>', 'folder of colour images')
    .argument('<out>', 'output folder; each image becomes <out>/<name>.png')
    .option('--method <name>', 'extraction method (only xdog is built in)', 'xdog')
    .option('--size <px>', 'scale so the longer side is this many pixels (default: keep the size)', integer('--size', 1))
    .option('--workers <n>', `worker threads (default: one per core, ${os.availableParallelism?.() ?? os.cpus().length} here)`, integer('--workers', 1))
    .option('--overwrite', 'replace existing outputs (default: keep them, so a run can continue)')
    .option('--sigma <v>', 'XDoG sigma (default 0.4)', finite('--sigma'))
    .option('--k <v>', 'XDoG k: the wide Gaussian is k*sigma (default 2.5)', finite('--k'))
    .option('--gamma <v>', 'XDoG gamma (default 0.95)', finite('--gamma'))
    .option('--epsilon <v>', 'XDoG epsilon (default -0.5)', finite('--epsilon'))
    .option('--phi <v>', 'XDoG phi (default 1e9)', finite('--phi'))
    .action(async (inDir: string, outDir: string, opts: ExtractOptions) => {
      if (opts.method !== 'xdog') throw new Error(`unknown --method '${opts.method}': only xdog is built in`);
      const xdog = Object.fromEntries(
        (['sigma', 'k', 'gamma', 'epsilon', 'phi'] as const).filter((k) => opts[k] !== undefined).map((k) => [k, opts[k]]),
      );
      const tty = process.stderr.isTTY;
      const bar = tty
        ? new cliProgress.SingleBar(
            { format: 'extract-lineart [{bar}] {value}/{total} {eta_formatted} left', stream: process.stderr },
            cliProgress.Presets.shades_classic,
          )
        : undefined;
      let started = false;
      const t0 = Date.now();
      const result = await extractLineArtFolder(inDir, outDir, {
        method: 'xdog',
        xdog,
        size: opts.size,
        workers: opts.workers,
        overwrite: opts.overwrite ?? false,
        onProgress: (done, total) => {
          if (bar) {
            if (!started) {
              bar.start(total, 0);
              started = true;
            }
            bar.update(done);
          } else if (done % 100 === 0 || done === total) {
            console.log(`extract-lineart: ${done}/${total}`);
          }
        },
      });
      bar?.stop();
      for (const f of result.failed) console.warn(`tag2pix: skipped '${f.file}': ${f.error}`);
      console.log(
        `Wrote ${result.written} line arts to ${outDir} in ${((Date.now() - t0) / 1000).toFixed(1)} s` +
          (result.existing ? ` (${result.existing} already there, kept)` : '') +
          (result.failed.length ? `; ${result.failed.length} unreadable file(s) skipped` : '') +
          '.',
      );
      if (result.written + result.existing === 0) process.exitCode = 1;
    });
}
