import type { Command } from 'commander';
import { writeSynthDataset } from '../../node/synth.js';
import { integer, probability } from '../options.js';
import { commandProgressBar } from '../progress.js';

/** `tag2pix synth`: writes a synthetic character dataset (manifest layout). */
export function registerSynthCommand(program: Command): void {
  program
    .command('synth')
    .description('Generate synthetic anime-style characters with line art and tags (a manifest dataset)')
    .option('--count <n>', 'number of characters', integer('--count', 1), 2000)
    .option('--size <px>', 'image size in pixels (multiple of 16)', integer('--size', 1), 128)
    .option('--out <dir>', 'output folder', 'data/synth')
    .option('--seed <n>', 'dataset seed, an integer: the same seed gives the same images', integer('--seed', 0), 0)
    .option('--dress <p>', 'probability of a dress instead of shirt and skirt', probability('--dress'), 0.3)
    .option('--hat <p>', 'probability of a hat', probability('--hat'), 0.25)
    .option('--bow <p>', 'probability of a hair bow', probability('--bow'), 0.3)
    .option('--regions', 'also write region label maps (regions/*.png) for evaluation')
    .option('--overwrite', 'replace a synthetic dataset already in --out (its images are removed first)')
    .action(async (opts: { count: number; size: number; out: string; seed: number; dress: number; hat: number; bow: number; regions?: boolean; overwrite?: boolean }) => {
      const bar = commandProgressBar('synth');
      bar?.start(opts.count, 0);
      const started = Date.now();
      const result = await writeSynthDataset({
        out: opts.out,
        count: opts.count,
        size: opts.size,
        seed: opts.seed,
        dressProbability: opts.dress,
        hatProbability: opts.hat,
        bowProbability: opts.bow,
        regions: opts.regions ?? false,
        overwrite: opts.overwrite ?? false,
        onProgress: (done, total) => {
          if (bar) bar.update(done);
          // Progress on stderr, the result on stdout, with or without a terminal.
          else if (done % 250 === 0 || done === total) console.error(`synth: ${done}/${total}`);
        },
      });
      bar?.stop();
      console.log(`Wrote ${result.count} characters (${opts.size} px) in ${((Date.now() - started) / 1000).toFixed(1)} s to ${result.manifest}`);
    });
}
