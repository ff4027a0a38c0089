// Parsers of command-line option values, shared by every command: each returns the value or
// throws one line naming the option and what it takes.

/** An integer >= `min` ("a positive integer" when `min` is 1). */
export function integer(name: string, min: number) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < min) {
      throw new Error(`${name} must be ${min === 1 ? 'a positive integer' : `an integer >= ${min}`}, got '${value}'`);
    }
    return n;
  };
}

/** A finite number > 0. */
export function positiveNumber(name: string) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isFinite(n) || n <= 0) throw new Error(`${name} must be a number > 0, got '${value}'`);
    return n;
  };
}

/** Any finite number. */
export function finiteNumber(name: string) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isFinite(n)) throw new Error(`${name} must be a number, got '${value}'`);
    return n;
  };
}

/** A number in [0, 1]. */
export function probability(name: string) {
  return (value: string): number => {
    const p = Number(value);
    if (!(p >= 0 && p <= 1)) throw new Error(`${name} must be a probability in [0, 1], got '${value}'`);
    return p;
  };
}

/** `count` comma-separated numbers >= 0 (integers when `integerOnly`). */
export function numberList(name: string, count: number, integerOnly: boolean) {
  return (value: string): number[] => {
    const parts = value.split(',').map((p) => Number(p.trim()));
    if (parts.length !== count || parts.some((n) => !Number.isFinite(n) || n < 0 || (integerOnly && !Number.isInteger(n)))) {
      throw new Error(`${name} takes ${count} comma-separated ${integerOnly ? 'integers' : 'numbers'} >= 0, got '${value}'`);
    }
    return parts;
  };
}

/** One of `allowed`. */
export function oneOf<T extends string>(name: string, allowed: readonly T[]) {
  return (value: string): T => {
    if (!(allowed as readonly string[]).includes(value)) throw new Error(`${name} must be one of ${allowed.join(', ')}, got '${value}'`);
    return value as T;
  };
}
