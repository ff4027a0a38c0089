// Every fenced TypeScript/JavaScript block of README.md and docs/ runs, against the source (the
// package names map to src/ through tsconfig paths), as a reader would paste it into a module;
// or says next to it why it does not. See snippets.ts for the markers and the value checks.
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeSynthDataset, writePng } from '../../src/node/index.js';
import { generateCharacter } from '../../src/data/synth/index.js';
import type { SnippetResult } from './run_snippets.js';
import { documentationBlocks, extractBlocks, isPlainValue, unitsOf, type Unit } from './snippets.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const blocks = documentationBlocks(root);
const modulesDir = path.join(root, 'test-output', 'snippets', String(process.pid));
let sandbox: string;

/**
 * A working folder with the files the snippets name: a one-picture manifest dataset in my-art/,
 * and small synthetic datasets in data/ and data/synth/. Snippets write their outputs here too.
 */
beforeAll(async () => {
  sandbox = mkdtempSync(path.join(os.tmpdir(), 'tag2pix-snippets-'));
  mkdirSync(modulesDir, { recursive: true });
  const sample = generateCharacter(0, { size: 64, seed: 1 });
  await writePng(path.join(sandbox, 'my-art', 'colour', '0001.png'), sample.color);
  await writePng(path.join(sandbox, 'my-art', 'xdog', '0001.png'), sample.lineArt);
  writeFileSync(
    path.join(sandbox, 'my-art', 'manifest.csv'),
    'colour,lineart,tags\ncolour/0001.png,xdog/0001.png,"1girl, long hair, blue hair, red eyes, skirt"\n',
  );
  await writeSynthDataset({ out: path.join(sandbox, 'data'), count: 8, size: 64, seed: 1 });
  await writeSynthDataset({ out: path.join(sandbox, 'data', 'synth'), count: 8, size: 64, seed: 2 });
});

afterAll(() => {
  rmSync(sandbox, { recursive: true, force: true });
  rmSync(modulesDir, { recursive: true, force: true });
});

/** Runs units in one Node process (tsx, the repository's tsconfig paths) in the sandbox. */
function runUnits(units: readonly Unit[], name: string): SnippetResult[] {
  const files = units.map((u, i) => {
    const file = path.join(modulesDir, `${name.replace(/[^\w]+/g, '_')}_${i}_line${u.lines[0]}.ts`);
    writeFileSync(file, u.source);
    return file;
  });
  const results = path.join(modulesDir, `${name.replace(/[^\w]+/g, '_')}.results.json`);
  const env: NodeJS.ProcessEnv = { ...process.env, TSX_TSCONFIG_PATH: path.join(root, 'tsconfig.json') };
  delete env['TAG2PIX_BACKEND']; // the snippets' own default: tensorflow → wasm → cpu
  const tsx = pathToFileURL(path.join(root, 'node_modules', 'tsx', 'dist', 'loader.mjs')).href;
  try {
    execFileSync(process.execPath, ['--import', tsx, path.join(root, 'test', 'docs', 'run_snippets.ts'), results, ...files], {
      cwd: sandbox,
      env,
      stdio: ['ignore', 'ignore', 'pipe'],
      timeout: 600_000,
    });
  } catch (err) {
    throw new Error(`the snippet runner failed: ${String((err as { stderr?: Buffer }).stderr ?? err)}`);
  }
  return JSON.parse(readFileSync(results, 'utf8')) as SnippetResult[];
}

/** One line per unit that failed or printed something other than its comment says. */
function failures(units: readonly Unit[], results: readonly SnippetResult[]): string[] {
  return units.flatMap((u, i) => {
    const r = results[i];
    const at = `${u.file}:${u.lines.join('+')}`;
    if (!r) return [`${at}: did not run`];
    return [...(r.ok ? [] : [`${at}: ${r.error?.split('\n').slice(0, 3).join(' | ')}`]), ...r.mismatches];
  });
}

