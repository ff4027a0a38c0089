// Fresh apps that install the packed tarball the way a user's npm does, offline: each app gets a
// package-lock.json whose entries (name, version, integrity) are the repository's own, so
// `npm ci --offline` takes every package from npm's cache, which the repository's `npm ci` filled.
// No network, no registry lookup, and the same versions the suite was run with.
import { execFileSync, type ExecFileSyncOptions } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoRoot = fileURLToPath(new URL('../..', import.meta.url));

interface LockEntry {
  version?: string;
  resolved?: string;
  integrity?: string;
  dependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
  peerDependenciesMeta?: Record<string, { optional?: boolean }>;
  optional?: boolean;
  dev?: boolean;
  devOptional?: boolean;
  peer?: boolean;
  link?: boolean;
  [field: string]: unknown;
}

interface Lock {
  name: string;
  version: string;
  lockfileVersion: number;
  packages: Record<string, LockEntry>;
}

const repoLock = (): Lock => JSON.parse(readFileSync(path.join(repoRoot, 'package-lock.json'), 'utf8')) as Lock;

/** Where Node would find `name` from the package installed at `from` ('' is the root), in a lock. */
function resolveIn(packages: Record<string, LockEntry>, from: string, name: string): string | undefined {
  let base = from;
  for (;;) {
    const candidate = `${base === '' ? '' : `${base}/`}node_modules/${name}`;
    if (packages[candidate]) return candidate;
    if (base === '') return undefined;
    base = base.slice(0, base.lastIndexOf('node_modules/')).replace(/\/$/, '');
  }
}

/** The lock entries needed by `roots` (resolved from the repository's root), with all they need. */
function closure(lock: Lock, roots: readonly string[]): Map<string, LockEntry> {
  const out = new Map<string, LockEntry>();
  const visit = (from: string, name: string, optional: boolean) => {
    const at = resolveIn(lock.packages, from, name);
    if (at === undefined) {
      if (optional) return;
      throw new Error(`package-lock.json has no '${name}' (needed from '${from || 'the root'}')`);
    }
    if (out.has(at)) return;
    const entry = lock.packages[at]!;
    if (entry.link) throw new Error(`'${at}' is a link in package-lock.json; the consumer test needs registry packages`);
    out.set(at, entry);
    for (const dep of Object.keys(entry.dependencies ?? {})) visit(at, dep, false);
    for (const dep of Object.keys(entry.optionalDependencies ?? {})) visit(at, dep, true);
    for (const [dep] of Object.entries(entry.peerDependencies ?? {})) {
      visit(at, dep, entry.peerDependenciesMeta?.[dep]?.optional === true);
    }
  };
  for (const name of roots) visit('', name, false);
  return out;
}

export interface AppSpec {
  /** `module` or `commonjs`. */
  type: 'module' | 'commonjs';
  /** Packages the app depends on besides tag2pix, at the repository's versions. */
  dependencies: readonly string[];
  /** Files to write, by path inside the app. */
  files: Record<string, string>;
}

const run = (cmd: string, args: string[], options: ExecFileSyncOptions) =>
  execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], ...options }) as string;

/**
 * Writes an app in `dir` that depends on the tarball (`tarball`, a path) and on `dependencies`,
 * and installs it with `npm ci --offline`. Returns npm's output.
 */
export function installApp(dir: string, tarball: string, spec: AppSpec): string {
  mkdirSync(dir, { recursive: true });
  const lock = repoLock();
  const own = lock.packages['']!;
  const tag2pixDeps = Object.keys(own.dependencies ?? {});
  const versions = new Map<string, string>();
  const entries = closure(lock, [...tag2pixDeps, ...spec.dependencies]);
  for (const name of spec.dependencies) versions.set(name, entries.get(`node_modules/${name}`)!.version!);
  const tarballRef = `file:${path.relative(dir, tarball)}`;
  const pkg = {
    name: `consumer-${spec.type}`,
    version: '1.0.0',
    private: true,
    type: spec.type,
    dependencies: { tag2pix: tarballRef, ...Object.fromEntries([...versions].map(([n, v]) => [n, v])) },
  };
  const packages: Record<string, LockEntry> = {
    '': { name: pkg.name, version: pkg.version, dependencies: pkg.dependencies },
    'node_modules/tag2pix': {
      version: lock.version,
      resolved: tarballRef,
      license: 'MIT',
      dependencies: own.dependencies,
      peerDependencies: own.peerDependencies,
      peerDependenciesMeta: own.peerDependenciesMeta,
      bin: own['bin'],
      engines: own['engines'],
    },
  };
  for (const [at, entry] of [...entries].sort(([a], [b]) => (a < b ? -1 : 1))) {
    const { dev, devOptional, peer, ...kept } = entry;
    void dev;
    void devOptional;
    void peer;
    packages[at] = kept;
  }
  writeFileSync(path.join(dir, 'package.json'), `${JSON.stringify(pkg, null, 2)}\n`);
  writeFileSync(
    path.join(dir, 'package-lock.json'),
    `${JSON.stringify({ name: pkg.name, version: pkg.version, lockfileVersion: 3, requires: true, packages }, null, 2)}\n`,
  );
  for (const [file, text] of Object.entries(spec.files)) {
    mkdirSync(path.dirname(path.join(dir, file)), { recursive: true });
    writeFileSync(path.join(dir, file), text);
  }
  return run('npm', ['ci', '--offline', '--no-audit', '--no-fund', '--ignore-scripts'], {
    cwd: dir,
    env: { ...process.env, npm_config_update_notifier: 'false' },
  });
}

/** Runs a command in an app; returns stdout, or throws with both streams in the message. */
export function inApp(dir: string, cmd: string, args: string[], env: Record<string, string> = {}): string {
  try {
    return run(cmd, args, { cwd: dir, env: { ...process.env, ...env } });
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string; message: string };
    throw new Error(`${cmd} ${args.join(' ')} failed in ${dir}:\n${e.stdout ?? ''}\n${e.stderr ?? e.message}`);
  }
}
