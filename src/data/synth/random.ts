/**
 * A small seeded pseudo-random generator (mulberry32): the same seed gives the same characters on
 * every platform, without depending on `Math.random`.
 */
export class SynthRandom {
  private state: number;

  constructor(seed: number) {
    if (!Number.isFinite(seed)) {
      throw new Error(`SynthRandom: seed must be a finite number, got ${seed}`);
    }
    this.state = Math.floor(seed) >>> 0;
  }

  /** Uniform in [0, 1). */
  next(): number {
    let t = (this.state = (this.state + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** Uniform in [lo, hi). */
  uniform(lo: number, hi: number): number {
    return lo + (hi - lo) * this.next();
  }

  /** Integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  /** True with probability p. */
  chance(p: number): boolean {
    return this.next() < p;
  }

  /** One element of a non-empty list. */
  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new Error('SynthRandom.pick: the list is empty');
    return items[this.int(items.length)]!;
  }

  /** A derived generator whose stream does not overlap this one's in practice. */
  fork(): SynthRandom {
    return new SynthRandom(Math.floor(this.next() * 4294967296) ^ 0x9e3779b9);
  }
}

/** Seed of the i-th sample of a dataset seeded with `seed` (so sample i never depends on i-1). */
export function sampleSeed(seed: number, index: number): number {
  let h = (Math.floor(seed) ^ Math.imul(index + 1, 0x9e3779b1)) >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b) >>> 0;
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35) >>> 0;
  return (h ^ (h >>> 16)) >>> 0;
}
