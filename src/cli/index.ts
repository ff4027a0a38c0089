import { Command } from 'commander';
import { version } from '../../package.json';
import { errorLines } from './errors.js';
// Each command lives in its own file under ./commands and registers itself here.

const program = new Command();
program
  .name('tag2pix')
  .description('Tag2Pix line-art colourisation on TensorFlow.js')
  .version(version, '-v, --version', 'print the version of tag2pix')
  .option('--backend <name>', 'webgpu, tensorflow, wasm or cpu (default: the fastest available; webgpu only on a real GPU)')
  // Each command's --help lists the global options too (--backend).
  .configureHelp({ showGlobalOptions: true })
  .showHelpAfterError();

// Errors are reported in the terms of the command that ran (its flags, not API names).
let active: Command | undefined;
program.hook('preAction', (_program, action) => {
  active = action;
});

// (command registrations go below, one line each)
(await import('./commands/synth.js')).registerSynthCommand(program);
(await import('./commands/demo.js')).registerDemoCommand(program);
(await import('./commands/extract-lineart.js')).registerExtractLineArtCommand(program);
(await import('./commands/colorize.js')).registerColorizeCommand(program);
(await import('./commands/tags.js')).registerTagsCommand(program);
(await import('./commands/train.js')).registerTrainCommand(program);

program.parseAsync(process.argv).catch((err: unknown) => {
  // A user error is reported as one clear line (and its hint), never a stack trace.
  for (const line of errorLines(err, active)) console.error(line);
  process.exitCode = 1;
});
