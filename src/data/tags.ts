import * as tf from '@tensorflow/tfjs-core';
import { LimitError, OptionError, Tag2PixError, hasInvisible, quoteValue } from '../errors.js';
import { EYE_COLOR_TAGS, HAIR_COLOR_TAGS } from './filter.js';
import defaultVocabularyJson from './tag2pix-vocab.json';

/**
 * Which vector a tag belongs to. `cit`: colour-invariant tags (shape, e.g. `long_hair`); `cvt`:
 * colour-variant tags (colour, e.g. `blue_hair`); `extra`: recognised by the parser and the
 * sample filter (e.g. `1girl`) but not part of either vector.
 */
export type TagKind = 'cit' | 'cvt' | 'extra';

/** One tag as stored in a vocabulary file. */
export interface TagEntry {
  /** Danbooru-style name with underscores, e.g. `blue_hair`. */
  name: string;
  /** Danbooru tag id (the numbers in a reference `tags.txt`); optional for custom vocabularies. */
  id?: number;
  /** Body region the tag describes (`hair`, `face`, `body_upper`, ...); free text. */
  part?: string;
  /** How many training images carry the tag (informational). */
  count?: number;
}

/** A tag resolved against a {@link TagVocabulary}. */
export interface Tag {
  readonly name: string;
  readonly id: number | undefined;
  readonly part: string | undefined;
  readonly kind: TagKind;
  /** Position in the `cit` or `cvt` vector; -1 for `extra` tags. */
  readonly index: number;
}

/** The JSON format of a vocabulary file (the format of the shipped `tag2pix-vocab.json`). */
export interface TagVocabularyJson {
  description?: string;
  /** Colour-invariant tags, in vector order. */
  cit: TagEntry[];
  /** Colour-variant tags, in vector order. */
  cvt: TagEntry[];
  /** Tags that are recognised but not encoded (person tags used by the sample filter, ...). */
  extra?: TagEntry[];
}

/** Multi-hot vectors of one sample. */
export interface MultiHot {
  /** Length {@link TagVocabulary.numCit}, 1 where the tag is present. */
  cit: Float32Array;
  /** Length {@link TagVocabulary.numCvt}. */
  cvt: Float32Array;
}

/** Unknown tags listed (with suggestions) in one message; the rest are counted. */
const MAX_LISTED_UNKNOWN = 5;

/** Thrown when a tag name (or id) is not in the vocabulary; says which known tags are nearest. */
export class UnknownTagError extends Tag2PixError {
  /** Each unknown tag as the user wrote it, with the nearest known names (best first). */
  readonly unknown: Array<{ tag: string; suggestions: string[] }>;

  constructor(unknown: Array<{ tag: string; suggestions: string[] }>, context?: string) {
    const listed = unknown.slice(0, MAX_LISTED_UNKNOWN).map(
      (u) =>
        quoteValue(u.tag, 40) +
        (u.suggestions.length > 0 ? ` (did you mean ${u.suggestions.map((s) => `'${s}'`).join(', ')}?)` : ''),
    );
    const more = unknown.length - listed.length;
    super(
      (name) =>
        `Unknown tag${unknown.length > 1 ? 's' : ''}${context ? ` in ${context}` : ` in ${name('tags')}`}: ${listed.join('; ')}` +
        `${more > 0 ? `; … and ${more} more` : ''}. ` +
        'Tag names are Danbooru-style (spaces or underscores, e.g. blue_hair); ' +
        "'tag2pix tags' lists the known ones (in code: vocabulary.names()), or load a custom vocabulary.",
      { option: 'tags' },
    );
    this.unknown = unknown;
  }
}

/**
 * Most tags one input may hold (the published vocabulary has 115 colour tags). More is refused
 * before any lookup, so a pasted list cannot cost seconds or a megabyte-long error.
 */
export const MAX_TAGS_PER_INPUT = 256;

/** Longest tag input accepted, in characters. */
export const MAX_TAG_INPUT_LENGTH = 16384;

/** Words longer than this are no tag; they get no suggestions (edit distance would be slow). */
const MAX_TAG_WORD_LENGTH = 64;

