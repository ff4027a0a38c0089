import { OptionError, quoteValue } from '../errors.js';

// Parsers of option values for commander, shared by the commands: each keeps the text the user
// typed for its message (`--seed must be an integer, got 'abc'`, never `got 'NaN'`).

/** An integer from `min` (to `max`). */
export function integerOption(flag: string, min: number, max = Number.MAX_SAFE_INTEGER) {
  return (value: string): number => {
    const n = value.trim() === '' ? NaN : Number(value);
    if (!Number.isSafeInteger(n) || n < min || n > max) {
      const range = max < Number.MAX_SAFE_INTEGER ? `from ${min} to ${max}` : min === 1 ? 'positive' : `>= ${min}`;
      throw new OptionError(`${flag} must be ${range === 'positive' ? 'a positive integer' : `an integer ${range}`}, got ${quoteValue(value, 40)}.`);
    }
    return n;
  };
}

/** A finite number (optionally above a bound). */
export function numberOption(flag: string, options: { above?: number } = {}) {
  return (value: string): number => {
    const n = value.trim() === '' ? NaN : Number(value);
    if (!Number.isFinite(n) || (options.above !== undefined && !(n > options.above))) {
      throw new OptionError(
        `${flag} must be a number${options.above !== undefined ? ` > ${options.above}` : ''}, got ${quoteValue(value, 40)}.`,
      );
    }
    return n;
  };
}

/** A probability in [0, 1]. */
export function probabilityOption(flag: string) {
  return (value: string): number => {
    const p = value.trim() === '' ? NaN : Number(value);
    if (!(p >= 0 && p <= 1)) throw new OptionError(`${flag} must be a probability in [0, 1], got ${quoteValue(value, 40)}.`);
    return p;
  };
}

/** `--max-pixels`: a pixel count, as digits or `W×H` / `WxH` (e.g. 8192x8192). */
export function pixelCountOption(flag: string) {
  return (value: string): number => {
    const m = /^\s*(\d+)\s*(?:[x×*]\s*(\d+))?\s*$/i.exec(value);
    const n = m ? Number(m[1]) * (m[2] !== undefined ? Number(m[2]) : 1) : NaN;
    if (!Number.isSafeInteger(n) || n < 1) {
      throw new OptionError(`${flag} must be a pixel count such as 67108864 or 8192x8192, got ${quoteValue(value, 40)}.`);
    }
    return n;
  };
}
