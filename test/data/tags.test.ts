import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { REFERENCE_TAG_FILTER, filterByTags, validateTagFilterRule } from '../../src/data/index.js';
import { editDistance } from '../../src/data/tags.js';
import {
  MAX_TAG_INPUT_LENGTH,
  MAX_TAGS_PER_INPUT,
  TagVocabulary,
  UnknownTagError,
  defaultVocabulary,
  resolveColorTags,
} from '../../src/index.js';
import { LimitError, OptionError, Tag2PixError } from '../../src/errors.js';
import { encodeColorTags } from '../../src/models/colorize.js';

// The bundled vocabulary file must be, byte for byte, the published Tag2Pix vocabulary
// (tag2pix-vocab.json of the project's reference data, from the official tag_dump.pkl): this is
// that file's SHA-256. The entries below are then compared with what TagVocabulary makes of it.
const PUBLISHED_VOCABULARY_SHA256 = '0e46d5d836e6a99de19d736fc0e58f5191b5b7ebf8b662345ac47ea62104b2e5';
const bundled = fs.readFileSync(new URL('../../src/data/tag2pix-vocab.json', import.meta.url));
const published = JSON.parse(bundled.toString('utf8')) as {
  cit: Array<{ name: string; id: number; part: string }>;
  cvt: Array<{ name: string; id: number; part: string }>;
};

describe('defaultVocabulary', () => {
  const vocab = defaultVocabulary();

  it('ships the published vocabulary in its order, with ids and parts', () => {
    expect(vocab.numCit).toBe(370);
    expect(vocab.numCvt).toBe(115);
    // The bundled copy must equal the published file entry for entry: weights index tags by position.
    expect(createHash('sha256').update(bundled).digest('hex')).toBe(PUBLISHED_VOCABULARY_SHA256);
    published.cit.forEach((e, i) => {
      const t = vocab.byIndex('cit', i);
      expect([t.name, t.id, t.part, t.kind, t.index]).toEqual([e.name, e.id, e.part, 'cit', i]);
    });
    published.cvt.forEach((e, i) => {
      const t = vocab.byIndex('cvt', i);
      expect([t.name, t.id, t.part, t.kind, t.index]).toEqual([e.name, e.id, e.part, 'cvt', i]);
    });
  });

  it('maps name ↔ index ↔ id', () => {
    const blue = published.cvt.findIndex((e) => e.name === 'blue_hair');
    expect(vocab.get('blue_hair').index).toBe(blue);
    expect(vocab.get(published.cvt[blue]!.id).name).toBe('blue_hair');
    expect(vocab.byId(published.cit[7]!.id)?.name).toBe(published.cit[7]!.name);
    expect(vocab.byName('Long Hair')?.kind).toBe('cit');
    expect(vocab.get('1girl').kind).toBe('extra');
    expect(() => vocab.byIndex('cvt', 115)).toThrow(/0\.\.114/);
    expect(() => vocab.get(123456789)).toThrow(UnknownTagError);
  });

  it('encodes and decodes multi-hot vectors', () => {
    const m = vocab.encode(['blue_hair', 'long_hair', 'red eyes', '1girl']);
    expect(m.cit.length).toBe(370);
    expect(m.cvt.length).toBe(115);
    expect(m.cit.reduce((a, b) => a + b)).toBe(1);
    expect(m.cvt.reduce((a, b) => a + b)).toBe(2);
    expect(m.cit[vocab.get('long_hair').index]).toBe(1);
    const decoded = vocab.decode(m.cit, m.cvt);
    expect(decoded.cit).toEqual(['long_hair']);
    expect(new Set(decoded.cvt)).toEqual(new Set(['blue_hair', 'red_eyes']));
    // Ids outside the vocabulary are ignored (tags.txt lines carry every Danbooru tag).
    const fromIds = vocab.encodeIds([vocab.get('blue_hair').id!, 999999999, 470575]);
    expect(Array.from(fromIds.cvt)).toEqual(Array.from(vocab.encode('blue_hair').cvt));
    expect(fromIds.cit.every((v) => v === 0)).toBe(true);
    // Classifier scores decode by threshold.
    const scores = new Float32Array(115).fill(0.1);
    scores[vocab.get('green_eyes').index] = 0.7;
    expect(vocab.decode(null, tf.tensor1d(scores)).cvt).toEqual(['green_eyes']);
    expect(vocab.decode(null, scores, 0.05).cvt.length).toBe(115);
    expect(() => vocab.decode(new Float32Array(10), null)).toThrow(/length 10.*370/);
  });

  it('encodes batches as [N, 370] / [N, 115] tensors', () => {
    const before = tf.memory().numTensors;
    const { cit, cvt } = vocab.encodeBatch(['long_hair blue_hair', ['skirt']]);
    expect(cit.shape).toEqual([2, 370]);
    expect(cvt.shape).toEqual([2, 115]);
    expect(cit.dtype).toBe('float32');
    const total = tf.sum(cit);
    expect(total.dataSync()[0]).toBe(2);
    tf.dispose([cit, cvt, total]);
    expect(tf.memory().numTensors).toBe(before);
  });
});

