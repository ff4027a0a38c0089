// Every call of an async test helper is awaited. The helpers read tensors with `await data()`
// (webgpu in Node has no synchronous read), so `expect(maxAbsDiff(a, b)).toBeLessThan(1e-4)`
// without `await` compares a Promise and the check silently does nothing; typecheck does not
// flag it. The async helpers are the functions of test/helpers/ that are `async` or return a
// Promise, and a test file's own such functions; every call of one in test/ must be awaited,
// returned, an arrow function's result, in `await expect(…).rejects/resolves`, or in
// `Promise.all([…])`.
import { readFileSync, readdirSync, statSync } from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const testRoot = path.dirname(path.dirname(fileURLToPath(import.meta.url)));

function tsFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = path.join(dir, name);
    if (statSync(p).isDirectory()) return tsFiles(p);
    return p.endsWith('.ts') ? [p] : [];
  });
}

const parse = (file: string, text: string) => ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true);

/** Names of a module's top-level functions that are async or return a Promise. */
function asyncFunctions(source: ts.SourceFile): string[] {
  const names: string[] = [];
  for (const statement of source.statements) {
    if (!ts.isFunctionDeclaration(statement) || !statement.name) continue;
    const modifiers = ts.getModifiers(statement) ?? [];
    const isAsync = modifiers.some((m) => m.kind === ts.SyntaxKind.AsyncKeyword);
    const returnsPromise = statement.type !== undefined && /^Promise</.test(statement.type.getText(source));
    if (isAsync || returnsPromise) names.push(statement.name.text);
  }
  return names;
}

const calls = (node: ts.Node, name: string): node is ts.CallExpression =>
  ts.isCallExpression(node) && node.expression.getText() === name;

/** `expect(call).rejects…` or `expect(call).resolves…` (vitest's own check that they are awaited). */
function isExpectRejectsOrResolves(parent: ts.Node): boolean {
  const access = parent.parent;
  return calls(parent, 'expect') && access !== undefined && ts.isPropertyAccessExpression(access) && ['rejects', 'resolves'].includes(access.name.text);
}

/** An element of `Promise.all([…])` or `Promise.allSettled([…])`. */
function isPromiseAll(parent: ts.Node): boolean {
  return ts.isArrayLiteralExpression(parent) && parent.parent !== undefined && (calls(parent.parent, 'Promise.all') || calls(parent.parent, 'Promise.allSettled'));
}

/** `file:line: call` for each call of one of `helpers` whose Promise is neither awaited nor returned. */
function unawaitedCalls(source: ts.SourceFile, helpers: Set<string>): string[] {
  const found: string[] = [];
  const visit = (node: ts.Node) => {
    if (ts.isCallExpression(node) && ts.isIdentifier(node.expression) && helpers.has(node.expression.text)) {
      let outer: ts.Node = node;
      while (ts.isParenthesizedExpression(outer.parent)) outer = outer.parent;
      const parent = outer.parent;
      const handled =
        ts.isAwaitExpression(parent) ||
        ts.isReturnStatement(parent) ||
        (ts.isArrowFunction(parent) && parent.body === outer) ||
        isExpectRejectsOrResolves(parent) ||
        isPromiseAll(parent);
      if (!handled) {
        const { line } = source.getLineAndCharacterOfPosition(node.getStart(source));
        found.push(`${path.relative(testRoot, source.fileName)}:${line + 1}: ${node.expression.text}(…)`);
      }
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return found;
}

describe('async test helpers', () => {
  const helperFiles = tsFiles(path.join(testRoot, 'helpers')).filter((f) => !f.endsWith('.test.ts'));
  const helpers = new Set(helperFiles.flatMap((f) => asyncFunctions(parse(f, readFileSync(f, 'utf8')))));

  it('are found in test/helpers', () => {
    for (const name of ['checkGradients', 'maxAbsDiff', 'saveAndLoad', 'dispatchesOf', 'relativeDiff']) {
      expect(helpers, name).toContain(name);
    }
    expect(helpers).not.toContain('randomTensor');
  });

  it('are awaited wherever test/ calls them', () => {
    const files = tsFiles(testRoot);
    expect(files.length).toBeGreaterThan(50);
    const problems = files.flatMap((f) => {
      const source = parse(f, readFileSync(f, 'utf8'));
      return unawaitedCalls(source, new Set([...helpers, ...asyncFunctions(source)]));
    });
    expect(problems, `add await: ${problems.join(', ')}`).toEqual([]);
  });

  it('reports a call that is not awaited, and accepts the awaited and returned ones', () => {
    const names = new Set(['maxAbsDiff', 'checkGradients']);
    const source = parse(
      path.join(testRoot, 'example.test.ts'),
      [
        'it("a", async () => {',
        '  expect(maxAbsDiff(a, b)).toBeLessThan(1e-4);', // line 2: not awaited
        '  expect(await maxAbsDiff(a, b)).toBeLessThan(1e-4);',
        '  const n = await (checkGradients(f, [x]));',
        '  checkGradients(f, [x]);', // line 5: not awaited
        '  const p = () => maxAbsDiff(a, b);',
        '  const q = () => { return checkGradients(f, [x]); };',
        '  const errors = [maxAbsDiff(a, b)];', // line 8: not awaited
        '  await expect(checkGradients(f, [x])).rejects.toThrow(/off/);',
        '  expect(checkGradients(f, [x])).toBeTruthy();', // line 10: not awaited
        '  const [m, n] = await Promise.all([maxAbsDiff(a, b), maxAbsDiff(b, c)]);',
        '});',
      ].join('\n'),
    );
    expect(unawaitedCalls(source, names)).toEqual([
      'example.test.ts:2: maxAbsDiff(…)',
      'example.test.ts:5: checkGradients(…)',
      'example.test.ts:8: maxAbsDiff(…)',
      'example.test.ts:10: checkGradients(…)',
    ]);
  });
});
