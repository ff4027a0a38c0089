// The import rules of docs/architecture.md, checked on every file of src/: the rules are read
// from the document's table, so the map and the code cannot drift apart. (The browser bundle of
// each browser-safe entry is checked too, by test/web/browser_bundle.test.ts.)
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { builtinModules } from 'node:module';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const src = path.join(root, 'src');

interface Rule {
  runsAnywhere: boolean;
  imports: Set<string>;
  typeImports: Set<string>;
}

interface Rules {
  folders: Map<string, Rule>;
  /** The only packages an "anywhere" folder may import. */
  browserPackages: Set<string>;
}

const ticked = (cell: string) => [...cell.matchAll(/`([^`]+)`/g)].map((m) => m[1]!);

/** The rules as docs/architecture.md states them (its table and its list of packages). */
function readRules(markdown: string): Rules {
  const folders = new Map<string, Rule>();
  for (const line of markdown.split('\n')) {
    const cells = line.split('|').slice(1, -1).map((c) => c.trim());
    if (cells.length !== 4 || !/^`[^`]+`$/.test(cells[0]!)) continue;
    const [name, runs, imports, typeImports] = cells as [string, string, string, string];
    folders.set(ticked(name)[0]!, {
      runsAnywhere: runs === 'anywhere',
      imports: new Set(ticked(imports)),
      typeImports: new Set(ticked(typeImports)),
    });
  }
  const packages = /their only packages are (.*?), and never/.exec(markdown.replace(/\s+/g, ' '));
  const browserPackages = new Set(packages ? ticked(packages[1]!) : []);
  return { folders, browserPackages };
}

interface Import {
  specifier: string;
  typeOnly: boolean;
}

/** Every import of a TypeScript file: static, re-exports, side-effect and dynamic imports. */
function importsOf(source: string): Import[] {
  const out: Import[] = [];
  // `import x`, `import * as x`, `import {…}`, `import x, {…}`, `export {…}`, `export *`, each `from '…'`.
  const clause = String.raw`(\{[^}]*\}|\*(?:\s+as\s+\w+)?|\w+(?:\s*,\s*\{[^}]*\})?)`;
  const statement = new RegExp(String.raw`(?:^|\n)\s*(import|export)\s+(type\s+)?` + clause + String.raw`\s*from\s*['"]([^'"]+)['"]`, 'g');
  for (const m of source.matchAll(statement)) {
    const braces = /^\{([\s\S]*)\}$/.exec(m[3]!.trim());
    const names = braces ? braces[1]!.split(',').map((n) => n.trim()).filter((n) => n !== '') : [];
    const allTypes = names.length > 0 && names.every((n) => n.startsWith('type '));
    out.push({ specifier: m[4]!, typeOnly: Boolean(m[2]) || allTypes });
  }
  for (const m of source.matchAll(/(?:^|\n)\s*import\s+['"]([^'"]+)['"]/g)) out.push({ specifier: m[1]!, typeOnly: false });
  for (const m of source.matchAll(/\bimport\(\s*['"]([^'"]+)['"]\s*\)/g)) out.push({ specifier: m[1]!, typeOnly: false });
  return out;
}

/** The folder of the map a file of src/ belongs to (`index.ts` for the files at the top). */
function folderOf(file: string): string {
  const parts = path.relative(src, file).split(path.sep);
  return parts.length > 1 ? parts[0]! : parts[0]!;
}

const nodeBuiltins = new Set(builtinModules.flatMap((m) => [m, `node:${m}`]));
const packageName = (s: string) => (s.startsWith('@') ? s.split('/').slice(0, 2).join('/') : s.split('/')[0]!);

/** Every way the files break the rules, one line each. */
function violations(files: Map<string, string>, rules: Rules): string[] {
  const problems: string[] = [];
  for (const [file, source] of files) {
    const from = folderOf(file);
    const rule = rules.folders.get(from);
    const where = path.relative(root, file);
    if (!rule) {
      problems.push(`${where}: folder '${from}' is not in the map of docs/architecture.md`);
      continue;
    }
    for (const { specifier, typeOnly } of importsOf(source)) {
      if (specifier.startsWith('.')) {
        const target = path.resolve(path.dirname(file), specifier);
        // The CLI reads its version from the package's own manifest (docs/architecture.md).
        if (from === 'cli' && target === path.join(root, 'package.json')) continue;
        if (!target.startsWith(src + path.sep)) {
          problems.push(`${where}: imports '${specifier}' from outside src/`);
          continue;
        }
        const to = folderOf(target.replace(/\.js$/, '.ts'));
        if (to === from) continue;
        if (rule.imports.has(to)) continue;
        if (typeOnly && rule.typeImports.has(to)) continue;
        const allowed = rule.typeImports.has(to) ? ` (only types from ${to})` : '';
        problems.push(`${where}: '${from}' may not import '${to}'${allowed} ('${specifier}')`);
        continue;
      }
      if (/(^|\/)dist(\/|$)/.test(specifier)) problems.push(`${where}: imports a package's internal build path '${specifier}'`);
      if (!rule.runsAnywhere) continue;
      if (nodeBuiltins.has(specifier)) problems.push(`${where}: '${from}' runs anywhere but imports the Node built-in '${specifier}'`);
      else if (!rules.browserPackages.has(packageName(specifier))) {
        problems.push(`${where}: '${from}' runs anywhere but imports the package '${specifier}'`);
      }
    }
  }
  return problems;
}

