// Runs snippet modules one after another in this process (its working folder is the sandbox the
// test prepared) and writes each one's outcome to a JSON file: node --import tsx run_snippets.ts
// <results.json> <module>...  The modules' `console.log(…); // value` checks call __snippetCheck.
import { writeFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { format } from 'node:util';

export interface SnippetResult {
  module: string;
  ok: boolean;
  error?: string;
  /** Checked console.log lines whose printed value differs from their comment. */
  mismatches: string[];
  seconds: number;
}

const [resultsFile, ...modules] = process.argv.slice(2);
const results: SnippetResult[] = [];
let current: SnippetResult | undefined;

(globalThis as { __snippetCheck?: unknown }).__snippetCheck = (where: string, expected: string, ...args: unknown[]) => {
  const printed = format(...args);
  console.log(printed);
  if (printed.replace(/\s+/g, '') !== expected.replace(/\s+/g, '')) {
    current!.mismatches.push(`${where}: printed ${printed}, its comment says ${expected}`);
  }
};

for (const module of modules) {
  current = { module, ok: false, mismatches: [], seconds: 0 };
  const started = performance.now();
  try {
    await import(pathToFileURL(module).href);
    current.ok = true;
  } catch (err) {
    current.error = String((err as Error)?.stack ?? err);
  }
  current.seconds = (performance.now() - started) / 1000;
  results.push(current);
  writeFileSync(resultsFile!, JSON.stringify(results, null, 2));
}
// A snippet may leave the wasm backend's threads or a timer behind; the results are written.
process.exit(0);
