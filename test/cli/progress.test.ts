import { afterEach, describe, expect, it } from 'vitest';
import { commandProgressBar } from '../../src/cli/progress.js';

describe('commandProgressBar', () => {
  const wasTTY = process.stderr.isTTY;
  afterEach(() => {
    process.stderr.isTTY = wasTTY;
  });

  it('shows no bar when stderr is not a terminal', () => {
    process.stderr.isTTY = false;
    expect(commandProgressBar('synth')).toBeUndefined();
  });

  it('labels the bar with the command on a terminal', () => {
    process.stderr.isTTY = true;
    const bar = commandProgressBar('extract-lineart');
    expect(bar).toBeDefined();
    const format = (bar as unknown as { options: { format: string } }).options.format;
    expect(format).toBe('extract-lineart [{bar}] {value}/{total} {eta_formatted} left');
  });
});
