import cliProgress from 'cli-progress';

/**
 * The progress bar a folder command (`synth`, `extract-lineart`) shows on stderr, labelled with
 * the command's name; undefined when stderr is not a terminal, so logs and pipes stay clean.
 */
export function commandProgressBar(command: string): cliProgress.SingleBar | undefined {
  if (!process.stderr.isTTY) return undefined;
  return new cliProgress.SingleBar(
    { format: `${command} [{bar}] {value}/{total} {eta_formatted} left`, stream: process.stderr },
    cliProgress.Presets.shades_classic,
  );
}