describe('parseTags', () => {
  const vocab = defaultVocabulary();
  const names = (s: string | string[]) => vocab.parseTags(s).map((t) => t.name);

  it('accepts spaces, commas, underscores and spaced names', () => {
    expect(names('blue_hair red_eyes')).toEqual(['blue_hair', 'red_eyes']);
    expect(names('blue_hair,red_eyes')).toEqual(['blue_hair', 'red_eyes']);
    expect(names('blue hair, red eyes')).toEqual(['blue_hair', 'red_eyes']);
    expect(names('blue hair red eyes long hair')).toEqual(['blue_hair', 'red_eyes', 'long_hair']);
    expect(names('  Blue_Hair ;\nlight brown hair  ')).toEqual(['blue_hair', 'light_brown_hair']);
    expect(names(['very long hair', 'skirt blush'])).toEqual(['very_long_hair', 'skirt', 'blush']);
    expect(names('red-framed eyewear')).toEqual(['red-framed_eyewear']);
    expect(names('blue_hair blue hair')).toEqual(['blue_hair']);
    expect(names('')).toEqual([]);
  });

  it('prefers the longest known tag', () => {
    // `long_hair` is a tag, but so is `very_long_hair`; `brown_hair` is one and `light_brown_hair` too.
    expect(names('very long hair')).toEqual(['very_long_hair']);
    expect(names('light brown hair')).toEqual(['light_brown_hair']);
  });

  it('names unknown tags with their nearest known tags', () => {
    let err: UnknownTagError | undefined;
    try {
      vocab.parseTags('blue hiar, red_eyes, lnog_hair');
    } catch (e) {
      err = e as UnknownTagError;
    }
    expect(err).toBeInstanceOf(UnknownTagError);
    expect(err!.unknown.map((u) => u.tag)).toEqual(['blue_hiar', 'lnog_hair']);
    expect(err!.unknown[0]!.suggestions[0]).toBe('blue_hair');
    expect(err!.unknown[1]!.suggestions[0]).toBe('long_hair');
    expect(err!.message).toMatch(/'blue_hiar' \(did you mean 'blue_hair'/);
    expect(() => vocab.parseTags('blue_hair zzzzzz')).toThrow(/'zzzzzz'/);
  });

  it("keeps suggestions to the tag's family (its last word, even misspelt) and points CLI users to tag2pix tags", () => {
    const family = (name: string) => name.slice(name.lastIndexOf('_') + 1);
    for (const [typo, kin] of [['blue_hiar', 'hair'], ['red_eys', 'eyes'], ['whte_shirt', 'shirt'], ['lnog_hair', 'hair'], ['pinc_skirt', 'skirt']]) {
      const suggestions = vocab.nearest(typo!);
      expect(suggestions, typo).toHaveLength(3);
      expect(suggestions.map(family), typo).toEqual([kin, kin, kin]);
    }
    expect(vocab.nearest('red_eys')[0]).toBe('red_eyes');
    // Before, 'blue_hiar' also suggested blue_shirt and blue_skirt, and 'red_eys' red_dress.
    expect(vocab.nearest('blue_hiar')).not.toContain('blue_shirt');
    // A name with no family word is matched against every tag.
    expect(vocab.nearest('blsh')).toContain('blush');
    expect(() => vocab.parseTags('bleu hair')).toThrow(/'tag2pix tags' lists the known ones \(in code: vocabulary.names\(\)\)/);
  });

  it('edit distance is Levenshtein', () => {
    expect(editDistance('kitten', 'sitting')).toBe(3);
    expect(editDistance('', 'abc')).toBe(3);
    expect(editDistance('flaw', 'lawn')).toBe(2);
    expect(editDistance('same', 'same')).toBe(0);
  });
});

describe('custom vocabularies', () => {
  const json = JSON.stringify({
    cit: [{ name: 'hat' }, { name: 'scarf', id: 5 }],
    cvt: [{ name: 'red hat', id: 7, part: 'head' }],
    extra: [{ name: '1cat' }],
  });

  it('loads from JSON text and round-trips', () => {
    const v = TagVocabulary.fromJSON(json);
    expect([v.numCit, v.numCvt]).toEqual([2, 1]);
    expect(v.get('red_hat').id).toBe(7);
    expect(Array.from(v.encode('hat, red hat').cit)).toEqual([1, 0]);
    expect(Array.from(v.encodeIds([5, 7]).cit)).toEqual([0, 1]);
    const again = TagVocabulary.fromJSON(JSON.parse(JSON.stringify(v.toJSON())));
    expect(again.names()).toEqual(['hat', 'scarf', 'red_hat', '1cat']);
    expect(again.get('red_hat').part).toBe('head');
  });

  it('rejects malformed vocabularies with a reason', () => {
    expect(() => TagVocabulary.fromJSON('{')).toThrow(/not valid JSON/);
    expect(() => TagVocabulary.fromJSON('{"cit": []}')).toThrow(/"cit" and "cvt" arrays/);
    expect(() => TagVocabulary.fromJSON('{"cit": [{"name": "a"}], "cvt": [{"name": "A"}]}')).toThrow(
      /'a' appears twice/,
    );
    expect(() => TagVocabulary.fromJSON('{"cit": [{"id": 3}], "cvt": []}')).toThrow(/cit\[0\] has no name/);
    expect(() =>
      TagVocabulary.fromJSON('{"cit": [{"name": "a", "id": 1}], "cvt": [{"name": "b", "id": 1}]}'),
    ).toThrow(/id 1 is used by both/);
  });

  it('the reference filter needs its tags in the vocabulary', () => {
    expect(() => validateTagFilterRule(REFERENCE_TAG_FILTER, TagVocabulary.fromJSON(json))).toThrow(
      /'person' group.*1girl, 1boy/,
    );
    expect(() => validateTagFilterRule(REFERENCE_TAG_FILTER, defaultVocabulary())).not.toThrow();
  });
});

describe('reference tag filter', () => {
  const vocab = defaultVocabulary();
  const samples: Record<string, string> = {
    good: '1girl blue_hair red_eyes long_hair',
    twoPeople: '1girl 1boy blue_hair red_eyes long_hair',
    noPerson: 'blue_hair red_eyes long_hair',
    twoHair: '1boy blue_hair red_hair red_eyes long_hair',
    noEyes: '1girl blue_hair long_hair',
    twoEyes: '1girl blue_hair red_eyes blue_eyes long_hair',
    noCit: '1girl blue_hair red_eyes',
    alsoGood: '1boy black_hair brown_eyes short_hair white_shirt',
  };

  it('keeps exactly the samples that pass and counts each drop by reason', () => {
    const { kept, report } = filterByTags(Object.keys(samples), (k) => vocab.parseTags(samples[k]!));
    expect(kept).toEqual(['good', 'alsoGood']);
    expect(report).toEqual({
      total: 8,
      kept: 2,
      dropped: 6,
      droppedBy: {
        'not exactly one person': 2,
        'not exactly one hair colour': 1,
        'not exactly one eye colour': 2,
        'no CIT': 1,
      },
    });
  });

  it('requires a CVT besides hair and eye colour only through them', () => {
    // Hair and eye colours are CVTs, so "no CVT" can only trigger with a custom rule.
    const rule = { exactlyOne: [], requireCit: false, requireCvt: true };
    const { report } = filterByTags(['long_hair', 'blush'], (s) => vocab.parseTags(s), rule);
    expect(report.droppedBy).toEqual({ 'no CVT': 1 });
  });
});

describe('hostile and careless tag input (issue 17, items 6, 20, 21, 23)', () => {
  const vocab = defaultVocabulary();
  const errorOf = (f: () => unknown): Tag2PixError => {
    try {
      f();
    } catch (e) {
      expect(e).toBeInstanceOf(Tag2PixError);
      return e as Tag2PixError;
    }
    throw new Error('expected an error');
  };

  it('colour tags: text that names no tag is an error; an empty array asks for none', () => {
    for (const text of ['', ',,,', ' ; , \n ']) {
      const e = errorOf(() => resolveColorTags(text));
      expect(e).toBeInstanceOf(OptionError);
      expect(e.message).toMatch(/^tags names no tag.*give at least one colour tag, e\.g\. /);
      expect(e.option).toBe('tags');
    }
    expect(resolveColorTags([])).toEqual([]);
    expect(errorOf(() => resolveColorTags(['', ' '])).message).toMatch(/names no tag/);
    expect(resolveColorTags('blue_hair, red eyes').map((t) => t.name)).toEqual(['blue_hair', 'red_eyes']);
  });

  it('colour tags: at most one hair colour and one eye colour; no colour-invariant tag', () => {
    expect(errorOf(() => resolveColorTags('blue_hair, red_hair')).message).toMatch(
      /tags asks for 2 hair colours at once \('blue_hair', 'red_hair'\); give at most one/,
    );
    expect(errorOf(() => resolveColorTags(['blue_eyes', 'green_eyes', 'red_hair'])).message).toMatch(/2 eye colours at once/);
    expect(errorOf(() => resolveColorTags('long_hair')).message).toMatch(/'long_hair' is not a colour tag/);
    expect(resolveColorTags('blue_hair, red_eyes, white_shirt, blue_skirt')).toHaveLength(4);
  });

  it('Tag objects must be the vocabulary\'s own: index 1e9 or -1 is refused', () => {
    const blue = vocab.get('blue_hair');
    expect(vocab.resolve([blue])).toEqual([blue]);
    expect(vocab.resolve([{ ...blue }])).toEqual([blue]); // an equal copy is that tag
    for (const index of [1e9, -1, 3.5]) {
      const forged = { ...blue, index };
      const e = errorOf(() => resolveColorTags([forged]));
      expect(e).toBeInstanceOf(OptionError);
      expect(e.message).toMatch(/^tags\[0\] is a Tag object \('blue_hair', cvt index '.*'\) that is not in this vocabulary, where it is cvt index \d+/);
      expect(() => vocab.encode([forged])).toThrow(OptionError);
    }
    const unknown = { name: 'plaid_hair', id: undefined, part: 'hair', kind: 'cvt' as const, index: 3 };
    expect(errorOf(() => vocab.encode([unknown])).message).toMatch(/'plaid_hair'.*not in this vocabulary;/);
    expect(errorOf(() => vocab.resolve([null as never])).message).toMatch(/tags\[0\] is null/);
    expect(errorOf(() => vocab.resolve([Number.NaN])).message).toMatch(/tags\[0\] is NaN, not a Danbooru tag id/);
  });

  it('null, undefined or a number as the tags is one clear error, not a TypeError', () => {
    for (const [input, shown] of [[null, 'null'], [undefined, 'undefined'], [42, 'number'], [{}, 'object']] as const) {
      const e = errorOf(() => resolveColorTags(input as never));
      expect(e).toBeInstanceOf(OptionError);
      expect(e.message).toBe(`tags must be a string of tag names or an array of names, ids or Tag objects; got ${shown}.`);
      expect(() => vocab.parseTags(input as never)).toThrow(OptionError);
      expect(() => encodeColorTags(input as never)).toThrow(/^tags must be a string/);
    }
  });

  it('a control or invisible character is named as such, not corrected to a tag', () => {
    for (const [text, code] of [['blue_hair\x01', '0001'], ['red\u200beyes', '200B'], ['blue_hair\u202e', '202E'], ['\x7fblush', '007F']] as const) {
      const e = errorOf(() => vocab.parseTags(text));
      expect(e).toBeInstanceOf(OptionError);
      expect(e).not.toBeInstanceOf(UnknownTagError);
      expect(e.message).toContain(`contains a control or invisible character (U+${code})`);
      expect(e.message).toContain('\\u');
      expect(e.message).not.toMatch(/[\u0000-\u0008\u007f\u200b\u202e]/);
    }
    expect(errorOf(() => vocab.parseTags(['blue_hair', 'x\x00'])).message).toMatch(/^tags\[1\] 'x\\u0000' contains/);
    // Tabs and newlines separate tags as before.
    expect(vocab.parseTags('blue_hair\tred_eyes\nblush').map((t) => t.name)).toEqual(['blue_hair', 'red_eyes', 'blush']);
  });

  it('10,000 unknown tags give one short error, at once', () => {
    const many = Array.from({ length: 10_000 }, (_, i) => `nosuchtag${i}`).join(',');
    const e = errorOf(() => vocab.parseTags(many));
    expect(e).toBeInstanceOf(LimitError);
    expect(e.message).toBe(`tags is ${many.length} characters long; at most ${MAX_TAG_INPUT_LENGTH} are accepted (tags are short names).`);
    const asArray = errorOf(() => vocab.parseTags(many.split(',')));
    expect(asArray.message).toBe(`tags holds 10000 tags; at most ${MAX_TAGS_PER_INPUT} are accepted.`);
    // Under the caps: suggestions for the first few only, the rest counted.
    const some = Array.from({ length: 200 }, (_, i) => `zz${i}`);
    const unknown = errorOf(() => vocab.parseTags(some));
    expect(unknown).toBeInstanceOf(UnknownTagError);
    expect((unknown as UnknownTagError).unknown).toHaveLength(200);
    expect((unknown as UnknownTagError).unknown.filter((u) => u.suggestions.length > 0)).toHaveLength(5);
    expect(unknown.message).toMatch(/Unknown tags in tags: 'zz0' \(did you mean .*\); … and 195 more\./);
    expect(unknown.message.length).toBeLessThan(1000);
    // One absurdly long word: no edit distance over it, no suggestion.
    const long = errorOf(() => vocab.parseTags('x'.repeat(5000)));
    expect(long.message.length).toBeLessThan(600);
    expect((long as UnknownTagError).unknown[0]!.suggestions).toEqual([]);
  });
});
