// Writing outputs without ever losing a user's file: paths are compared by what they really
// point at (symlinks and `..` resolved), an output never replaces an input, an existing file is
// replaced only when asked, and every write goes through a temporary file and a rename, so a
// killed process leaves the old file or the new one, never half of one. Temporary files that a
// killed process left behind are removed the next time the folder is written to.
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { OutputError, quoteValue } from '../errors.js';

/**
 * The real path of `file`: symlinks resolved for the part that exists, the rest appended. Two
 * names of one file (a symlink, a hard-coded `..`, a different spelling) give the same string.
 */
export async function realPathOf(file: string): Promise<string> {
  let existing = path.resolve(file);
  const rest: string[] = [];
  for (;;) {
    try {
      return path.join(await fs.realpath(existing), ...rest);
    } catch {
      const parent = path.dirname(existing);
      if (parent === existing) return path.resolve(file);
      rest.unshift(path.basename(existing));
      existing = parent;
    }
  }
}

/** True when `inner` is `outer` or lies inside it (both real paths). */
export function isInside(inner: string, outer: string): boolean {
  const relative = path.relative(outer, inner);
  return relative === '' || (!relative.startsWith('..') && !path.isAbsolute(relative));
}

/** Options of {@link checkOutputFile} and {@link writeOutputFile}. */
export interface OutputFileOptions {
  /** Files the command reads: the output may never be one of them, even with `overwrite`. */
  inputs?: readonly string[];
  /** Replace an existing file (default false: an existing file is an error). */
  overwrite?: boolean;
  /** The API name of the option that named the output, for messages (default `out`). */
  option?: string;
}

/**
 * Checks, before any work, that `file` can be written: not a folder, not one of the inputs (by
 * real path), and not an existing file unless `overwrite`. Raises an {@link OutputError} naming
 * the option otherwise.
 */
export async function checkOutputFile(file: string, options: OutputFileOptions = {}): Promise<void> {
  const option = options.option ?? 'out';
  const real = await realPathOf(file);
  for (const input of options.inputs ?? []) {
    if ((await realPathOf(input)) === real) {
      throw new OutputError(
        (name) =>
          `${name(option)} ${quoteValue(file, 200)} is the input ${quoteValue(input, 200)}` +
          `${path.resolve(input) !== path.resolve(file) ? ' (the same file by another path)' : ''}; writing it would destroy the input. ` +
          `Choose another ${name(option)}.`,
        { file, option },
      );
    }
  }
  let stat;
  try {
    stat = await fs.stat(file);
  } catch {
    return;
  }
  if (stat.isDirectory()) {
    throw new OutputError((name) => `${name(option)} ${quoteValue(file, 200)} is a folder; give a file name (e.g. ${path.join(file, 'out.png')}).`, {
      file,
      option,
    });
  }
  if (!options.overwrite) {
    throw new OutputError(
      (name) => `${name(option)} ${quoteValue(file, 200)} already exists; choose another name or pass ${name('overwrite=true')} to replace it.`,
      { file, option },
    );
  }
}

/** {@link checkOutputFile}, then {@link writeFileAtomic}. */
export async function writeOutputFile(file: string, data: Uint8Array | string, options: OutputFileOptions = {}): Promise<void> {
  await checkOutputFile(file, options);
  await writeFileAtomic(file, data);
}

const TEMPORARY = /^(.+)\.tmp-(\d+)-(\d+)$/;

/** The temporary name a write of `file` goes through (same folder, so the rename is atomic). */
function temporaryName(file: string): string {
  return `${file}.tmp-${process.pid}-${Date.now()}`;
}

/**
 * Writes `data` to `file` through a temporary file in the same folder (flushed to disk) and a
 * rename: a reader, or a process killed at any moment, sees the old file or the new one. A
 * symlink at `file` is replaced by the new file; its target is left alone.
 */
export async function writeFileAtomic(file: string, data: Uint8Array | string): Promise<void> {
  await fs.mkdir(path.dirname(file), { recursive: true });
  const temporary = temporaryName(file);
  const handle = await fs.open(temporary, 'wx');
  try {
    await handle.writeFile(data);
    await handle.sync();
  } catch (e) {
    await handle.close();
    await fs.rm(temporary, { force: true });
    throw e;
  }
  await handle.close();
  await fs.rename(temporary, file);
}

function processIsRunning(pid: number): boolean {
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    // EPERM: it exists but belongs to someone else.
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Removes the temporary files (`<name>.tmp-<pid>-<time>`) that {@link writeFileAtomic} left in
 * `dir` when its process was killed mid-write; those of running processes are kept. Only names
 * of that exact form whose base name passes `accept` (default: any) are touched. Returns what was removed.
 */
export async function removeStaleTemporaries(dir: string, accept: (baseName: string) => boolean = () => true): Promise<string[]> {
  let names: string[];
  try {
    names = await fs.readdir(dir);
  } catch {
    return [];
  }
  const removed: string[] = [];
  for (const name of names) {
    const m = TEMPORARY.exec(name);
    if (!m || !accept(m[1]!) || processIsRunning(Number(m[2]))) continue;
    const file = path.join(dir, name);
    const stat = await fs.lstat(file).catch(() => undefined);
    if (!stat?.isFile()) continue;
    await fs.rm(file, { force: true });
    removed.push(file);
  }
  return removed;
}
