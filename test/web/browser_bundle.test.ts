// Guard for the whole team: the browser-safe entries (`src/index.ts` and the data, synth, eval,
// io and training groups) must bundle for browsers with no Node polyfills. If this fails,
// something in a browser-safe folder imported Node (fs, path, sharp, src/node, …): move that code
// to src/node (see docs/architecture.md).
import { describe, expect, it } from 'vitest';
import { checkBrowserBundle } from './browser_bundle.js';

describe('browser bundle of src/index.ts', () => {
  it('bundles for platform browser with no Node built-in, Node-only package or Node-only file', async () => {
    const report = await checkBrowserBundle(`export * from './src/index.ts';`);
    expect(report.problems, report.problems.join('\n')).toEqual([]);
    // tfjs-core and tfjs-layers alone are hundreds of files: the bundle really happened.
    expect(report.inputCount).toBeGreaterThan(100);
    expect(report.bytes).toBeGreaterThan(100_000);
  });

  // Every browser-safe entry of package.json, alone (a page may import just one).
  for (const entry of ['src/data/index.ts', 'src/data/synth/index.ts', 'src/eval/index.ts', 'src/io/index.ts', 'src/training/index.ts']) {
    it(`${entry} bundles for platform browser with no Node leak`, async () => {
      const report = await checkBrowserBundle(`export * from './${entry}';`);
      expect(report.problems, report.problems.join('\n')).toEqual([]);
      expect(report.inputCount).toBeGreaterThan(5);
    });
  }

  it('bundles together with the browser backends the demo page uses', async () => {
    const report = await checkBrowserBundle(
      [
        `export * from './src/index.ts';`,
        `import '@tensorflow/tfjs-backend-cpu';`,
        `import '@tensorflow/tfjs-backend-webgl';`,
        `import '@tensorflow/tfjs-backend-wasm';`,
      ].join('\n'),
    );
    expect(report.problems, report.problems.join('\n')).toEqual([]);
  });

  // The guard must be able to fail: each kind of leak it looks for is reported.
  it('reports a Node built-in, with and without the node: prefix', async () => {
    const report = await checkBrowserBundle(
      `import { readFileSync } from 'node:fs'; import * as path from 'path'; export const f = [readFileSync, path];`,
    );
    expect(report.problems.some((p) => p.includes('"node:fs"'))).toBe(true);
    expect(report.problems.some((p) => p.includes('"path"'))).toBe(true);
  });

  it('reports sharp and the Node-only entry src/node', async () => {
    const viaSharp = await checkBrowserBundle(`import sharp from 'sharp'; export const s = sharp;`);
    expect(viaSharp.problems.some((p) => p.includes('sharp'))).toBe(true);
    const viaNodeEntry = await checkBrowserBundle(`export * from './src/node/index.ts';`);
    expect(viaNodeEntry.problems.some((p) => p.includes('src/node/'))).toBe(true);
  });
});
