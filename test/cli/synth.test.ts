// `tag2pix synth`: progress on stderr and the result on stdout without a terminal; a folder that
// already holds a dataset is refused, or (--overwrite, for its own datasets only) replaced
// without leaving an older image behind.
import { execFile } from 'node:child_process';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const run = (args: string[]) =>
  promisify(execFile)(process.execPath, ['--import', 'tsx', path.join(repoRoot, 'src/cli/index.ts'), 'synth', '--size', '32', ...args], {
    cwd: repoRoot,
  });
const failure = (args: string[]) => run(args).then(() => ({ stderr: '', code: 0 }), (e: { stderr: string; code: number }) => e);

const root = await fs.mkdtemp(path.join(os.tmpdir(), 'tag2pix-synth-cli-'));
afterAll(() => fs.rm(root, { recursive: true, force: true }));

const listing = async (dir: string) => (await fs.readdir(dir)).sort();

describe('tag2pix synth', () => {
  it('reports progress on stderr and the result on stdout when no terminal is attached', async () => {
    const out = path.join(root, 'plain');
    const { stdout, stderr } = await run(['--count', '3', '--out', out]);
    expect(stderr).toMatch(/^synth: 3\/3$/m);
    expect(stdout).toMatch(/^Wrote 3 characters \(32 px\) in [\d.]+ s to .*manifest\.jsonl\n$/);
  });

  it('refuses a folder with a synthetic dataset, and with --overwrite replaces it with no older image left', async () => {
    const out = path.join(root, 'again');
    await run(['--count', '6', '--out', out, '--regions']);
    expect(await listing(path.join(out, 'colour'))).toHaveLength(6);
    await fs.writeFile(path.join(out, 'colour', 'mine.txt'), 'a file synth did not write');

    const refused = await failure(['--count', '2', '--out', out]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/already holds a synthetic dataset \(6 characters\); add --overwrite to replace it/);
    expect(await listing(path.join(out, 'colour'))).toHaveLength(7); // untouched

    await run(['--count', '2', '--out', out, '--overwrite']);
    expect(await listing(path.join(out, 'colour'))).toEqual(['000000.png', '000001.png', 'mine.txt']);
    expect(await listing(path.join(out, 'lineart'))).toEqual(['000000.png', '000001.png']);
    expect(await listing(path.join(out, 'regions'))).toEqual([]);
    const manifest = (await fs.readFile(path.join(out, 'manifest.jsonl'), 'utf8')).trim().split('\n');
    expect(manifest).toHaveLength(2);
    expect(JSON.parse(await fs.readFile(path.join(out, 'synth.json'), 'utf8'))).toMatchObject({ count: 2 });
  });

  it('never writes into a dataset it did not make, even with --overwrite', async () => {
    const out = path.join(root, 'theirs');
    await fs.mkdir(path.join(out, 'colour'), { recursive: true });
    await fs.writeFile(path.join(out, 'colour', '000000.png'), 'their picture');
    await fs.writeFile(path.join(out, 'manifest.jsonl'), '{"id":"x"}\n');
    for (const extra of [[], ['--overwrite']]) {
      const refused = await failure(['--count', '2', '--out', out, ...extra]);
      expect(refused.stderr).toMatch(/already holds 'manifest.jsonl', 'colour', which tag2pix synth did not write/);
    }
    expect(await fs.readFile(path.join(out, 'colour', '000000.png'), 'utf8')).toBe('their picture');
    expect(await fs.readFile(path.join(out, 'manifest.jsonl'), 'utf8')).toBe('{"id":"x"}\n');
  });
});
