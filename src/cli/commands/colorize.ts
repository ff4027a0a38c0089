import * as path from 'node:path';
import * as fs from 'node:fs/promises';
import type { Command } from 'commander';
import { initBackend } from '../../node/backend.js';
import { colorizeToPng } from '../../node/colorize.js';
import { HOW_TO_GET_WEIGHTS, loadColorizer } from '../../node/weights.js';

interface ColorizeCliOptions {
  tags: string;
  weights?: string[];
  out: string;
  size?: number;
  guide?: boolean;
}

function modelSize(value: string): number {
  const n = Number(value);
  if (n !== 256 && n !== 512) throw new Error(`--size must be 256 or 512, got '${value}'`);
  return n;
}

/** `tag2pix colorize`: colourises a line art with colour tags. */
export function registerColorizeCommand(program: Command): void {
  program
    .command('colorize')
    .description('Colourise a line art (PNG, JPEG or WebP) with colour tags')
    .argument('<lineart>', 'line-art image file')
    .requiredOption('--tags <list>', "colour tags, comma-separated (e.g. blue_hair,red_eyes; see 'tag2pix tags')")
    .option('--weights <paths...>', 'weight files or folders: generator (+ CIT extractor), safetensors or the official .pkl/.pth')
    .option('--out <file>', 'output PNG', 'out.png')
    .option('--size <px>', 'model size the weights must have: 256 or 512', modelSize)
    .option('--guide', "write the guide decoder's output instead of the final colour image")
    .addHelpText('after', `\nWeights:\n${HOW_TO_GET_WEIGHTS}`)
    .action(async (lineArt: string, opts: ColorizeCliOptions, cmd: Command) => {
      if (!opts.weights || opts.weights.length === 0) {
        throw new Error(`no weights given (--weights <dir or files>).\n${HOW_TO_GET_WEIGHTS}`);
      }
      const globals = cmd.optsWithGlobals<{ backend?: string }>();
      const report = await initBackend(globals.backend);
      const started = Date.now();
      const { generator, citExtractor, config, sources } = await loadColorizer(opts.weights, { size: opts.size });
      console.error(
        `tag2pix: backend ${report.backend}${report.webgpuAdapter ? ` (${report.webgpuAdapter.description})` : ''}; ${config.inputSize} px generator from ${sources.generator}` +
          (sources.citExtractor ? `, CIT extractor from ${sources.citExtractor}` : ''),
      );
      const png = await colorizeToPng({
        lineArt,
        tags: opts.tags.split(',').map((t) => t.trim()).filter((t) => t.length > 0),
        generator,
        citExtractor,
        output: opts.guide ? 'guide' : 'colour',
      });
      await fs.mkdir(path.dirname(path.resolve(opts.out)), { recursive: true });
      await fs.writeFile(opts.out, png);
      console.error(`tag2pix: wrote ${opts.out} in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    });
}