/** The tag input of a function, checked: a string or an array of strings (other items as given). */
function checkTagInput(input: unknown, what: string): void {
  if (typeof input !== 'string' && !Array.isArray(input)) {
    throw new OptionError(
      (name) =>
        `${name(what)} must be a string of tag names or an array of names, ids or Tag objects; got ` +
        `${input === null ? 'null' : Array.isArray(input) ? 'an array' : typeof input}.`,
      { option: what },
    );
  }
  const items = typeof input === 'string' ? [input] : (input as unknown[]);
  if (items.length > MAX_TAGS_PER_INPUT) {
    throw new LimitError((name) => `${name(what)} holds ${items.length} tags; at most ${MAX_TAGS_PER_INPUT} are accepted.`, { option: what });
  }
  let length = 0;
  items.forEach((item, i) => {
    if (typeof item !== 'string') return;
    length += item.length;
    if (hasInvisible(item)) {
      const code = [...item].find((c) => hasInvisible(c))!.codePointAt(0)!;
      throw new OptionError(
        (name) =>
          `${name(what)}${typeof input === 'string' ? '' : `[${i}]`} ${quoteValue(item, 60)} contains a control or invisible character ` +
          `(U+${code.toString(16).toUpperCase().padStart(4, '0')}); tag names are words joined by _ or spaces, e.g. blue_hair.`,
        { option: what },
      );
    }
  });
  if (length > MAX_TAG_INPUT_LENGTH) {
    throw new LimitError(
      (name) => `${name(what)} is ${length} characters long; at most ${MAX_TAG_INPUT_LENGTH} are accepted (tags are short names).`,
      { option: what },
    );
  }
}

/** Lower-cases, trims and turns inner whitespace into underscores: `Blue  Hair` → `blue_hair`. */
export function normaliseTagName(name: string): string {
  return name.trim().toLowerCase().replace(/\s+/g, '_');
}

/** Levenshtein distance (insertions, deletions, substitutions, each cost 1). */
export function editDistance(a: string, b: string): number {
  if (a === b) return 0;
  if (a.length === 0) return b.length;
  if (b.length === 0) return a.length;
  let prev = new Array<number>(b.length + 1);
  let curr = new Array<number>(b.length + 1);
  for (let j = 0; j <= b.length; j++) prev[j] = j;
  for (let i = 1; i <= a.length; i++) {
    curr[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const sub = prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1);
      curr[j] = Math.min(sub, prev[j]! + 1, curr[j - 1]! + 1);
    }
    [prev, curr] = [curr, prev];
  }
  return prev[b.length]!;
}

// The longest tag in the shipped vocabulary has 4 words; 6 leaves room for custom ones.
const MAX_WORDS_PER_TAG = 6;

/**
 * The tags a model is conditioned on: the CIT and CVT lists in the exact order the network's
 * inputs use, with lookups by name, index and Danbooru id, multi-hot encoding and decoding, and a
 * forgiving parser for user input. {@link defaultVocabulary} is the published Tag2Pix vocabulary
 * (370 CIT, 115 CVT); {@link TagVocabulary.fromJSON} loads your own.
 */
export class TagVocabulary {
  /** Colour-invariant tags in vector order. */
  readonly cit: readonly Tag[];
  /** Colour-variant tags in vector order. */
  readonly cvt: readonly Tag[];
  /** Recognised, never encoded. */
  readonly extra: readonly Tag[];
  readonly description: string | undefined;
  private readonly byNameMap = new Map<string, Tag>();
  private readonly byIdMap = new Map<number, Tag>();

  constructor(json: TagVocabularyJson) {
    if (json == null || !Array.isArray(json.cit) || !Array.isArray(json.cvt)) {
      throw new Error(
        'A tag vocabulary needs "cit" and "cvt" arrays of {name, id?, part?} objects ' +
          '(see the shipped tag2pix-vocab.json).',
      );
    }
    this.description = json.description;
    this.cit = this.build(json.cit, 'cit');
    this.cvt = this.build(json.cvt, 'cvt');
    this.extra = this.build(json.extra ?? [], 'extra');
    if (this.cit.length === 0 && this.cvt.length === 0) {
      throw new Error('A tag vocabulary needs at least one CIT or CVT tag; both lists are empty.');
    }
  }

  /** Loads a vocabulary from its JSON text or parsed object ({@link TagVocabularyJson}). */
  static fromJSON(json: string | TagVocabularyJson): TagVocabulary {
    let parsed: unknown = json;
    if (typeof json === 'string') {
      try {
        parsed = JSON.parse(json);
      } catch (err) {
        throw new Error(`The tag vocabulary is not valid JSON: ${(err as Error).message}`);
      }
    }
    return new TagVocabulary(parsed as TagVocabularyJson);
  }

