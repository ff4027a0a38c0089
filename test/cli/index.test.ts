// The program-level options of the `tag2pix` command line (src/cli/index.ts).
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const run = (args: string[]) =>
  promisify(execFile)(process.execPath, ['--import', 'tsx', path.join(repoRoot, 'src/cli/index.ts'), ...args], { cwd: repoRoot });
const { version } = JSON.parse(readFileSync(path.join(repoRoot, 'package.json'), 'utf8')) as { version: string };

describe('tag2pix --version', () => {
  it("prints package.json's version, alone on stdout, with --version and -v", async () => {
    expect(version).toMatch(/^\d+\.\d+\.\d+/);
    for (const flag of ['--version', '-v']) {
      const { stdout, stderr } = await run([flag]);
      expect(stdout).toBe(`${version}\n`);
      expect(stderr).toBe('');
    }
  });

  it('is listed in --help', async () => {
    const { stdout } = await run(['--help']);
    expect(stdout).toMatch(/-v, --version\s+print the version of tag2pix/);
  });
});
