// The error classes of tag2pix, in one place (browser-safe). Every error that bad input can
// cause (a corrupt or hostile file, an option out of range, an output that would replace a file)
// is a Tag2PixError: callers, the CLI and the fuzz suite recognise it with `instanceof`.
//
// A message names options through an `OptionNamer`, so that one error reads in the caller's own
// terms: API names (`maxPixels`) by default, CLI flags (`--max-pixels`) where the CLI renders it.

/** Longest message a {@link Tag2PixError} carries; longer ones are cut with a note. */
export const MAX_ERROR_MESSAGE_LENGTH = 2000;

/** Longest rendering of a user-supplied value inside a message. */
const MAX_QUOTED_LENGTH = 80;

/**
 * Names an option in the reader's terms: the API name as given (`maxPixels`) for library
 * callers; the CLI maps it to its flag (`--max-pixels`). A key `name=value` names the option set
 * to that value (`cit=false`: `cit: false` in the API, `--no-cit` on the command line).
 */
export type OptionNamer = (option: string) => string;

/**
 * The library's own terms: an option is called by its API name; `name=value` (an option given a
 * value, e.g. `cit=false`) reads `cit: false`.
 */
export const apiOptionNames: OptionNamer = (option) => option.replace('=', ': ');

/** Cuts a message to {@link MAX_ERROR_MESSAGE_LENGTH} characters, saying how much was cut. */
export function capMessage(text: string, max = MAX_ERROR_MESSAGE_LENGTH): string {
  if (text.length <= max) return text;
  const note = ` … (${text.length - max} more characters)`;
  return text.slice(0, max - note.length) + note;
}

/**
 * A user-supplied value as it may appear in a message: quoted, on one line, control and invisible
 * characters escaped (`'blue_hair\u0001'`, `'a\nb'`), cut to 80 characters.
 */
export function quoteValue(value: unknown, max = MAX_QUOTED_LENGTH): string {
  let s = typeof value === 'string' ? value : String(value);
  const cut = s.length > max;
  if (cut) s = s.slice(0, max);
  const escaped = s
    .replace(/[\n\r\t]/g, (c) => (c === '\n' ? '\\n' : c === '\r' ? '\\r' : '\\t'))
    .replace(INVISIBLE, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
  return `'${escaped}'${cut ? `… (${(typeof value === 'string' ? value.length : String(value).length)} characters)` : ''}`;
}

/**
 * Control characters (C0 except tab/newline/CR, DEL, C1), zero-width characters and bidi
 * controls: characters a file name or a tag never needs and that can disguise what is printed.
 */
// eslint-disable-next-line no-control-regex
export const INVISIBLE = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff]/g;

/** True when the text holds a character of {@link INVISIBLE}. */
export function hasInvisible(text: string): boolean {
  INVISIBLE.lastIndex = 0;
  const found = INVISIBLE.test(text);
  INVISIBLE.lastIndex = 0;
  return found;
}

/** Where an error points: the file, the option, and a longer how-to for the user. */
export interface Tag2PixErrorOptions {
  /** The file the error is about (as the caller gave it). */
  file?: string;
  /** The option the error is about, by its API name (`maxPixels`). */
  option?: string;
  /** Guidance printed after the error (e.g. how to get weights); may span lines. */
  hint?: string;
  cause?: unknown;
}

/** A message, fixed or written in terms of option names. */
export type ErrorText = string | ((name: OptionNamer) => string);

/** Base class of every error tag2pix raises for bad input or a refused operation. */
export class Tag2PixError extends Error {
  readonly file: string | undefined;
  readonly option: string | undefined;
  readonly hint: string | undefined;
  private readonly text: (name: OptionNamer) => string;
  private readonly apiMessage: string;

  constructor(text: ErrorText, options: Tag2PixErrorOptions = {}) {
    const render = typeof text === 'string' ? () => text : text;
    // API callers read `message`: the hint follows the error there; the CLI prints it apart.
    const message = capMessage(render(apiOptionNames)) + (options.hint ? `\n${options.hint}` : '');
    super(message, options.cause !== undefined ? { cause: options.cause } : undefined);
    this.name = new.target.name;
    this.text = render;
    this.apiMessage = message;
    this.file = options.file;
    this.option = options.option;
    this.hint = options.hint;
  }

  /**
   * The error alone (no hint), with options named by `name` (the CLI passes its flags), capped in
   * length. A message changed after construction (e.g. prefixed with a context) is kept as is.
   */
  messageFor(name: OptionNamer): string {
    if (this.message !== this.apiMessage) return capMessage(this.message);
    return capMessage(this.text(name));
  }
}

/** A file is malformed, truncated, corrupt or of an unsupported kind. */
export class FileFormatError extends Tag2PixError {}

/**
 * A file or value asks for more than a stated limit allows (pixels, bytes, nesting, tags): it is
 * refused before the memory or time is spent.
 */
export class LimitError extends Tag2PixError {}

/** An option or argument has a value that cannot work. */
export class OptionError extends Tag2PixError {}

/** Writing an output was refused: it would replace an input or an existing file, or collide. */
export class OutputError extends Tag2PixError {}

/** Weights that cannot be loaded as given: not finite, an integer type, or shapes that do not fit. */
export class WeightsError extends Tag2PixError {}

/**
 * A name from a file (a tensor key, an entry) for a list in a message: as is when it is short
 * and plain, else quoted and escaped as {@link quoteValue} does.
 */
export function shownName(name: string, max = 60): string {
  return name.length <= max && !hasInvisible(name) && !/\s/.test(name) ? name : quoteValue(name, max);
}