  /** The vocabulary as JSON, loadable again with {@link TagVocabulary.fromJSON}. */
  toJSON(): TagVocabularyJson {
    const entry = (t: Tag): TagEntry => {
      const e: TagEntry = { name: t.name };
      if (t.id !== undefined) e.id = t.id;
      if (t.part !== undefined) e.part = t.part;
      return e;
    };
    const out: TagVocabularyJson = { cit: this.cit.map(entry), cvt: this.cvt.map(entry) };
    if (this.description !== undefined) out.description = this.description;
    if (this.extra.length > 0) out.extra = this.extra.map(entry);
    return out;
  }

  private build(entries: TagEntry[], kind: TagKind): Tag[] {
    return entries.map((e, i) => {
      if (e == null || typeof e.name !== 'string' || e.name.trim() === '') {
        throw new Error(`Tag vocabulary: ${kind}[${i}] has no name; every entry needs {"name": "..."}.`);
      }
      if (e.id !== undefined && !Number.isInteger(e.id)) {
        throw new Error(`Tag vocabulary: ${kind}[${i}] ('${e.name}') has a non-integer id ${String(e.id)}.`);
      }
      const name = normaliseTagName(e.name);
      const tag: Tag = Object.freeze({
        name,
        id: e.id,
        part: e.part,
        kind,
        index: kind === 'extra' ? -1 : i,
      });
      const dup = this.byNameMap.get(name);
      if (dup) throw new Error(`Tag vocabulary: '${name}' appears twice (${dup.kind} and ${kind}).`);
      this.byNameMap.set(name, tag);
      if (e.id !== undefined) {
        const dupId = this.byIdMap.get(e.id);
        if (dupId) throw new Error(`Tag vocabulary: id ${e.id} is used by both '${dupId.name}' and '${name}'.`);
        this.byIdMap.set(e.id, tag);
      }
      return tag;
    });
  }

  /** Length of the CIT vector. */
  get numCit(): number {
    return this.cit.length;
  }

  /** Length of the CVT vector. */
  get numCvt(): number {
    return this.cvt.length;
  }

  /** All names (CIT, then CVT, then extra). */
  names(kind?: TagKind): string[] {
    const lists = kind === undefined ? [this.cit, this.cvt, this.extra] : [this.list(kind)];
    return lists.flatMap((l) => l.map((t) => t.name));
  }

  private list(kind: TagKind): readonly Tag[] {
    return kind === 'cit' ? this.cit : kind === 'cvt' ? this.cvt : this.extra;
  }

  /** The tag with this name (spaces or underscores, any case), or undefined. */
  byName(name: string): Tag | undefined {
    return this.byNameMap.get(normaliseTagName(name));
  }

  /** The tag with this Danbooru id, or undefined. */
  byId(id: number): Tag | undefined {
    return this.byIdMap.get(id);
  }

  /** The tag at a position of the CIT or CVT vector. */
  byIndex(kind: 'cit' | 'cvt', index: number): Tag {
    const list = this.list(kind);
    const tag = list[index];
    if (tag === undefined) {
      throw new RangeError(`No ${kind.toUpperCase()} tag at index ${index}: valid indices are 0..${list.length - 1}.`);
    }
    return tag;
  }

  /** The tag with this name or id; an {@link UnknownTagError} with suggestions when there is none. */
  get(nameOrId: string | number): Tag {
    const tag = typeof nameOrId === 'number' ? this.byId(nameOrId) : this.byName(nameOrId);
    if (tag) return tag;
    if (typeof nameOrId === 'number') {
      throw new UnknownTagError([{ tag: String(nameOrId), suggestions: [] }], 'the vocabulary ids');
    }
    throw new UnknownTagError([{ tag: nameOrId, suggestions: this.nearest(nameOrId) }]);
  }

  /** True when the name (or id) is a known tag. */
  has(nameOrId: string | number): boolean {
    return (typeof nameOrId === 'number' ? this.byId(nameOrId) : this.byName(nameOrId)) !== undefined;
  }

