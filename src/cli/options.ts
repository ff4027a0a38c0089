import { OptionError, quoteValue } from '../errors.js';

// Parsers of command-line option values for commander, shared by every command: each returns the
// value or throws one OptionError naming the option, what it takes and the text the user typed
// (`--seed must be an integer >= 0, got 'abc'.`, never `got 'NaN'`).

/** The number a user typed; blank text is not 0. */
function parseNumber(value: string): number {
  return value.trim() === '' ? NaN : Number(value);
}

/** An integer >= `min` ("a positive integer" when `min` is 1), or from `min` to `max`. */
export function integer(name: string, min: number, max = Number.MAX_SAFE_INTEGER) {
  return (value: string): number => {
    const n = parseNumber(value);
    if (!Number.isSafeInteger(n) || n < min || n > max) {
      const what =
        max < Number.MAX_SAFE_INTEGER ? `an integer from ${min} to ${max}` : min === 1 ? 'a positive integer' : `an integer >= ${min}`;
      throw new OptionError(`${name} must be ${what}, got ${quoteValue(value, 40)}.`);
    }
    return n;
  };
}

/** A finite number > 0. */
export function positiveNumber(name: string) {
  return (value: string): number => {
    const n = parseNumber(value);
    if (!Number.isFinite(n) || n <= 0) throw new OptionError(`${name} must be a number > 0, got ${quoteValue(value, 40)}.`);
    return n;
  };
}

/** Any finite number. */
export function finiteNumber(name: string) {
  return (value: string): number => {
    const n = parseNumber(value);
    if (!Number.isFinite(n)) throw new OptionError(`${name} must be a number, got ${quoteValue(value, 40)}.`);
    return n;
  };
}

/** A number in [0, 1]. */
export function probability(name: string) {
  return (value: string): number => {
    const p = parseNumber(value);
    if (!(p >= 0 && p <= 1)) throw new OptionError(`${name} must be a probability in [0, 1], got ${quoteValue(value, 40)}.`);
    return p;
  };
}

/** A fraction of an image side in [0, 0.5): a border width. */
export function borderFraction(name: string) {
  return (value: string): number => {
    const p = parseNumber(value);
    if (!(p >= 0 && p < 0.5)) throw new OptionError(`${name} must be a fraction of the image side in [0, 0.5), got ${quoteValue(value, 40)}.`);
    return p;
  };
}

/** `count` comma-separated numbers >= 0 (integers when `integerOnly`). */
export function numberList(name: string, count: number, integerOnly: boolean) {
  return (value: string): number[] => {
    const parts = value.split(',').map((p) => Number(p.trim()));
    if (parts.length !== count || parts.some((n) => !Number.isFinite(n) || n < 0 || (integerOnly && !Number.isInteger(n)))) {
      throw new OptionError(
        `${name} takes ${count} comma-separated ${integerOnly ? 'integers' : 'numbers'} >= 0, got ${quoteValue(value, 40)}.`,
      );
    }
    return parts;
  };
}

/** One of `allowed`. */
export function oneOf<T extends string>(name: string, allowed: readonly T[]) {
  return (value: string): T => {
    if (!(allowed as readonly string[]).includes(value)) {
      throw new OptionError(`${name} must be one of ${allowed.join(', ')}, got ${quoteValue(value, 40)}.`);
    }
    return value as T;
  };
}

/** A pixel count (`--max-pixels`), as digits or `W×H` / `WxH` (e.g. 8192x8192). */
export function pixelCount(name: string) {
  return (value: string): number => {
    const m = /^\s*(\d+)\s*(?:[x×*]\s*(\d+))?\s*$/i.exec(value);
    const n = m ? Number(m[1]) * (m[2] !== undefined ? Number(m[2]) : 1) : NaN;
    if (!Number.isSafeInteger(n) || n < 1) {
      throw new OptionError(`${name} must be a pixel count such as 67108864 or 8192x8192, got ${quoteValue(value, 40)}.`);
    }
    return n;
  };
}
