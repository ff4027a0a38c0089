// `tag2pix demo` as a user runs it: the quick smoke run (a warm-up epoch, then an adversarial
// one) with a custom critic, and a bad option reported in one line.
import { execFile } from 'node:child_process';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { readStepLog } from '../../src/node/train.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const run = (args: string[]) =>
  promisify(execFile)(process.execPath, ['--import', 'tsx', path.join(repoRoot, 'src/cli/index.ts'), '--backend', 'wasm', 'demo', ...args], {
    cwd: repoRoot,
    env: { ...process.env, TAG2PIX_BACKEND: '' },
  });

describe('tag2pix demo (CLI)', () => {
  const dirs: string[] = [];
  afterAll(async () => {
    for (const d of dirs) await fs.rm(d, { recursive: true, force: true });
  });

  it('--quick runs a warm-up epoch then an adversarial one and writes the grid, curves and report', async () => {
    const out = await fs.mkdtemp(path.join(os.tmpdir(), 'tag2pix-demo-cli-'));
    dirs.push(out);
    const { stdout } = await run(['--quick', '--size', '32', '--out', out, '--d-blocks', '1,1,1,1+1']);
    expect(stdout).toMatch(/reconstruction warm-up \(G alone\) for epochs 1–1/);
    const report = JSON.parse(await fs.readFile(path.join(out, 'report.json'), 'utf8')) as { steps: number; history: unknown[] };
    expect(report.history).toHaveLength(2);
    const log = await readStepLog(path.join(out, 'run', 'log.jsonl'));
    expect(new Set(log.map((r) => r.stage))).toEqual(new Set(['warm-up', 'colourisation']));
    expect(log).toHaveLength(report.steps);
    // The critic got one bottleneck after conv5 (conv6), as --d-blocks asked.
    const checkpoint = await fs.readFile(path.join(out, 'run', 'checkpoint.safetensors'));
    const header = checkpoint.subarray(8, 8 + Number(checkpoint.readBigUInt64LE(0))).toString('utf8');
    expect(header).toContain('conv6.0.0');
    expect(header).not.toContain('conv7.0.0');
    expect(header).not.toContain('conv2.0.1');
    for (const file of ['figure8-grid.png', 'loss-curve.png', 'report.md']) await expect(fs.stat(path.join(out, file))).resolves.toBeTruthy();
  });

  it('checks --colors-per-line-art, and still takes its name before 0.2.0', async () => {
    const bad = (flag: string) => run(['--quick', flag, '0']).catch((e: { stderr: string; code: number }) => e) as Promise<{ stderr: string; code: number }>;
    const current = await bad('--colors-per-line-art');
    expect(current.code).toBe(1);
    expect(current.stderr).toMatch(/^tag2pix: --colors-per-line-art must be a positive integer, got '0'/m);
    const legacy = await bad('--colours-per-line-art'); // keep-spelling: the old flag
    expect(legacy.code).toBe(1);
    expect(legacy.stderr).toMatch(/^tag2pix: --colours-per-line-art must be a positive integer, got '0'/m); // keep-spelling
  });

  it('reports a bad --d-blocks in one line', async () => {
    const err = await run(['--quick', '--d-blocks', '1,1,1']).catch((e: { stderr: string; code: number }) => e);
    expect((err as { code: number }).code).toBe(1);
    expect((err as { stderr: string }).stderr).toMatch(/^tag2pix: --d-blocks needs four positive counts and the count after them, like 1,1,1,1\+0/m);
  });
});