  /**
   * The `count` known names nearest to `name` by edit distance (ties in vocabulary order), kept to
   * the tag's family: a name whose last word is (nearly) the last word of known tags (`hair`,
   * `eyes`, `shirt`: `blue_hiar`, `red_eys`) gets suggestions from those tags only.
   */
  nearest(name: string, count = 3): string[] {
    const query = normaliseTagName(name);
    if (query.length > MAX_TAG_WORD_LENGTH) return [];
    const lastWord = (n: string) => n.slice(n.lastIndexOf('_') + 1);
    const word = lastWord(query);
    let family: string | undefined;
    if (query.includes('_')) {
      // Families: last words that several tags share. The nearest one, within 2 edits (1 for
      // short words); on a tie the larger family.
      const sizes = new Map<string, number>();
      for (const known of this.byNameMap.keys()) {
        if (known.includes('_')) sizes.set(lastWord(known), (sizes.get(lastWord(known)) ?? 0) + 1);
      }
      let best = { d: word.length >= 4 ? 3 : 2, size: 0 };
      for (const [candidate, size] of sizes) {
        if (size < 2) continue;
        const d = editDistance(word, candidate);
        if (d < best.d || (d === best.d && size > best.size)) [best, family] = [{ d, size }, candidate];
      }
    }
    const scored: Array<{ name: string; d: number; order: number }> = [];
    let order = 0;
    for (const known of this.byNameMap.keys()) {
      order++;
      if (family !== undefined && lastWord(known) !== family) continue;
      scored.push({ name: known, d: editDistance(query, known), order });
    }
    scored.sort((a, b) => a.d - b.d || a.order - b.order);
    return scored.slice(0, count).map((s) => s.name);
  }

  /**
   * Parses user input into tags. Accepts whitespace- or comma-separated names, underscores or
   * spaces inside a name (`blue hair, red eyes`, `blue_hair red_eyes`, `Blue Hair`), or an array
   * of names. Words are matched greedily, longest known tag first. Unknown names raise one
   * {@link UnknownTagError} listing each with its nearest known tags. Duplicates are dropped.
   */
  parseTags(input: string | readonly string[]): Tag[] {
    const { tags, unknown } = this.parseTagsLenient(input);
    if (unknown.length > 0) throw new UnknownTagError(unknown);
    return tags;
  }

  /**
   * Like {@link parseTags}, but returns the unknown names (with suggestions) instead of throwing,
   * for callers that skip them (e.g. a manifest read with `unknownTags: 'ignore'`).
   */
  parseTagsLenient(input: string | readonly string[]): {
    tags: Tag[];
    unknown: Array<{ tag: string; suggestions: string[] }>;
  } {
    checkTagInput(input, 'tags');
    const segments = typeof input === 'string' ? input.split(/[,;\n]/) : input.flatMap((s) => s.split(/[,;\n]/));
    const wordCount = segments.reduce((n, segment) => n + segment.split(/[\s_]+/).filter((w) => w !== '').length, 0);
    if (wordCount > MAX_TAGS_PER_INPUT * 4) {
      throw new LimitError(
        (name) => `${name('tags')} holds ${wordCount} words; at most ${MAX_TAGS_PER_INPUT} tags are accepted.`,
        { option: 'tags' },
      );
    }
    const found: Tag[] = [];
    const seen = new Set<Tag>();
    const unknown: Array<{ tag: string; suggestions: string[] }> = [];
    for (const segment of segments) {
      const words = segment.trim().toLowerCase().split(/[\s_]+/).filter((w) => w !== '');
      let i = 0;
      while (i < words.length) {
        let match: Tag | undefined;
        let used = 0;
        for (let n = Math.min(MAX_WORDS_PER_TAG, words.length - i); n >= 1; n--) {
          const tag = this.byNameMap.get(words.slice(i, i + n).join('_'));
          if (tag) {
            match = tag;
            used = n;
            break;
          }
        }
        if (match) {
          if (!seen.has(match)) {
            seen.add(match);
            found.push(match);
          }
          i += used;
          continue;
        }
        // Report the span of words that looks most like some known tag (`blue hiar`, not `blue`).
        let best = { text: words[i]!, used: 1, score: Infinity };
        for (let n = 1; n <= Math.min(MAX_WORDS_PER_TAG, words.length - i); n++) {
          const text = words.slice(i, i + n).join('_');
          if (text.length > MAX_TAG_WORD_LENGTH) break;
          const [nearest] = this.nearest(text, 1);
          const score = nearest === undefined ? Infinity : editDistance(text, nearest) / Math.max(text.length, nearest.length);
          if (score < best.score) best = { text, used: n, score };
        }
        // Suggestions for the first few only: they are what a message shows.
        const suggest = unknown.length < MAX_LISTED_UNKNOWN && best.text.length <= MAX_TAG_WORD_LENGTH;
        unknown.push({ tag: best.text, suggestions: suggest ? this.nearest(best.text) : [] });
        i += best.used;
      }
    }
    return { tags: found, unknown };
  }