const units = () => [...new Set(blocks.map((b) => b.file))].flatMap((f) => unitsOf(blocks.filter((b) => b.file === f)));

describe('documentation snippets', () => {
  it('each block runs, or its marker says why not', () => {
    expect(blocks.length).toBeGreaterThan(40);
    const bad = blocks.filter((b) => b.badMarker !== undefined).map((b) => `${b.file}:${b.line}: unknown marker '${b.badMarker}'`);
    expect(bad).toEqual([]);
    const skipped = blocks.filter((b) => b.marker?.kind === 'not-run');
    for (const b of skipped) expect(b.marker?.kind === 'not-run' && b.marker.reason.length > 10, `${b.file}:${b.line}`).toBe(true);
    // Most run: a marker is the exception (browser-only code, the published weights).
    expect(skipped.length).toBeLessThan(blocks.length / 4);
    // And many print values their comments state, which the runs check.
    const checked = units().flatMap((u) => u.source.match(/__snippetCheck\(/g) ?? []);
    expect(checked.length).toBeGreaterThan(20);
  });

  const files = [...new Set(blocks.map((b) => b.file))];
  for (const file of files) {
    const units = unitsOf(blocks.filter((b) => b.file === file));
    if (units.length === 0) continue;
    it(`${file}: every block runs and prints what its comments say`, () => {
      const results = runUnits(units, file);
      expect(failures(units, results)).toEqual([]);
    });
  }
});

describe('the snippet check', () => {
  it('recognises plain values in comments, and only those', () => {
    for (const v of ['[2, 5, 5, 64]', '370 115', "{ name: 'blue_hair', id: 10953 }", 'Float32Array(2) [ 1, 0 ]', '1564784 false', "1 { 'not exactly one person': 2 }"]) {
      expect(isPlainValue(v), v).toBe(true);
    }
    for (const v of ['blue_hair blue_hair', '1.4 = 0.5 + 0.9·1', '[1, 256, 256, 3] twice, tanh in [-1, 1]', "22 [ 'bn1.num_batches_tracked', … ]", '644002 instead of 15809398', 'adv, cit, cvt']) {
      expect(isPlainValue(v), v).toBe(false);
    }
  });

  // It must be able to fail: a block that throws, a wrong printed value, a block that needs the
  // one it continues, and a marked block that would fail but is not run.
  it('reports a block that throws and a printed value that differs from its comment', () => {
    const markdown = [
      '<!-- snippet: prelude -->',
      '```ts',
      "import * as tf from '@tensorflow/tfjs-core';",
      "import { initBackend } from 'tag2pix/node';",
      'await initBackend();',
      '```',
      '```ts',
      'const x = tf.zeros([2, 3]);',
      'console.log(x.shape); // [2, 3]',
      '```',
      '<!-- snippet: continues -->',
      '```js',
      'console.log(x.shape); // [3, 2]',
      '```',
      '```ts',
      "tf.model({ inputs: [], outputs: [] }); // as docs/models.md once had it",
      '```',
      '<!-- snippet: not run (it would fail: the file is not here) -->',
      '```ts',
      "import { readFileSync } from 'node:fs';",
      "readFileSync('tag2pix_256.pkl');",
      '```',
    ].join('\n');
    const sample = extractBlocks(markdown, 'sample.md');
    expect(sample.map((b) => b.marker?.kind)).toEqual(['prelude', undefined, 'continues', undefined, 'not-run']);
    const units = unitsOf(sample);
    expect(units.map((u) => u.lines)).toEqual([[7, 12], [15]]);
    const results = runUnits(units, 'self-test');
    const problems = failures(units, results);
    expect(problems).toHaveLength(2);
    expect(problems[0]).toBe('sample.md:13: printed [ 2, 3 ], its comment says [3, 2]');
    expect(problems[1]).toMatch(/^sample.md:15: TypeError: tf.model is not a function/);
  });
});