function sourceFiles(dir: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const name of readdirSync(dir)) {
    const p = path.join(dir, name);
    if (statSync(p).isDirectory()) for (const [f, s] of sourceFiles(p)) out.set(f, s);
    else if (name.endsWith('.ts') && !name.endsWith('.d.ts')) out.set(p, readFileSync(p, 'utf8'));
  }
  return out;
}

const rules = readRules(readFileSync(path.join(root, 'docs/architecture.md'), 'utf8'));

describe('the import rules of docs/architecture.md', () => {
  it('are read from the document: every folder and top-level file of src/ has a row', () => {
    const entries = readdirSync(src).filter((n) => statSync(path.join(src, n)).isDirectory() || n.endsWith('.ts'));
    expect(entries).toContain('errors.ts');
    expect([...rules.folders.keys()].sort()).toEqual(entries.sort());
    expect([...rules.browserPackages].sort()).toEqual(['@tensorflow/tfjs-core', '@tensorflow/tfjs-layers', 'fflate']);
    expect(rules.folders.get('layers')!.imports).toEqual(new Set(['ops', 'kernels']));
    expect(rules.folders.get('data')!.typeImports).toEqual(new Set(['training']));
    // The error classes import nothing, so every folder may raise them.
    expect(rules.folders.get('errors.ts')!.imports).toEqual(new Set());
  });

  it('hold for every file of src/', () => {
    const files = sourceFiles(src);
    expect(files.size).toBeGreaterThan(80);
    // The parser sees the imports (a layer file alone has several).
    expect([...files.values()].reduce((n, source) => n + importsOf(source).length, 0)).toBeGreaterThan(400);
    const problems = violations(files, rules);
    expect(problems, problems.join('\n')).toEqual([]);
  });

  // The check must be able to fail: one file breaking each rule.
  it('report each kind of breach', () => {
    const file = (rel: string, source: string): [string, string] => [path.join(src, rel), source];
    const problems = violations(
      new Map([
        file('layers/a.ts', `import { x } from '../models/generator.js';`),
        file('layers/b.ts', `export { y } from '../node/image.js';`),
        file('losses/c.ts', `import { readFile } from 'node:fs/promises';`),
        file('models/d.ts', `import sharp from 'sharp';`),
        file('data/e.ts', `import { Tag2PixTrainer } from '../training/trainer.js';`),
        file('data/f.ts', `import type { TrainingBatch } from '../training/batch.js';\nimport { type Tag2PixBatch } from '../training/batch.js';`),
        file('training/g.ts', `const m = await import('../cli/options.js');`),
        file('io/h.ts', `import type { LayerArgs } from '@tensorflow/tfjs-layers/dist/engine/topology';`),
        file('node/i.ts', `import * as fs from 'node:fs';\nimport { runDemo } from '../demo/run.js';`),
        file('widgets/j.ts', `export const k = 1;`),
        file('ops/k.ts', `import '../../test/setup.js';`),
        file('errors.ts', `import { Rng } from './data/random.js';`),
      ]),
      rules,
    );
    expect(problems).toEqual([
      `src/layers/a.ts: 'layers' may not import 'models' ('../models/generator.js')`,
      `src/layers/b.ts: 'layers' may not import 'node' ('../node/image.js')`,
      `src/losses/c.ts: 'losses' runs anywhere but imports the Node built-in 'node:fs/promises'`,
      `src/models/d.ts: 'models' runs anywhere but imports the package 'sharp'`,
      `src/data/e.ts: 'data' may not import 'training' (only types from training) ('../training/trainer.js')`,
      `src/training/g.ts: 'training' may not import 'cli' ('../cli/options.js')`,
      `src/io/h.ts: imports a package's internal build path '@tensorflow/tfjs-layers/dist/engine/topology'`,
      `src/node/i.ts: 'node' may not import 'demo' ('../demo/run.js')`,
      `src/widgets/j.ts: folder 'widgets' is not in the map of docs/architecture.md`,
      `src/ops/k.ts: imports '../../test/setup.js' from outside src/`,
      `src/errors.ts: 'errors.ts' may not import 'data' ('./data/random.js')`,
    ]);
  });
});