  /**
   * Multi-hot vectors for tags given as names (strings are parsed with {@link parseTags}), ids or
   * resolved {@link Tag}s. Unknown names are an error; `extra` tags are accepted and not encoded.
   */
  encode(tags: string | ReadonlyArray<string | number | Tag>): MultiHot {
    const cit = new Float32Array(this.numCit);
    const cvt = new Float32Array(this.numCvt);
    for (const t of this.resolve(tags)) {
      if (t.kind === 'cit') cit[t.index] = 1;
      else if (t.kind === 'cvt') cvt[t.index] = 1;
    }
    return { cit, cvt };
  }

  /**
   * Resolves tags given as names (parsed with {@link parseTags}), Danbooru ids or {@link Tag}
   * objects to this vocabulary's own tags, in order, without duplicates. A Tag object must be one
   * of this vocabulary's (same name, kind and index); anything else is an {@link OptionError}
   * naming it, and unknown names an {@link UnknownTagError}. `what` names the input in messages.
   */
  resolve(tags: string | ReadonlyArray<string | number | Tag>, what = 'tags'): Tag[] {
    checkTagInput(tags, what);
    const list: ReadonlyArray<unknown> = typeof tags === 'string' ? [tags] : tags;
    const names = list.filter((t): t is string => typeof t === 'string');
    const out: Tag[] = names.length > 0 ? this.parseTags(names) : [];
    const seen = new Set(out);
    list.forEach((t, i) => {
      if (typeof t === 'string') return;
      let tag: Tag | undefined;
      if (typeof t === 'number') {
        if (!Number.isSafeInteger(t)) {
          throw new OptionError((name) => `${name(what)}[${i}] is ${t}, not a Danbooru tag id.`, { option: what });
        }
        tag = this.get(t);
      } else if (t !== null && typeof t === 'object' && typeof (t as Tag).name === 'string') {
        const given = t as Tag;
        tag = this.byNameMap.get(given.name);
        if (!tag || tag.kind !== given.kind || tag.index !== given.index) {
          throw new OptionError(
            (name) =>
              `${name(what)}[${i}] is a Tag object (${quoteValue(given.name, 40)}, ${String(given.kind)} index ${quoteValue(given.index, 20)}) ` +
              `that is not in this vocabulary${tag ? `, where it is ${tag.kind} index ${tag.index}` : ''}; ` +
              'take tags from the vocabulary (vocabulary.get(name)) or pass names.',
            { option: what },
          );
        }
      } else {
        throw new OptionError(
          (name) => `${name(what)}[${i}] is ${t === null ? 'null' : typeof t}; give tag names, Danbooru ids or Tag objects.`,
          { option: what },
        );
      }
      if (!seen.has(tag)) {
        seen.add(tag);
        out.push(tag);
      }
    });
    return out;
  }

  /**
   * Multi-hot vectors from Danbooru ids, ignoring ids outside the vocabulary (a reference
   * `tags.txt` line carries every Danbooru tag of the image, most of them not in the vocabulary).
   */
  encodeIds(ids: Iterable<number>): MultiHot {
    const cit = new Float32Array(this.numCit);
    const cvt = new Float32Array(this.numCvt);
    for (const id of ids) {
      const t = this.byIdMap.get(id);
      if (t?.kind === 'cit') cit[t.index] = 1;
      else if (t?.kind === 'cvt') cvt[t.index] = 1;
    }
    return { cit, cvt };
  }

  /**
   * Tag names whose score is at least `threshold`, for multi-hot vectors or classifier outputs
   * (plain arrays, typed arrays or 1-D tensors). Ordered by vector position.
   */
  decode(
    cit: ArrayLike<number> | tf.Tensor | null,
    cvt: ArrayLike<number> | tf.Tensor | null,
    threshold = 0.5,
  ): { cit: string[]; cvt: string[] } {
    const pick = (v: ArrayLike<number> | tf.Tensor | null, kind: 'cit' | 'cvt'): string[] => {
      if (v == null) return [];
      const values = v instanceof tf.Tensor ? v.dataSync() : v;
      const list = this.list(kind);
      if (values.length !== list.length) {
        throw new Error(
          `Cannot decode a ${kind.toUpperCase()} vector of length ${values.length}: this vocabulary has ` +
            `${list.length} ${kind.toUpperCase()} tags. Pass one sample's vector (slice a batch first).`,
        );
      }
      const out: string[] = [];
      for (let i = 0; i < values.length; i++) if (values[i]! >= threshold) out.push(list[i]!.name);
      return out;
    };
    return { cit: pick(cit, 'cit'), cvt: pick(cvt, 'cvt') };
  }

