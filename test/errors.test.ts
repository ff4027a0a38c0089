import { describe, expect, it } from 'vitest';
import {
  FileFormatError,
  LimitError,
  MAX_ERROR_MESSAGE_LENGTH,
  OptionError,
  OutputError,
  Tag2PixError,
  WeightsError,
  apiOptionNames,
  capMessage,
  hasInvisible,
  quoteValue,
  shownName,
} from '../src/errors.js';
import { PickleError } from '../src/io/pickle.js';
import { UnknownTagError } from '../src/data/tags.js';
import { SampleSizeError } from '../src/data/loader.js';
import { ImageReadError } from '../src/node/image.js';

describe('Tag2PixError', () => {
  it('is the one class every input error of the library shares', () => {
    for (const e of [
      new FileFormatError('a'),
      new LimitError('a'),
      new OptionError('a'),
      new OutputError('a'),
      new WeightsError('a'),
      new PickleError('a'),
      new UnknownTagError([{ tag: 'x', suggestions: [] }]),
      new SampleSizeError('f.png', 'a'),
      new ImageReadError('f.png', 'corrupt', 'a'),
    ]) {
      expect(e).toBeInstanceOf(Tag2PixError);
      expect(e).toBeInstanceOf(Error);
      expect(e.name).toBe(e.constructor.name);
    }
  });

  it('names options in API terms by default and in the caller\'s terms on request', () => {
    const e = new OptionError((name) => `${name('maxPixels')} is too small; pass ${name('overwrite=true')}`, { option: 'maxPixels', file: 'x.png' });
    expect(e.message).toBe('maxPixels is too small; pass overwrite: true');
    expect(e.messageFor((o) => (o === 'maxPixels' ? '--max-pixels' : '--overwrite'))).toBe('--max-pixels is too small; pass --overwrite');
    expect([e.option, e.file]).toEqual(['maxPixels', 'x.png']);
    // A message changed afterwards (a context added) is kept as it is.
    e.message = `epoch 3: ${e.message}`;
    expect(e.messageFor(() => '--flag')).toBe('epoch 3: maxPixels is too small; pass overwrite: true');
    expect(apiOptionNames('cit=false')).toBe('cit: false');
  });

  it('caps the message and escapes what a user typed', () => {
    const long = new FileFormatError('y'.repeat(10_000));
    expect(long.message.length).toBe(MAX_ERROR_MESSAGE_LENGTH);
    expect(long.message).toMatch(/… \(\d+ more characters\)$/);
    expect(capMessage('short')).toBe('short');
    expect(quoteValue('blue_hair\u0001\n\u202e')).toBe("'blue_hair\\u0001\\n\\u202e'");
    expect(quoteValue('z'.repeat(200))).toBe(`'${'z'.repeat(80)}'… (200 characters)`);
    expect(quoteValue(Number.NaN)).toBe("'NaN'");
    expect(hasInvisible('a\u200bb')).toBe(true);
    expect(hasInvisible('a b\tc\n')).toBe(false);
    expect(shownName('conv1.weight')).toBe('conv1.weight');
    expect(shownName('with space')).toBe("'with space'");
  });

  it('carries a hint after the message for API callers, apart for the CLI', () => {
    const e = new OptionError('no weights given.', { hint: 'Get them here.' });
    expect(e.message).toBe('no weights given.\nGet them here.');
    expect(e.messageFor(apiOptionNames)).toBe('no weights given.');
    expect(e.hint).toBe('Get them here.');
  });
});

describe('the snippet of docs/security.md', () => {
  it('tells bad input (a Tag2PixError naming file and option) from a bug', async () => {
    const { loadColorizer } = await import('../src/node/weights.js');
    const lines: string[] = [];
    try {
      await loadColorizer('downloads/weights.pkl');
    } catch (e) {
      if (!(e instanceof Tag2PixError)) throw e; // a bug, not bad input
      lines.push(`${e.name} (${e.file ?? 'no file'}, option ${e.option ?? '-'}): ${e.message}`);
    }
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^OptionError \(downloads\/weights\.pkl, option sources\): Weights 'downloads\/weights\.pkl' \(sources\) do not exist\.\nTag2Pix needs two sets of weights/);
  });
});
