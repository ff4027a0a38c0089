/**
 * The library's one seeded random number generator (mulberry32: 32 bits of state, the same
 * stream on every platform, no `Math.random`). The synthetic characters and every random choice
 * of the data pipeline come from one of these, keyed by integers such as (seed, epoch, sample),
 * so a run is reproducible regardless of how many samples are decoded in parallel or in what
 * order, and sample i never depends on sample i − 1.
 */
export class Rng {
  private state: number;

  /**
   * A generator for the given integers (any number of them, e.g. seed, epoch, sample index):
   * the first is the state, each further one is mixed in ({@link mixSeed}), so
   * `new Rng(a, b)` is `new Rng(mixSeed(a, b))`.
   */
  constructor(...key: number[]) {
    if (key.some((k) => !Number.isFinite(k))) {
      throw new Error(`Rng: every seed must be a finite number, got ${key.join(', ')}.`);
    }
    let state = Math.floor(key[0] ?? 0);
    for (const k of key.slice(1)) state = mixSeed(state, k);
    this.state = state >>> 0;
  }

  /** A uniformly distributed 32-bit unsigned integer. */
  nextUint32(): number {
    let t = (this.state = (this.state + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  }

  /** Uniform in [0, 1). */
  next(): number {
    return this.nextUint32() / 4294967296;
  }

  /** Uniform in [lo, hi). */
  uniform(lo: number, hi: number): number {
    return lo + (hi - lo) * this.next();
  }

  /** Uniform integer in [lo, hi] (both inclusive). */
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.next() * (hi - lo + 1));
  }

  /** True with probability p. */
  chance(p: number): boolean {
    return this.next() < p;
  }

  /** One element of a non-empty list. */
  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new Error('Rng.pick: the list is empty');
    return items[this.int(0, items.length - 1)]!;
  }

  /** Shuffles an array in place (Fisher–Yates) and returns it. */
  shuffle<T>(items: T[]): T[] {
    for (let i = items.length - 1; i > 0; i--) {
      const j = this.int(0, i);
      [items[i], items[j]] = [items[j]!, items[i]!];
    }
    return items;
  }

  /** A derived generator whose stream does not overlap this one's in practice. */
  fork(): Rng {
    return new Rng(this.nextUint32() ^ 0x9e3779b9);
  }
}

/** Mixes `index` into `seed` (a 32-bit hash), e.g. the seed of the i-th sample of a dataset. */
export function mixSeed(seed: number, index: number): number {
  let h = (Math.floor(seed) ^ Math.imul(index + 1, 0x9e3779b1)) >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b) >>> 0;
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35) >>> 0;
  return (h ^ (h >>> 16)) >>> 0;
}
