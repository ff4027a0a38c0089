import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import * as os from 'node:os';
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

describe('examples/ablation.ts', () => {
  it('runs each block per seed and prints every run and the mean ± spread; --no-region-weights trains on the plain L1', () => {
    const out = mkdtempSync(path.join(os.tmpdir(), 'tag2pix-ablation-'));
    try {
      const stdout = execFileSync(
        process.execPath,
        ['--import', 'tsx', path.join(root, 'examples/ablation.ts'), '--quick', '--seeds', '1', '--first-seed', '4', '--blocks', 'secat,concat-front', '--no-region-weights', '--out', out],
        { cwd: root, encoding: 'utf8', env: { ...process.env, TAG2PIX_BACKEND: 'wasm' }, maxBuffer: 64 * 1024 * 1024 },
      );
      expect(stdout).toMatch(/^\| secat \| 4 \| 8 \| /m);
      expect(stdout).toMatch(/^\| concat-front \| 4 \| 8 \| /m);
      expect(stdout).toContain('Mean ± spread (half the range) over 1 seed, in %:');
      expect(stdout).toMatch(/^\| concat-front \| [\d.]+ ± 0\.0 \| /m);
      for (const block of ['secat', 'concat-front']) {
        const report = readFileSync(path.join(out, `${block}-seed4`, 'report.md'), 'utf8');
        expect(report).toContain('"regionWeights":{}');
        expect(report).toContain(`"decoderBlock":"${block}"`);
      }
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  }, 300_000);
});
