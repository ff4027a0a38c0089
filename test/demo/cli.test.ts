// `tag2pix demo` as a user runs it: the quick smoke run (a warm-up epoch, then an adversarial
// one) with a custom critic, `tag2pix colorize` with what it wrote, and a bad option reported in
// one line.
import { execFile } from 'node:child_process';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import sharp from 'sharp';
import { afterAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { colorize } from '../../src/node/colorize.js';
import { initBackend } from '../../src/node/backend.js';
import { readStepLog } from '../../src/node/train.js';
import { loadColorizer } from '../../src/node/weights.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const cli = (args: string[]) =>
  promisify(execFile)(process.execPath, ['--import', 'tsx', path.join(repoRoot, 'src/cli/index.ts'), '--backend', 'wasm', ...args], {
    cwd: repoRoot,
    env: { ...process.env, TAG2PIX_BACKEND: '' },
  });
const run = (args: string[]) => cli(['demo', ...args]);

describe('tag2pix demo (CLI)', () => {
  const dirs: string[] = [];
  afterAll(async () => {
    for (const d of dirs) await fs.rm(d, { recursive: true, force: true });
  });

  // The quick run's output folder, which the colorize test uses.
  let quickOut = '';

  it('--quick runs a warm-up epoch then an adversarial one and writes the grid, curves and report (progress on stderr, results on stdout)', async () => {
    const out = await fs.mkdtemp(path.join(os.tmpdir(), 'tag2pix-demo-cli-'));
    dirs.push(out);
    quickOut = out;
    const { stdout, stderr } = await run(['--quick', '--size', '32', '--out', out, '--d-blocks', '1,1,1,1+1', '--region-weights', 'eyes=4, bow=2', '--close-up-border', '0.25', '--flip-probability', '1', '--lr-ramp', '3']);
    // Progress on stderr (no terminal: lines, not a bar); the results and the files written on stdout.
    expect(stderr).toMatch(/^backend: wasm/m);
    expect(stderr).toMatch(/reconstruction warm-up \(G alone\) for epochs 1–1/);
    expect(stderr).toMatch(/^epoch 2\/2: stage /m);
    expect(stderr).toMatch(/^after epoch 2: tag accuracy /m);
    expect(stderr).not.toMatch(/Tag accuracy on held-out characters|^Wrote /m);
    expect(stdout).toMatch(/^\nTag accuracy on held-out characters [^\n]*:\n/);
    expect(stdout).toMatch(/^L1 \(colour output\) [\d.]+ → [\d.]+ over \d+ steps/m);
    expect(stdout).toContain(`Wrote ${path.join(out, 'loss-curve.png')}, `);
    expect(stdout).toMatch(/report\.md, .*report\.json\n$/);
    expect(stdout).not.toMatch(/^(backend|data|model|epoch|after epoch)\b/m);
    const report = JSON.parse(await fs.readFile(path.join(out, 'report.json'), 'utf8')) as { steps: number; history: unknown[] };
    expect(report.history).toHaveLength(2);
    // The framing options reach the run and its report.
    expect(await fs.readFile(path.join(out, 'report.md'), 'utf8')).toMatch(/"flipProbability":1,"closeUpBorder":0.25,"regionWeights":\{"eyes":4,"bow":2\}/);
    // So does the ramp: a third of the rate in step 1, all of it from step 3 on (4 steps an epoch).
    expect(await fs.readFile(path.join(out, 'report.md'), 'utf8')).toMatch(/"learningRateRamp":3,/);
    expect((report.history as Array<{ learningRate: number }>).map((h) => h.learningRate)).toEqual([2e-3, 1e-3]);
    const log = await readStepLog(path.join(out, 'run', 'log.jsonl'));
    expect(new Set(log.map((r) => r.stage))).toEqual(new Set(['warm-up', 'colourisation']));
    expect(log).toHaveLength(report.steps);
    // The critic got one bottleneck after conv5 (conv6), as --d-blocks asked.
    const checkpoint = await fs.readFile(path.join(out, 'run', 'checkpoint.safetensors'));
    const header = checkpoint.subarray(8, 8 + Number(checkpoint.readBigUInt64LE(0))).toString('utf8');
    expect(header).toContain('conv6.0.0');
    expect(header).not.toContain('conv7.0.0');
    expect(header).not.toContain('conv2.0.1');
    // The region weights asked for are the run's (its report states its recipe).
    expect(await fs.readFile(path.join(out, 'report.md'), 'utf8')).toContain('"regionWeights":{"eyes":4,"bow":2}');
    for (const file of ['figure8-grid.png', 'loss-curve.png', 'report.md', 'generator.safetensors', 'cit_extractor.safetensors']) {
      await expect(fs.stat(path.join(out, file))).resolves.toBeTruthy();
    }
    expect(stderr).toMatch(/^CIT extractor \(synthetic\): [\d,]+ parameters, pretrained for 20 steps in/m);
    expect(stdout).toContain(`tag2pix colorize <line art> --tags blue_hair,red_eyes --weights ${out}`);
  });

  it("colorize colours a synthetic line art with the demo's generator and extractor (--weights <demo output>)", async () => {
    expect(quickOut).not.toBe('');
    const work = await fs.mkdtemp(path.join(os.tmpdir(), 'tag2pix-demo-colorize-'));
    dirs.push(work);
    await cli(['synth', '--count', '1', '--size', '32', '--seed', '4', '--out', path.join(work, 'synth')]);
    const lineArt = path.join(work, 'synth', 'lineart', '000000.png');
    const outPng = path.join(work, 'colored.png');
    const tags = 'blue_hair,red_eyes,white_background';
    const { stderr } = await cli(['colorize', lineArt, '--tags', tags, '--weights', quickOut, '--out', outPng]);
    expect(stderr).toContain(
      `32 px generator from ${path.join(quickOut, 'generator.safetensors')}, CIT extractor from ${path.join(quickOut, 'cit_extractor.safetensors')}`,
    );
    const { data, info } = await sharp(outPng).raw().toBuffer({ resolveWithObject: true });
    expect([info.width, info.height, info.channels]).toEqual([32, 32, 3]);
    // The same pixels as the library gives with the same files on the same backend.
    await initBackend('wasm');
    const c = await loadColorizer(quickOut);
    const rgb = await colorize({ lineArt, tags, generator: c.generator, citExtractor: c.citExtractor });
    const expected = Array.from(await rgb.data(), (v) => Math.round(v * 255));
    tf.dispose(rgb);
    c.generator.dispose();
    c.citExtractor!.dispose();
    const worst = expected.reduce((m, v, i) => Math.max(m, Math.abs(v - data[i]!)), 0);
    expect(worst).toBeLessThanOrEqual(1);
    // The generator alone is refused in one line that names the missing file.
    const alone = await cli(['colorize', lineArt, '--tags', tags, '--weights', path.join(quickOut, 'generator.safetensors'), '--out', path.join(work, 'x.png')]).catch(
      (e: { stderr: string; code: number }) => e,
    );
    expect((alone as { code: number }).code).toBe(1);
    expect((alone as { stderr: string }).stderr).toMatch(/^tag2pix: .*generator\.safetensors'? takes 32 CIT feature channels, from the synthetic CIT extractor it was trained with \(cit_extractor\.safetensors in the demo's output folder\), which is missing from --weights\./m);
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

  it('reports a bad --close-up-zoom in one line', async () => {
    for (const [flag, bad, message] of [
      ['--close-up-border', '0.5', /^tag2pix: --close-up-border must be a fraction of the image side in \[0, 0.5\), got '?0.5/m],
      ['--flip-probability', '2', /^tag2pix: --flip-probability must be a probability in \[0, 1\], got '?2/m],
      ['--lr-ramp', '1.5', /^tag2pix: --lr-ramp must be an integer >= 0, got '1.5'/m],
    ] as const) {
      const err = await run(['--quick', flag, bad]).catch((e: { stderr: string; code: number }) => e);
      expect((err as { code: number }).code).toBe(1);
      expect((err as { stderr: string }).stderr).toMatch(message);
    }
    for (const bad of ['0.5,2', '3,2', '2']) {
      const err = await run(['--quick', '--close-up-zoom', bad]).catch((e: { stderr: string; code: number }) => e);
      expect((err as { code: number }).code).toBe(1);
      expect((err as { stderr: string }).stderr).toMatch(/^tag2pix: --close-up-zoom needs two numbers min,max with 1 <= min <= max, like 1,3.5, got/m);
    }
  });

  it('reports a bad --region-weights in one line, naming the fix', async () => {
    const cases: Array<[string, RegExp]> = [
      ['eyes', /^tag2pix: --region-weights needs region=weight pairs like eyes=10,bow=5 \(or none\), got 'eyes'/m],
      ['iris=3', /^tag2pix: --region-weights: 'iris' is not a region; use one of background, skin, hair, eyes/m],
      ['eyes=-2', /^tag2pix: --region-weights: the weight of eyes must be a finite number >= 0, got -2/m],
    ];
    for (const [bad, message] of cases) {
      const err = await run(['--quick', '--region-weights', bad]).catch((e: { stderr: string; code: number }) => e);
      expect((err as { code: number }).code).toBe(1);
      expect((err as { stderr: string }).stderr).toMatch(message);
    }
  });
});
