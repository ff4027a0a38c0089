import { type Tag, type TagVocabulary } from './tags.js';

/**
 * Which samples to keep for training, by their tags. A sample passes when it has exactly one of
 * each `exactlyOne` group, and at least one CIT / CVT when asked.
 */
export interface TagFilterRule {
  /** Groups of tag names of which a sample must carry exactly one each (e.g. one hair colour). */
  exactlyOne: Array<{ label: string; names: readonly string[] }>;
  /** Drop samples with no colour-invariant tag. */
  requireCit: boolean;
  /** Drop samples with no colour-variant tag. */
  requireCvt: boolean;
}

/** Hair-colour tags of the reference filter (Danbooru names; all are CVTs). */
export const HAIR_COLOR_TAGS: readonly string[] = Object.freeze([
  'blonde_hair', 'brown_hair', 'black_hair', 'blue_hair', 'purple_hair', 'pink_hair', 'silver_hair',
  'green_hair', 'red_hair', 'white_hair', 'orange_hair', 'grey_hair', 'aqua_hair', 'lavender_hair',
  'light_brown_hair',
]);

/** Eye-colour tags of the reference filter (all are CVTs). */
export const EYE_COLOR_TAGS: readonly string[] = Object.freeze([
  'blue_eyes', 'red_eyes', 'brown_eyes', 'green_eyes', 'purple_eyes', 'yellow_eyes', 'pink_eyes',
  'black_eyes', 'aqua_eyes', 'orange_eyes', 'grey_eyes', 'silver_eyes',
]);

/**
 * The published training filter: exactly one person tag (`1girl` or `1boy`), exactly one hair
 * colour, exactly one eye colour, at least one CIT and at least one CVT.
 */
export const REFERENCE_TAG_FILTER: TagFilterRule = Object.freeze({
  exactlyOne: [
    { label: 'person', names: ['1girl', '1boy'] },
    { label: 'hair colour', names: HAIR_COLOR_TAGS },
    { label: 'eye colour', names: EYE_COLOR_TAGS },
  ],
  requireCit: true,
  requireCvt: true,
});

/** What a filter kept and dropped. Each dropped sample is counted once, under its first failing reason. */
export interface TagFilterReport {
  /** Samples looked at. */
  total: number;
  kept: number;
  dropped: number;
  /** Drops per reason: `not exactly one person`, `not exactly one hair colour`, `no CIT`, `no CVT`. */
  droppedBy: Record<string, number>;
}

/** Why a sample's tags fail `rule`, or undefined when they pass. */
export function tagFilterFailure(tags: readonly Tag[], rule: TagFilterRule): string | undefined {
  const names = new Set(tags.map((t) => t.name));
  for (const group of rule.exactlyOne) {
    let n = 0;
    for (const name of group.names) if (names.has(name)) n++;
    if (n !== 1) return `not exactly one ${group.label}`;
  }
  if (rule.requireCit && !tags.some((t) => t.kind === 'cit')) return 'no CIT';
  if (rule.requireCvt && !tags.some((t) => t.kind === 'cvt')) return 'no CVT';
  return undefined;
}

/**
 * Keeps the samples whose tags pass `rule` and counts what was dropped and why.
 * `tagsOf` returns a sample's tags resolved against the vocabulary.
 */
export function filterByTags<T>(
  samples: readonly T[],
  tagsOf: (sample: T) => readonly Tag[],
  rule: TagFilterRule = REFERENCE_TAG_FILTER,
): { kept: T[]; report: TagFilterReport } {
  const kept: T[] = [];
  const droppedBy: Record<string, number> = {};
  for (const s of samples) {
    const why = tagFilterFailure(tagsOf(s), rule);
    if (why === undefined) kept.push(s);
    else droppedBy[why] = (droppedBy[why] ?? 0) + 1;
  }
  return {
    kept,
    report: { total: samples.length, kept: kept.length, dropped: samples.length - kept.length, droppedBy },
  };
}

/** Checks that every name a rule mentions exists in the vocabulary (a typo would silently drop everything). */
export function validateTagFilterRule(rule: TagFilterRule, vocabulary: TagVocabulary): void {
  for (const group of rule.exactlyOne) {
    const missing = group.names.filter((name) => !vocabulary.has(name));
    if (missing.length > 0) {
      throw new Error(
        `The tag filter's '${group.label}' group names tags this vocabulary does not know: ` +
          `${missing.join(', ')}. Add them to the vocabulary (as "extra" tags if they are not ` +
          'encoded), pass a rule that fits your tags, or turn the filter off.',
      );
    }
  }
}
