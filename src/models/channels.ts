// Channel arithmetic shared by the model builders (internal).

/** Validates a width multiplier: a finite number > 0. */
export function checkWidthMultiplier(owner: string, m: number): void {
  if (typeof m !== 'number' || !Number.isFinite(m) || m <= 0) {
    throw new Error(`${owner}: widthMultiplier must be a number > 0 (1 = the published model), got ${m}.`);
  }
}

/** A plain channel count scaled by `m`: at least 1. */
export function scaled(channels: number, m: number): number {
  return Math.max(1, Math.round(channels * m));
}

/**
 * A grouped-conv width scaled by `m`, kept a multiple of `groups` (and at least `groups`) so the
 * 16-group bottlenecks and their SE stay valid at any multiplier.
 */
export function scaledGrouped(channels: number, m: number, groups = 16): number {
  return Math.max(groups, Math.round((channels * m) / groups) * groups);
}
