import * as path from 'node:path';
import type { Command } from 'commander';
import { resolveColorTags } from '../../data/tags.js';
import { OptionError } from '../../errors.js';
import { initBackend } from '../../node/backend.js';
import { colorizeToPng } from '../../node/colorize.js';
import { checkOutputFile, removeStaleTemporaries, writeOutputFile } from '../../node/files.js';
import { DEFAULT_MAX_PIXELS, checkImage } from '../../node/image.js';
import { HOW_TO_GET_WEIGHTS, listWeightFiles, loadColorizer } from '../../node/weights.js';
import { nameOptions } from '../errors.js';
import { pixelCount } from '../options.js';

interface ColorizeCliOptions {
  tags: string;
  weights?: string[];
  out: string;
  size?: number;
  guide?: boolean;
  overwrite?: boolean;
  maxPixels?: number;
}

function modelSize(value: string): number {
  const n = Number(value);
  if (n !== 256 && n !== 512) throw new OptionError(`--size must be 256 or 512, got '${value}'.`);
  return n;
}

/** `tag2pix colorize`: colourises a line art with colour tags. */
export function registerColorizeCommand(program: Command): void {
  const command = program
    .command('colorize')
    .description('Colourise a line art (PNG, JPEG or WebP) with colour tags')
    .argument('<lineart>', 'line-art image file')
    .requiredOption('--tags <list>', "colour tags, comma-separated (e.g. blue_hair,red_eyes; see 'tag2pix tags')")
    .option('--weights <paths...>', 'weight files or folders: generator (+ CIT extractor), safetensors or the official .pkl/.pth')
    .option('--out <file>', 'output PNG', 'out.png')
    .option('--overwrite', 'replace --out if it exists (never the line art or a weight file)')
    .option('--size <px>', 'model size the weights must have: 256 or 512', modelSize)
    .option('--guide', "write the guide decoder's output instead of the final colour image")
    .option(
      '--max-pixels <n>',
      `largest line art accepted, in pixels (default ${DEFAULT_MAX_PIXELS} = 4096x4096; e.g. 8192x8192)`,
      pixelCount('--max-pixels'),
    )
    .addHelpText('after', `\nWeights:\n${HOW_TO_GET_WEIGHTS}`)
    .action(async (lineArt: string, opts: ColorizeCliOptions, cmd: Command) => {
      if (!opts.weights || opts.weights.length === 0) {
        throw new OptionError('no weights given (--weights <dir or files>).', { option: 'sources', hint: HOW_TO_GET_WEIGHTS });
      }
      // Everything the user typed is checked before the weights are read (seconds, hundreds of MB).
      resolveColorTags(opts.tags);
      await checkImage(lineArt, { maxPixels: opts.maxPixels });
      const weightFiles = await listWeightFiles(opts.weights);
      const output = { inputs: [lineArt, ...weightFiles], overwrite: opts.overwrite ?? false, option: 'out' };
      await checkOutputFile(opts.out, output);

      const globals = cmd.optsWithGlobals<{ backend?: string }>();
      const report = await initBackend(globals.backend);
      const started = Date.now();
      // The weights are read only now that everything the user typed has passed its checks.
      const colorizer = await loadColorizer(weightFiles, { size: opts.size });
      try {
        const { generator, citExtractor, config, sources } = colorizer;
        console.error(
          `tag2pix: backend ${report.backend}${report.webgpuAdapter ? ` (${report.webgpuAdapter.description})` : ''}; ${config.inputSize} px generator from ${sources.generator}` +
            (sources.citExtractor ? `, CIT extractor from ${sources.citExtractor}` : ''),
        );
        const png = await colorizeToPng({
          lineArt,
          tags: opts.tags,
          generator,
          citExtractor,
          output: opts.guide ? 'guide' : 'colour',
          maxPixels: opts.maxPixels,
        });
        // A run killed while writing this output left its temporary beside it: remove that first.
        await removeStaleTemporaries(path.dirname(path.resolve(opts.out)), (base) => base === path.basename(opts.out));
        await writeOutputFile(opts.out, png, output);
        // The result on stdout; the messages above on stderr.
        console.log(`tag2pix: wrote ${opts.out} in ${((Date.now() - started) / 1000).toFixed(1)} s`);
      } finally {
        colorizer.dispose();
      }
    });
  nameOptions(command, { lineArt: '<lineart>', sources: '--weights' });
}
