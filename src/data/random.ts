/**
 * A small seeded random number generator (sfc32) with the draws the data pipeline needs. Every
 * random choice of the pipeline comes from one of these, seeded from (seed, epoch, sample), so a
 * run is reproducible regardless of how many samples are decoded in parallel or in what order.
 */
export class Rng {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  /** A generator for the given integers (any number of them, e.g. seed, epoch, sample index). */
  constructor(...seed: number[]) {
    // Spread the key through a 128-bit state with a multiplicative hash, then warm up.
    let h1 = 0x9e3779b9;
    let h2 = 0x243f6a88;
    let h3 = 0xb7e15162;
    let h4 = 0x85a308d3;
    for (const s of seed.length > 0 ? seed : [0]) {
      const lo = s >>> 0;
      const hi = Math.floor(s / 4294967296) >>> 0;
      for (const k of [lo, hi]) {
        h1 = Math.imul(h1 ^ k, 0x85ebca6b);
        h2 = Math.imul(h2 ^ (k + h1), 0xc2b2ae35);
        h3 = Math.imul(h3 ^ (k + h2), 0x27d4eb2f);
        h4 = Math.imul(h4 ^ (k + h3), 0x165667b1);
        h1 ^= h4 >>> 15;
      }
    }
    this.a = h1 >>> 0;
    this.b = h2 >>> 0;
    this.c = h3 >>> 0;
    this.d = (h4 | 1) >>> 0;
    for (let i = 0; i < 15; i++) this.nextUint32();
  }

  /** A uniformly distributed 32-bit unsigned integer. */
  nextUint32(): number {
    const t = (((this.a + this.b) | 0) + this.d) | 0;
    this.d = (this.d + 1) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.c = (this.c + t) | 0;
    return t >>> 0;
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

  /** Shuffles an array in place (Fisher–Yates) and returns it. */
  shuffle<T>(items: T[]): T[] {
    for (let i = items.length - 1; i > 0; i--) {
      const j = this.int(0, i);
      [items[i], items[j]] = [items[j]!, items[i]!];
    }
    return items;
  }
}