  /** Encodes several samples into `[N, numCit]` and `[N, numCvt]` float32 tensors. */
  encodeBatch(samples: ReadonlyArray<string | ReadonlyArray<string | number | Tag>>): {
    cit: tf.Tensor2D;
    cvt: tf.Tensor2D;
  } {
    const n = samples.length;
    const cit = new Float32Array(n * this.numCit);
    const cvt = new Float32Array(n * this.numCvt);
    samples.forEach((s, i) => {
      const m = this.encode(s);
      cit.set(m.cit, i * this.numCit);
      cvt.set(m.cvt, i * this.numCvt);
    });
    return { cit: tf.tensor2d(cit, [n, this.numCit]), cvt: tf.tensor2d(cvt, [n, this.numCvt]) };
  }
}

/** Danbooru's person tags used by the reference sample filter; not in the CIT/CVT vectors. */
export const PERSON_TAGS: readonly TagEntry[] = Object.freeze([
  { name: '1girl', id: 470575, part: 'person' },
  { name: '1boy', id: 540830, part: 'person' },
]);

let defaultInstance: TagVocabulary | undefined;

/**
 * The published Tag2Pix vocabulary (370 CIT, 115 CVT, Danbooru ids and body parts, in the order
 * the published weights use), plus `1girl` and `1boy` as extra (unencoded) tags for the filter.
 */
export function defaultVocabulary(): TagVocabulary {
  defaultInstance ??= new TagVocabulary({
    ...(defaultVocabularyJson as TagVocabularyJson),
    extra: [...PERSON_TAGS],
  });
  return defaultInstance;
}

/**
 * The colour tags of one colourisation, resolved and checked: text that names at least one tag
 * (an empty array asks for none on purpose); only colour-variant
 * tags (the CIT extractor reads the others from the line art); at most one hair colour and one
 * eye colour (the published model was trained on images with exactly one of each). Raises an
 * {@link OptionError} (or {@link UnknownTagError}) naming the `tags` option otherwise.
 */
export function resolveColorTags(
  tags: string | ReadonlyArray<string | number | Tag>,
  vocabulary: TagVocabulary = defaultVocabulary(),
): Tag[] {
  const resolved = vocabulary.resolve(tags, 'tags');
  // An empty array asks for no tags on purpose; text that names none is a mistake (`--tags ""`).
  if (resolved.length === 0 && (typeof tags === 'string' || tags.length > 0)) {
    const examples = vocabulary.cvt.slice(0, 3).map((t) => t.name).join(',');
    throw new OptionError(
      (name) => `${name('tags')} names no tag${typeof tags === 'string' && tags.trim() !== '' ? ` (${quoteValue(tags, 40)} holds only separators)` : ''}; give at least one colour tag, e.g. ${examples}.`,
      { option: 'tags' },
    );
  }
  const notColor = resolved.filter((t) => t.kind !== 'cvt');
  if (notColor.length > 0) {
    // Colour tags of the same part (long_hair → blonde_hair, …), else the first ones.
    const samePart = vocabulary.cvt.filter((t) => t.part !== undefined && t.part === notColor[0]!.part);
    const examples = (samePart.length > 0 ? samePart : vocabulary.cvt).slice(0, 3).map((t) => t.name).join(', ');
    throw new OptionError(
      (name) =>
        `${name('tags')}: ${notColor.map((t) => `'${t.name}'`).join(', ')} ${notColor.length === 1 ? 'is not a colour tag' : 'are not colour tags'} ` +
        `(the generator takes colour-variant tags only; the CIT extractor reads colour-invariant ones from the line art). ` +
        `Give colour tags such as ${examples}; 'tag2pix tags --kind cvt' lists them.`,
      { option: 'tags' },
    );
  }
  for (const [label, group] of [['hair colours', HAIR_COLOR_TAGS], ['eye colours', EYE_COLOR_TAGS]] as const) {
    const clash = resolved.filter((t) => group.includes(t.name));
    if (clash.length > 1) {
      throw new OptionError(
        (name) =>
          `${name('tags')} asks for ${clash.length} ${label} at once (${clash.map((t) => `'${t.name}'`).join(', ')}); ` +
          `give at most one: the model was trained on images with exactly one.`,
        { option: 'tags' },
      );
    }
  }
  return resolved;
}
