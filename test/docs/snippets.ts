// The fenced TypeScript/JavaScript blocks of README.md and docs/, as runnable modules.
//
// Each block runs, unless the line before its fence marks it (HTML comments, invisible on GitHub):
//   <!-- snippet: not run (the reason) -->   skipped; the reason is required
//   <!-- snippet: prelude -->                 put before every later block of the same file
//                                             (the imports and backend the page's blocks share)
//   <!-- snippet: continues -->               runs in the same module as the block before it
// A block and the blocks that continue it form one unit: one ES module, the file's prelude first.
// `console.log(…); // value` lines whose comment is a plain value (numbers, arrays, objects,
// quoted strings) are checked: the printed text must be that value, spaces aside.
import { readFileSync, readdirSync } from 'node:fs';
import * as path from 'node:path';

export interface Block {
  file: string;
  /** 1-based line of the opening fence. */
  line: number;
  lang: string;
  code: string;
  marker?: { kind: 'not-run'; reason: string } | { kind: 'prelude' } | { kind: 'continues' };
  /** A marker comment that is not one of the forms above. */
  badMarker?: string;
}

export interface Unit {
  file: string;
  /** Lines of the blocks it runs (the first is where it starts). */
  lines: number[];
  /** The module's source. */
  source: string;
}

const RUNNABLE = new Set(['ts', 'typescript', 'js', 'javascript', 'mjs', 'mts']);

/** Every fenced TypeScript/JavaScript block of a markdown text, with its marker. */
export function extractBlocks(markdown: string, file: string): Block[] {
  const lines = markdown.split('\n');
  const blocks: Block[] = [];
  for (let i = 0; i < lines.length; i++) {
    const fence = /^(\s*)(```+|~~~+)\s*([\w-]*)/.exec(lines[i]!);
    if (!fence) continue;
    const [, , ticks, lang] = fence;
    let end = i + 1;
    while (end < lines.length && !lines[end]!.trimStart().startsWith(ticks!)) end++;
    const code = lines.slice(i + 1, end).join('\n');
    if (RUNNABLE.has(lang!.toLowerCase())) {
      const block: Block = { file, line: i + 1, lang: lang!, code };
      let before = i - 1;
      while (before >= 0 && lines[before]!.trim() === '') before--;
      const comment = before >= 0 ? /^<!--\s*snippet:\s*(.*?)\s*-->$/.exec(lines[before]!.trim()) : null;
      if (comment) {
        const text = comment[1]!;
        const notRun = /^not run \((.+)\)$/.exec(text);
        if (notRun) block.marker = { kind: 'not-run', reason: notRun[1]! };
        else if (text === 'prelude') block.marker = { kind: 'prelude' };
        else if (text === 'continues') block.marker = { kind: 'continues' };
        else block.badMarker = text;
      }
      blocks.push(block);
    }
    i = end;
  }
  return blocks;
}

/** Every block of README.md and docs/*.md. */
export function documentationBlocks(root: string): Block[] {
  const files = ['README.md', ...readdirSync(path.join(root, 'docs')).filter((f) => f.endsWith('.md')).sort().map((f) => `docs/${f}`)];
  return files.flatMap((f) => extractBlocks(readFileSync(path.join(root, f), 'utf8'), f));
}

/**
 * A checked `console.log` comment is a plain value: with quoted strings and `key:` names taken
 * out, only numbers, brackets, punctuation and a few literal words remain.
 */
export function isPlainValue(comment: string): boolean {
  const rest = comment.replace(/'[^']*'|"[^"]*"/g, '').replace(/[A-Za-z_$][\w$]*\s*:/g, '');
  if (/…|\.\.\.|=/.test(rest) || !/[\d[{'"]/.test(comment)) return false;
  const words = rest.match(/[A-Za-z_$][\w$]*/g) ?? [];
  return words.every((w) => ['true', 'false', 'null', 'undefined', 'NaN', 'Infinity', 'Float32Array', 'Int32Array'].includes(w));
}

/** The block's code with its checkable `console.log` lines turned into checks. */
function withChecks(block: Block): string {
  return block.code
    .split('\n')
    .map((text, i) => {
      const m = /^(\s*)console\.log\((.*)\);\s*\/\/\s*(.+?)\s*$/.exec(text);
      if (!m || !isPlainValue(m[3]!)) return text;
      const where = `${block.file}:${block.line + 1 + i}`;
      return `${m[1]}(globalThis as any).__snippetCheck(${JSON.stringify(where)}, ${JSON.stringify(m[3])}, ${m[2]});`;
    })
    .join('\n');
}

/** The units of one file's blocks, in order. */
export function unitsOf(blocks: readonly Block[]): Unit[] {
  const units: Array<{ file: string; lines: number[]; parts: string[] }> = [];
  const prelude: string[] = [];
  for (const block of blocks) {
    if (block.marker?.kind === 'not-run' || block.badMarker !== undefined) continue;
    if (block.marker?.kind === 'prelude') {
      prelude.push(withChecks(block));
      continue;
    }
    const last = units.at(-1);
    if (block.marker?.kind === 'continues') {
      if (!last) throw new Error(`${block.file}:${block.line}: 'continues' but no block runs before it`);
      last.lines.push(block.line);
      last.parts.push(withChecks(block));
      continue;
    }
    units.push({ file: block.file, lines: [block.line], parts: [...prelude, withChecks(block)] });
  }
  return units.map((u) => ({ file: u.file, lines: u.lines, source: moduleSource(u.parts) }));
}

/** Joins blocks into one module: import lines once each, first; the rest in order. */
function moduleSource(parts: readonly string[]): string {
  const imports: string[] = [];
  const body: string[] = [];
  for (const part of parts) {
    for (const line of part.split('\n')) {
      if (/^import\s.*from\s+['"][^'"]+['"];?\s*$/.test(line) || /^import\s+['"][^'"]+['"];?\s*$/.test(line)) {
        if (!imports.includes(line.trim())) imports.push(line.trim());
      } else {
        body.push(line);
      }
    }
    body.push('');
  }
  return [...imports, '', ...body, 'export {};', ''].join('\n');
}
