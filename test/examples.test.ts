import { execFileSync } from 'node:child_process';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

describe('README example', () => {
  it('examples/secat-bottleneck.ts runs as a user would run it and prints the output shape', () => {
    const out = execFileSync(
      process.execPath,
      ['--import', 'tsx', path.join(root, 'examples/secat-bottleneck.ts')],
      { cwd: root, encoding: 'utf8', env: { ...process.env, TAG2PIX_BACKEND: 'cpu' } },
    );
    expect(out).toContain('[ 2, 16, 16, 128 ]');
  });
});
