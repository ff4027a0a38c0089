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

describe('global options', () => {
  it("are listed in each command's --help (colorize --help shows --backend)", async () => {
    for (const command of ['colorize', 'train', 'synth']) {
      const { stdout } = await run([command, '--help']);
      expect(stdout, command).toMatch(/Global Options:[\s\S]*--backend <name>\s+webgpu, tensorflow, wasm or cpu/);
    }
  });
});
