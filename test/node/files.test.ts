import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { OutputError } from '../../src/errors.js';
import { checkOutputFile, realPathOf, removeStaleTemporaries, writeFileAtomic, writeOutputFile } from '../../src/node/files.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
// tsx as a loader in the one node process (the tsx CLI would run the script in a child process,
// which a SIGKILL of the CLI does not reach).
const TSX_LOADER = pathToFileURL(path.join(ROOT, 'node_modules', 'tsx', 'dist', 'loader.mjs')).href;
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tag2pix-files-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

describe('realPathOf', () => {
  it('gives one name for a file reached through a symlink, a `..` or a folder link, existing or not', async () => {
    const real = path.join(dir, 'real');
    fs.mkdirSync(real);
    fs.writeFileSync(path.join(real, 'a.png'), 'a');
    fs.symlinkSync(real, path.join(dir, 'link'));
    fs.symlinkSync(path.join(real, 'a.png'), path.join(dir, 'a-link.png'));
    const want = fs.realpathSync(path.join(real, 'a.png'));
    expect(await realPathOf(path.join(dir, 'link', 'a.png'))).toBe(want);
    expect(await realPathOf(path.join(dir, 'a-link.png'))).toBe(want);
    expect(await realPathOf(path.join(real, '..', 'real', 'a.png'))).toBe(want);
    expect(await realPathOf(path.join(dir, 'link', 'not-yet', 'b.png'))).toBe(path.join(fs.realpathSync(real), 'not-yet', 'b.png'));
  });
});

describe('checkOutputFile and writeOutputFile (issue 17, items 11 and 18)', () => {
  it('never writes over an input, by any path, even when asked to overwrite', async () => {
    const input = path.join(dir, 'same.png');
    fs.writeFileSync(input, 'line art');
    fs.symlinkSync(input, path.join(dir, 'same-link.png'));
    for (const out of [input, path.join(dir, 'same-link.png'), path.join(dir, '.', 'real', '..', 'same.png')]) {
      const err = await writeOutputFile(out, 'colourised', { inputs: [input], overwrite: true }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(OutputError);
      expect((err as Error).message).toMatch(/^out '.*' is the input '.*same\.png'.*; writing it would destroy the input\. Choose another out\./);
    }
    expect(fs.readFileSync(input, 'utf8')).toBe('line art');
  });

  it('names a folder given as the output, and an existing file unless overwrite', async () => {
    await expect(checkOutputFile(dir)).rejects.toThrow(/^out '.*' is a folder; give a file name/);
    const existing = path.join(dir, 'existing.png');
    fs.writeFileSync(existing, 'old');
    await expect(checkOutputFile(existing)).rejects.toThrow(/already exists; choose another name or pass overwrite: true to replace it/);
    await expect(checkOutputFile(existing, { option: 'output' })).rejects.toThrow(/^output '/);
    await writeOutputFile(existing, 'new', { overwrite: true });
    expect(fs.readFileSync(existing, 'utf8')).toBe('new');
    await writeOutputFile(path.join(dir, 'deep', 'er', 'new.png'), 'x');
    expect(fs.readFileSync(path.join(dir, 'deep', 'er', 'new.png'), 'utf8')).toBe('x');
  });

  it('replaces a symlink at the output instead of writing through it', async () => {
    const target = path.join(dir, 'target.txt');
    fs.writeFileSync(target, 'keep me');
    const link = path.join(dir, 'out-link.txt');
    fs.symlinkSync(target, link);
    await writeFileAtomic(link, 'replaced');
    expect(fs.readFileSync(target, 'utf8')).toBe('keep me');
    expect(fs.lstatSync(link).isSymbolicLink()).toBe(false);
    expect(fs.readFileSync(link, 'utf8')).toBe('replaced');
  });
});

describe('temporary files and kill -9 (issue 17, item 13)', () => {
  it('removes the temporaries of dead processes only', async () => {
    const run = path.join(dir, 'run');
    fs.mkdirSync(run);
    const dead = 2 ** 22 + 12345; // above pid_max's default: no such process
    const stale = path.join(run, `checkpoint.safetensors.tmp-${dead}-1700000000000`);
    const live = path.join(run, `checkpoint.safetensors.tmp-${process.pid}-1700000000000`);
    const other = path.join(run, 'notes.tmp-1-2-3');
    for (const f of [stale, live, other]) fs.writeFileSync(f, 'x');
    expect(await removeStaleTemporaries(run)).toEqual([stale]);
    expect(fs.readdirSync(run).sort()).toEqual([path.basename(live), path.basename(other)].sort());
    expect(await removeStaleTemporaries(path.join(dir, 'no-such-folder'))).toEqual([]);
  });

  it('a process killed with SIGKILL while writing leaves the last whole file; its temporary is removed next time', async () => {
    // A child rewrites an 8 MB file over and over, each version filled with its number.
    const target = path.join(dir, 'kill', 'checkpoint.bin');
    fs.mkdirSync(path.dirname(target), { recursive: true });
    const script = path.join(dir, 'writer.mts');
    fs.writeFileSync(
      script,
      `import { writeFileAtomic } from ${JSON.stringify(path.join(ROOT, 'src', 'node', 'files.ts'))};\n` +
        `const size = 8 * 1024 * 1024;\n` +
        `for (let n = 1; ; n++) { await writeFileAtomic(${JSON.stringify(target)}, new Uint8Array(size).fill(n % 251)); process.stdout.write('.'); }\n`,
    );
    let lastVersion = -1;
    let removedTotal = 0;
    for (let round = 0; round < 4; round++) {
      const child = spawn(process.execPath, ['--import', TSX_LOADER, script], { stdio: ['ignore', 'pipe', 'inherit'] });
      // Wait for a few whole writes, then kill at a moment that varies per round.
      await new Promise<void>((resolve) => {
        let dots = 0;
        child.stdout.on('data', (d: Buffer) => {
          dots += d.length;
          if (dots >= 2 + round) resolve();
        });
      });
      // Round 0 kills at once, wherever the writer is; later rounds wait until a temporary exists,
      // so that (however loaded the machine) some kills land inside a write.
      if (round > 0) {
        const deadline = Date.now() + 10_000;
        while (!fs.readdirSync(path.dirname(target)).some((n) => n.includes('.tmp-')) && Date.now() < deadline) {
          await new Promise((r) => setTimeout(r, 1));
        }
        await new Promise((r) => setTimeout(r, round - 1));
      }
      child.kill('SIGKILL');
      await new Promise((r) => child.once('exit', r));
      const bytes = fs.readFileSync(target);
      expect(bytes.length).toBe(8 * 1024 * 1024);
      expect(bytes.every((b) => b === bytes[0])).toBe(true);
      lastVersion = bytes[0]!;
      const removed = await removeStaleTemporaries(path.dirname(target));
      removedTotal += removed.length;
      expect(fs.readdirSync(path.dirname(target))).toEqual(['checkpoint.bin']);
      expect(removed.every((f) => /checkpoint\.bin\.tmp-\d+-\d+$/.test(f))).toBe(true);
    }
    expect(lastVersion).toBeGreaterThan(0);
    // The writer is always inside a write, so kills leave temporaries behind: they were removed.
    expect(removedTotal).toBeGreaterThan(0);
  }, 120_000);
});
