import type { Command } from 'commander';
import { type OptionNamer, Tag2PixError, capMessage } from '../errors.js';

// How the CLI reports an error: one line, `tag2pix: <message>`, options named by their flags
// (the library's errors name them by API name), no stack trace; then the error's hint, if it has
// one (e.g. how to get weights). Exit code 1.

const extraNames = new WeakMap<Command, Record<string, string>>();

/**
 * Declares how a command names the API options its errors may mention when they differ from
 * its flags' own names (`learningRate` → `--lr`), and its arguments (`lineArt` → `<lineart>`).
 */
export function nameOptions(command: Command, names: Record<string, string>): Command {
  extraNames.set(command, { ...extraNames.get(command), ...names });
  return command;
}

/**
 * The namer of a command: declared names first, then the flag whose attribute is the API name
 * (`maxPixels` → `--max-pixels`; `cit=false` → `--no-cit`, `overwrite=true` → `--overwrite`).
 */
export function flagNamer(command: Command | undefined): OptionNamer {
  const extra = command ? (extraNames.get(command) ?? {}) : {};
  return (option) => {
    if (extra[option] !== undefined) return extra[option]!;
    const [key, value] = option.split('=') as [string, string | undefined];
    if (extra[key] !== undefined) return extra[key]!;
    const flags = command?.options ?? [];
    const negated = value === 'false';
    const flag =
      flags.find((o) => o.attributeName() === key && Boolean(o.negate) === negated) ?? flags.find((o) => o.attributeName() === key);
    return flag?.long ?? option;
  };
}

/** The lines the CLI prints for an error. */
export function errorLines(err: unknown, command: Command | undefined): string[] {
  if (err instanceof Tag2PixError) {
    const message = err.messageFor(flagNamer(command)).split('\n').map((l) => l.trim()).filter(Boolean).join(' ');
    return [`tag2pix: ${message}`, ...(err.hint ? err.hint.split('\n') : [])];
  }
  // Anything else is unexpected: its first line only, unless TAG2PIX_DEBUG asks for the stack.
  const e = err instanceof Error ? err : new Error(String(err));
  if (process.env['TAG2PIX_DEBUG']) return [e.stack ?? e.message];
  const first = (e.message.split('\n')[0] ?? '').trim();
  return [`tag2pix: ${capMessage(first)}${e.message.includes('\n') ? ' (TAG2PIX_DEBUG=1 for details)' : ''}`];
}
