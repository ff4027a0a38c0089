// Bundles an entry for the browser the way a user's bundler would, and lists every way Node
// leaks into it: a Node built-in (`fs`, `node:path`, …) that would need a polyfill, a Node-only
// package (`sharp`, tfjs-node), or a file from our Node-only folders (src/node, src/cli).
import { builtinModules } from 'node:module';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';

export const repoRoot = fileURLToPath(new URL('../..', import.meta.url));

const nodeBuiltins = new Set(builtinModules.flatMap((m) => [m, `node:${m}`]));
const nodeOnlyPackages = [/^sharp(\/|$)/, /^@tensorflow\/tfjs-node(-gpu)?(\/|$)/];
const nodeOnlyFolders = [/(^|\/)src\/node\//, /(^|\/)src\/cli\//];

export interface BrowserBundleReport {
  /** Each leak found, as one readable line. Empty when the bundle is browser-clean. */
  problems: string[];
  /** Number of source files that went into the bundle (a sanity check that it bundled). */
  inputCount: number;
  /** Size of the bundled JavaScript in bytes. */
  bytes: number;
}

/**
 * Bundles `contents` (an ES module whose imports resolve from the repository root) for
 * `platform: 'browser'`, with every dependency inlined, and reports Node leaks.
 */
export async function checkBrowserBundle(contents: string): Promise<BrowserBundleReport> {
  const problems: string[] = [];
  let result: esbuild.BuildResult<{ metafile: true; write: false }>;
  try {
    result = await esbuild.build({
      stdin: { contents, resolveDir: repoRoot, sourcefile: 'browser-entry.ts', loader: 'ts' },
      bundle: true,
      platform: 'browser',
      format: 'esm',
      target: 'es2022',
      write: false,
      metafile: true,
      logLevel: 'silent',
      // Record Node-only imports instead of letting the build die at the first one, so the
      // report lists them all. Packages' "browser" fields (e.g. tfjs maps `fs` to false) still
      // apply, because a plugin only sees the import first and then defers to esbuild.
      plugins: [
        {
          name: 'node-leak-detector',
          setup(build: esbuild.PluginBuild) {
            build.onResolve({ filter: /.*/ }, async (args: esbuild.OnResolveArgs) => {
              if (args.pluginData === 'leak-check') return undefined;
              const isBuiltin = nodeBuiltins.has(args.path);
              const isNodePackage = nodeOnlyPackages.some((re) => re.test(args.path));
              if (!isBuiltin && !isNodePackage) return undefined;
              const resolved = await build.resolve(args.path, {
                kind: args.kind,
                importer: args.importer,
                resolveDir: args.resolveDir,
                pluginData: 'leak-check',
              });
              if (resolved.errors.length > 0) {
                problems.push(`Node built-in "${args.path}" imported by ${rel(args.importer)}`);
                return { path: args.path, external: true };
              }
              // Resolved to a real file: a Node-only package, or a polyfill standing in for a
              // built-in. (A package's "browser" field that maps the import to false gives no
              // file, and esbuild then bundles nothing for it.)
              if (resolved.namespace === 'file') {
                const what = isBuiltin ? 'Polyfill of Node built-in' : 'Node-only package';
                problems.push(`${what} "${args.path}" imported by ${rel(args.importer)}`);
              }
              return undefined;
            });
          },
        },
      ],
    });
  } catch (err) {
    const failure = err as esbuild.BuildFailure;
    for (const e of failure.errors ?? []) problems.push(`esbuild: ${e.text} (${e.location?.file ?? '?'})`);
    if (!failure.errors) throw err;
    return { problems, inputCount: 0, bytes: 0 };
  }
  for (const w of result.warnings) {
    if (/could not resolve/i.test(w.text)) problems.push(`esbuild: ${w.text} (${w.location?.file ?? '?'})`);
  }
  const inputs = Object.keys(result.metafile.inputs);
  for (const input of inputs) {
    if (nodeOnlyFolders.some((re) => re.test(input))) problems.push(`Node-only source file bundled: ${input}`);
    if (/node_modules\/sharp\//.test(input)) problems.push(`sharp bundled: ${input}`);
  }
  const bytes = result.outputFiles.reduce((n, f) => n + f.contents.byteLength, 0);
  return { problems, inputCount: inputs.length, bytes };
}

function rel(file: string): string {
  return file.startsWith(repoRoot) ? file.slice(repoRoot.length) : file;
}
