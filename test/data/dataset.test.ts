import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  DataLoader,
  epochOrder,
  parseCsv,
  parseManifest,
  parseTagLines,
  type DataLoaderBatch,
  type DataWarning,
  type Dataset,
} from '../../src/data/index.js';
import { FileFormatError } from '../../src/errors.js';
import { UnknownTagError, defaultVocabulary } from '../../src/index.js';
import { createDataLoader, describeSkipped, openDataset } from '../../src/node/index.js';

const vocab = defaultVocabulary();
const id = (name: string) => vocab.get(name).id!;
const root = fs.mkdtempSync(path.join(os.tmpdir(), 'tag2pix-dataset-'));
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

// A colour image whose colour encodes its number, and a line art of it.
async function writePair(dir: string, lineDirs: string[], name: string, n: number, size = 24, lineSize = size) {
  const px = new Uint8Array(size * size * 3);
  for (let i = 0; i < size * size; i++) px.set([(n * 40) % 256, (i * 3) % 256, 255 - ((n * 40) % 256)], i * 3);
  fs.mkdirSync(dir, { recursive: true });
  await sharp(px, { raw: { width: size, height: size, channels: 3 } }).png().toFile(path.join(dir, `${name}.png`));
  for (const d of lineDirs) {
    fs.mkdirSync(d, { recursive: true });
    const line = new Uint8Array(lineSize * lineSize).map((_, i) => (i % lineSize === n % lineSize ? 0 : 255));
    await sharp(line, { raw: { width: lineSize, height: lineSize, channels: 1 } }).png().toFile(path.join(d, `${name}.png`));
  }
}

const good = (extra: string[] = []) => ['1girl', 'blue_hair', 'red_eyes', 'long_hair', ...extra].map(id);

describe('parsers', () => {
  it('reads tags.txt lines and names a malformed line', () => {
    expect(parseTagLines('12 5 7\n\n13  8\n')).toEqual([
      { id: '12', tagIds: [5, 7] },
      { id: '13', tagIds: [8] },
    ]);
    expect(() => parseTagLines('1 2\n3 blue_hair\n', 'x/tags.txt')).toThrow(/x\/tags\.txt:2: 'blue_hair' is not a Danbooru tag id/);
  });

  it('reads CSV with quotes, and manifests in both formats', () => {
    expect(parseCsv('a,b\n"x, y","say ""hi"""\r\n')).toEqual([['a', 'b'], ['x, y', 'say "hi"']]);
    const csv = 'colour,lineart,tags,id\nc/1.png,l/1.png|m/1.png,"blue hair, long hair",one\n';
    expect(parseManifest(csv, 'csv')).toEqual([
      { line: 2, color: 'c/1.png', lineArts: ['l/1.png', 'm/1.png'], tags: 'blue hair, long hair', id: 'one' },
    ]);
    const jsonl = '{"color": "c/1.png", "lineart": ["l/1.png"], "tags": ["blue_hair", "long hair"]}\n';
    expect(parseManifest(jsonl, 'jsonl')[0]).toMatchObject({ color: 'c/1.png', lineArts: ['l/1.png'] });
    expect(() => parseManifest('image,tags\na,b\n', 'csv', 'm.csv')).toThrow(/m\.csv: the CSV header 'image,tags' lacks a column/);
    expect(() => parseManifest('{"colour": "a"}\n{oops\n', 'jsonl', 'm.jsonl')).toThrow(/m\.jsonl:1: no line-art path|m\.jsonl:2: not valid JSON/);
  });
});

describe('reference layout', () => {
  const dir = path.join(root, 'reference');
  beforeAll(async () => {
    const rgb = path.join(dir, 'rgb_train');
    const keras = path.join(dir, 'keras_train');
    const xdogDir = path.join(dir, 'xdog_train');
    for (let n = 0; n < 7; n++) await writePair(rgb, n === 5 ? [] : n % 2 ? [keras, xdogDir] : [xdogDir], String(100 + n), n);
    const lines = [
      [100, ...good()],
      [101, ...good(['skirt', 'white_shirt'])],
      [102, ...good(), 999999], // unknown Danbooru ids are ignored
      [103, ...good([]), id('1boy')], // two person tags: filtered out
      [104, id('1girl'), id('blue_hair'), id('long_hair')], // no eye colour: filtered out
      [105, ...good()], // no line art anywhere
      [106, ...good()],
      [107, ...good()], // no colour image
    ];
    fs.writeFileSync(path.join(dir, 'tags.txt'), lines.map((l) => l.join(' ')).join('\n') + '\n');
    // Test split: colour in benchmark/, line art in keras_test/.
    await writePair(path.join(dir, 'benchmark'), [path.join(dir, 'keras_test')], '104', 4);
  });

  it('indexes samples, styles and drops, with the reference filter', async () => {
    const ds = await openDataset(dir, { skipMissing: true });
    expect(ds.samples.map((s) => s.id).sort()).toEqual(['100', '101', '102', '106']);
    expect(ds.report).toMatchObject({
      layout: 'reference',
      entries: 8,
      kept: 4,
      missingColor: 1,
      missingLineArt: 1,
      styles: { keras_train: 2, xdog_train: 6 },
      filter: { total: 6, kept: 4, dropped: 2, droppedBy: { 'not exactly one person': 1, 'not exactly one eye colour': 1 } },
    });
    const s101 = ds.samples.find((s) => s.id === '101')!;
    expect(s101.lineArts.map((p) => path.basename(path.dirname(p)))).toEqual(['keras_train', 'xdog_train']);
    expect(s101.tags.map((t) => t.name).sort()).toEqual(['1girl', 'blue_hair', 'long_hair', 'red_eyes', 'skirt', 'white_shirt']);
    const unfiltered = await openDataset(dir, { filter: false, skipMissing: true });
    expect(unfiltered.samples.length).toBe(6);
    expect(unfiltered.report.filter).toBeUndefined();
  });

  it('reads the test split unfiltered from benchmark/ and keras_test/', async () => {
    const ds = await openDataset(dir, { split: 'test' });
    expect(ds.samples.map((s) => s.id)).toEqual(['104']);
    expect(ds.samples[0]!.color).toBe(path.join(dir, 'benchmark', '104.png'));
    expect(ds.samples[0]!.lineArts).toEqual([path.join(dir, 'keras_test', '104.png')]);
    expect(ds.report).toMatchObject({ entries: 8, kept: 1, missingColor: 7, styles: { keras_test: 1 } });
    expect(ds.report.filter).toBeUndefined();
  });

  it('an empty dataset is an error that says why', async () => {
    const empty = path.join(root, 'empty');
    fs.mkdirSync(path.join(empty, 'rgb_train'), { recursive: true });
    fs.mkdirSync(path.join(empty, 'xdog_train'), { recursive: true });
    fs.writeFileSync(path.join(empty, 'tags.txt'), '1 2 3\n');
    await expect(openDataset(empty)).rejects.toThrow(/no usable sample: 1 entry read; 1 without their colour image/);
    await expect(openDataset(path.join(root, 'nowhere'))).rejects.toThrow(/does not exist/);
    fs.mkdirSync(path.join(root, 'plain'), { recursive: true });
    await expect(openDataset(path.join(root, 'plain'))).rejects.toThrow(/tags\.txt' is missing.*manifest\.csv/);
  });

  it('batches have the trainer format and the right tags per sample', async () => {
    const ds = await openDataset(dir, { skipMissing: true });
    const loader = createDataLoader(ds, { imageSize: 16, batchSize: 3, seed: 4 });
    const before = tf.memory().numTensors;
    const batches: DataLoaderBatch[] = [];
    for await (const b of loader.epoch(0)) batches.push(b);
    expect(batches.map((b) => b.ids.length)).toEqual([3, 1]);
    const b = batches[0]!;
    expect(b.lineArt.shape).toEqual([3, 16, 16, 1]);
    expect(b.color.shape).toEqual([3, 16, 16, 3]);
    expect(b.cit.shape).toEqual([3, 370]);
    expect(b.cvt.shape).toEqual([3, 115]);
    for (const t of [b.lineArt, b.color, b.cit, b.cvt]) expect(t.dtype).toBe('float32');
    const line = b.lineArt.dataSync();
    const color = b.color.dataSync();
    expect(Math.min(...line)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...line)).toBeLessThanOrEqual(1);
    expect(Math.min(...color)).toBeGreaterThanOrEqual(-1);
    expect(Math.max(...color)).toBeLessThanOrEqual(1);
    // Each row of cit/cvt belongs to the sample of that row.
    const cvtRows = b.cvt.arraySync();
    const citRows = b.cit.arraySync();
    b.ids.forEach((sid, i) => {
      const sample = ds.samples.find((s) => s.id === sid)!;
      const expected = vocab.encode(sample.tags);
      expect(cvtRows[i]).toEqual(Array.from(expected.cvt));
      expect(citRows[i]).toEqual(Array.from(expected.cit));
      // The colour image's red channel encodes its number; flips and crops keep flat channels flat.
      const n = Number(sid) - 100;
      const red = color[i * 16 * 16 * 3]!;
      expect(red).toBeCloseTo(((n * 40) % 256) / 127.5 - 1, 1);
    });
    expect(batches.flatMap((x) => x.ids).sort()).toEqual(ds.samples.map((s) => s.id).sort());
    batches.forEach((x) => x.dispose());
    expect(tf.memory().numTensors).toBe(before);
  });
});

describe('manifest layout', () => {
  const dir = path.join(root, 'manifest');
  beforeAll(async () => {
    for (let n = 0; n < 4; n++) await writePair(path.join(dir, 'colour'), [path.join(dir, 'lines')], `img${n}`, n);
    fs.writeFileSync(
      path.join(dir, 'manifest.csv'),
      'colour,lineart,tags\n' +
        'colour/img0.png,lines/img0.png,"blue hair, long hair"\n' +
        'colour/img1.png,lines/img1.png,red_eyes skirt\n' +
        'colour/img2.png,lines/missing.png,blush\n' +
        'colour/img3.png,lines/img3.png,1girl\n',
    );
    fs.writeFileSync(
      path.join(dir, 'train.jsonl'),
      '{"id": "a", "colour": "colour/img0.png", "lineart": ["lines/img0.png"], "tags": ["blue_hair"]}\n' +
        '{"id": "b", "colour": "colour/img1.png", "lineart": "lines/img1.png", "tags": "bleu hair, long_hair"}\n',
    );
  });

  it('reads a CSV manifest (found in the folder) with tag names', async () => {
    const ds = await openDataset(dir, { skipMissing: true });
    expect(ds.report).toMatchObject({ layout: 'manifest', entries: 4, kept: 3, missingLineArt: 1, styles: { lines: 3 } });
    expect(ds.samples.map((s) => s.id)).toEqual(['img0', 'img1', 'img3']);
    expect(ds.samples[0]!.tags.map((t) => t.name)).toEqual(['blue_hair', 'long_hair']);
    // The reference filter is opt-in for manifests.
    const filtered = await openDataset(dir, { filter: true, skipMissing: true }).catch((e: Error) => e);
    expect((filtered as Error).message).toMatch(/no usable sample.*3 dropped by the tag filter/);
  });

  it('names unknown tags with line and suggestions, or skips them on request', async () => {
    const file = path.join(dir, 'train.jsonl');
    const err = await openDataset(file).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UnknownTagError);
    expect((err as Error).message).toMatch(/line 2: 'bleu_hair' \(did you mean 'blue_hair'/);
    const ds = await openDataset(file, { unknownTags: 'ignore' });
    expect(ds.report.unknownTags).toEqual({ bleu_hair: 1 });
    expect(ds.samples.map((s) => [s.id, s.tags.map((t) => t.name)])).toEqual([
      ['a', ['blue_hair']],
      ['b', ['long_hair']],
    ]);
  });
});

describe('missing files never shrink a dataset silently (issue 17, item 7)', () => {
  const dir = path.join(root, 'missing');
  beforeAll(async () => {
    const rows = ['colour,lineart,tags'];
    for (let n = 0; n < 8; n++) {
      await writePair(path.join(dir, 'colour'), n === 3 ? [] : [path.join(dir, 'lines')], `img${n}`, n);
      rows.push(`colour/img${n}.png,lines/img${n}.png,blue_hair`);
    }
    rows.push('colour/gone.png,lines/gone.png,blue_hair');
    fs.writeFileSync(path.join(dir, 'manifest.csv'), rows.join('\n') + '\n');
  });

  it('a manifest naming a missing line art or colour image is an error naming them', async () => {
    const err = await openDataset(dir).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(FileFormatError);
    expect((err as FileFormatError).option).toBe('skipMissing');
    expect((err as Error).message).toMatch(
      /Dataset '.*manifest\.csv': 2 of 9 entries name files that do not exist \(line art 'lines\/img3\.png' \(line 5\); colour image 'colour\/gone\.png' \(line 10\)\)\. Fix the paths, or pass skipMissing: true to train on the other 7\./,
    );
  });

  it('with skipMissing the rest is used, and what was left out is reported', async () => {
    const ds = await openDataset(dir, { skipMissing: true });
    expect(ds.samples).toHaveLength(7);
    expect(ds.report).toMatchObject({ entries: 9, kept: 7, missingColor: 1, missingLineArt: 1 });
    expect(describeSkipped(ds)).toMatch(/^dataset '.*manifest\.csv': 7 of 9 entries kept; 1 without their colour image, 1 without any line-art file \(e\.g\. line art 'lines\/img3\.png' \(line 5\)\)\.$/);
  });

  it('the reference layout names a colour image whose line art is missing in every style', async () => {
    const ref = path.join(root, 'missing-ref');
    await writePair(path.join(ref, 'rgb_train'), [path.join(ref, 'xdog_train')], '1', 1);
    await writePair(path.join(ref, 'rgb_train'), [], '2', 2);
    fs.writeFileSync(path.join(ref, 'tags.txt'), `1 ${good().join(' ')}\n2 ${good().join(' ')}\n3 ${good().join(' ')}\n`);
    // Id 3 has no colour image: left out as the reference does; id 2 has no line art: an error.
    await expect(openDataset(ref)).rejects.toThrow(/1 of 3 entries name files that do not exist \(line art xdog_train\/2\.png\)/);
    const ds = await openDataset(ref, { skipMissing: true });
    expect(ds.samples.map((x) => x.id)).toEqual(['1']);
  });
});

describe('DataLoader', () => {
  const dir = path.join(root, 'loader');
  let ds: Dataset;
  beforeAll(async () => {
    const lines: string[] = [];
    for (let n = 0; n < 10; n++) {
      await writePair(path.join(dir, 'rgb_train'), [path.join(dir, 'keras_train'), path.join(dir, 'xdog_train')], String(n), n);
      lines.push([n, ...good()].join(' '));
    }
    fs.writeFileSync(path.join(dir, 'tags.txt'), lines.join('\n'));
    ds = await openDataset(dir);
  });

  async function collect(loader: DataLoader, epoch: number, from?: Parameters<DataLoader['epoch']>[1]) {
    const out: Array<{ ids: string[]; line: number[]; color: number[]; files: string[]; cursor: string }> = [];
    for await (const b of loader.epoch(epoch, from)) {
      out.push({
        ids: b.ids,
        line: Array.from(b.lineArt.dataSync()),
        color: Array.from(b.color.dataSync()),
        files: b.lineArtFiles,
        cursor: JSON.stringify(b.cursor),
      });
      b.dispose();
    }
    return out;
  }

  it('is deterministic under a seed, and the seed matters', async () => {
    const a = await collect(createDataLoader(ds, { imageSize: 16, batchSize: 4, seed: 7 }), 0);
    const b = await collect(createDataLoader(ds, { imageSize: 16, batchSize: 4, seed: 7, prefetch: 0 }), 0);
    const c = await collect(createDataLoader(ds, { imageSize: 16, batchSize: 4, seed: 8 }), 0);
    expect(a).toEqual(b);
    expect(a.map((x) => x.ids)).not.toEqual(c.map((x) => x.ids));
    // Both line-art styles get picked across samples.
    const styles = new Set(a.flatMap((x) => x.files.map((f) => path.basename(path.dirname(f)))));
    expect(styles).toEqual(new Set(['keras_train', 'xdog_train']));
  });

  it('shuffles every epoch and visits each sample once per epoch', async () => {
    const loader = createDataLoader(ds, { imageSize: 16, batchSize: 4, seed: 7 });
    const e0 = (await collect(loader, 0)).flatMap((x) => x.ids);
    const e1 = (await collect(loader, 1)).flatMap((x) => x.ids);
    expect([...e0].sort()).toEqual(ds.samples.map((s) => s.id).sort());
    expect([...e1].sort()).toEqual([...e0].sort());
    expect(e1).not.toEqual(e0);
    expect(epochOrder(10, 7, 1)).toEqual(e1.map((sid) => ds.samples.findIndex((s) => s.id === sid)));
    const ordered = createDataLoader(ds, { imageSize: 16, batchSize: 4, shuffle: false, augment: false });
    expect((await collect(ordered, 3)).flatMap((x) => x.ids)).toEqual(ds.samples.map((s) => s.id));
  });

  it('resumes mid-epoch from a serialised cursor with identical batches', async () => {
    const full = await collect(createDataLoader(ds, { imageSize: 16, batchSize: 3, seed: 5 }), 2);
    const cursor = JSON.parse(full[1]!.cursor);
    expect(cursor).toMatchObject({ epoch: 2, position: 6, seed: 5, datasetSize: 10 });
    const resumed = await collect(createDataLoader(ds, { imageSize: 16, batchSize: 3, seed: 5 }), 2, { from: cursor });
    expect(resumed).toEqual(full.slice(2));
    const other = createDataLoader(ds, { imageSize: 16, batchSize: 3, seed: 6 });
    expect(() => other.epoch(2, { from: cursor })).toThrow(/made for seed 5/);
    expect(() => other.epoch(3, { from: { ...cursor, seed: 6 } })).toThrow(/cursor is for epoch 2/);
  });

  it('resume() continues from a cursor into the following epochs, keeping the cursor\'s brightness stage', async () => {
    const opts = { imageSize: 8, batchSize: 4, seed: 2, augment: { geometric: false } as const };
    const a = createDataLoader(ds, opts);
    a.brightnessStage = true;
    const e1 = await collect(a, 1);
    const e2 = await collect(a, 2);
    expect(a.cursor()).toMatchObject({ epoch: 2, position: 10, brightnessStage: true });
    const cursor = JSON.parse(e1[0]!.cursor);
    const b = createDataLoader(ds, opts); // stage off here: the cursor's value wins for epoch 1
    const got: string[] = [];
    const it = b.resume(cursor);
    for (let i = 0; i < e1.length - 1 + e2.length; i++) {
      if (i === e1.length - 1) b.brightnessStage = true; // read when epoch 2 starts
      const r = await it.next();
      got.push(r.value!.ids.join() + Array.from(r.value!.lineArt.dataSync()).join());
      r.value!.dispose();
    }
    await it.return(undefined);
    expect(got).toEqual([...e1.slice(1), ...e2].map((x) => x.ids.join() + x.line.join()));
  });

  it('switches the brightness stage at run time, from the next epoch on', async () => {
    // Flat mid-grey line art, no geometry: only the jitter changes it.
    const reader = async () => ({
      color: { data: new Uint8Array(8 * 8 * 3).fill(100), width: 8, height: 8, channels: 3 as const },
      lineArt: { data: new Uint8Array(8 * 8).fill(102), width: 8, height: 8, channels: 1 as const },
    });
    const loader = new DataLoader(ds, reader, { imageSize: 8, batchSize: 10, seed: 1, augment: { geometric: false } });
    const means = async (epoch: number) => {
      const out: number[] = [];
      for await (const b of loader.epoch(epoch)) {
        const v = b.lineArt.dataSync();
        for (let i = 0; i < 10; i++) out.push(v[i * 64]!);
        b.dispose();
      }
      return out;
    };
    const normal = await means(0);
    loader.brightnessStage = true;
    const stage = await means(1);
    expect(Math.min(...normal)).toBeGreaterThanOrEqual(0.4 * 0.8 - 1e-6);
    expect(Math.max(...normal)).toBeLessThanOrEqual(0.4 * 1.2 + 1e-6);
    expect(Math.min(...stage)).toBeGreaterThanOrEqual(0.4 - 1e-6);
    expect(Math.max(...stage)).toBeGreaterThan(0.4 * 1.2 + 0.1);
    expect(loader.cursor().brightnessStage).toBe(true);
  });

  it('skips corrupt, missing and mis-sized files with a warning naming them, and keeps going', async () => {
    const bad = path.join(root, 'bad');
    const lines: string[] = [];
    for (let n = 0; n < 6; n++) {
      await writePair(path.join(bad, 'rgb_train'), [path.join(bad, 'xdog_train')], String(n), n, 24, n === 4 ? 12 : 24);
      lines.push([n, ...good()].join(' '));
    }
    // Sample 4's line art: 12×12 for a 24×24 colour image is fine (same aspect), 24×18 is not.
    await sharp(new Uint8Array(24 * 18).fill(255), { raw: { width: 24, height: 18, channels: 1 } })
      .png()
      .toFile(path.join(bad, 'xdog_train', '4.png'));
    fs.writeFileSync(path.join(bad, 'tags.txt'), lines.join('\n'));
    const badDs = await openDataset(bad);
    const corrupt = path.join(bad, 'rgb_train', '1.png');
    fs.writeFileSync(corrupt, fs.readFileSync(corrupt).subarray(0, 40));
    const gone = path.join(bad, 'xdog_train', '2.png');
    fs.rmSync(gone); // deleted after indexing
    const warnings: DataWarning[] = [];
    const loader = createDataLoader(badDs, { imageSize: 16, batchSize: 2, seed: 3, onWarning: (w) => warnings.push(w) });
    const before = tf.memory().numTensors;
    const ids: string[][] = [];
    for await (const b of loader.epoch(0)) {
      ids.push(b.ids);
      b.dispose();
    }
    expect(tf.memory().numTensors).toBe(before);
    expect(ids.flat().sort()).toEqual(['0', '3', '5']);
    expect(ids.map((x) => x.length)).toEqual([2, 1]);
    expect(loader.skipped).toEqual({ missing: 1, corrupt: 1, 'wrong-size': 1, error: 0, total: 3 });
    const byReason = Object.fromEntries(warnings.map((w) => [w.reason, w]));
    expect(byReason['corrupt']!.file).toBe(corrupt);
    expect(byReason['corrupt']!.message).toContain(corrupt);
    expect(byReason['missing']!.message).toContain(gone);
    expect(byReason['wrong-size']!.message).toMatch(/4\.png' is 24×18 but its colour image .* is 24×24/);
    expect(warnings.map((w) => w.message).join('\n')).toMatch(/\[3 skipped so far\]/);
  });

  it('an epoch where nothing can be read is an error; bad options are errors', async () => {
    const failing = new DataLoader(ds, async () => {
      throw Object.assign(new Error('boom'), { file: 'x.png', reason: 'corrupt' });
    }, { imageSize: 8, batchSize: 2, onWarning: () => undefined });
    await expect(collect(failing, 0)).rejects.toThrow(/none of the 10 samples could be read \(first: .*x\.png|boom/);
    expect(() => createDataLoader(ds, { imageSize: 0, batchSize: 1 })).toThrow(/imageSize must be a positive integer/);
    expect(() => createDataLoader({ ...ds, samples: [] }, { imageSize: 8, batchSize: 1 })).toThrow(/is empty/);
  });

  it('reads ahead: decoding of later batches starts before the consumer asks', async () => {
    let started = 0;
    const reader = async () => {
      started++;
      return {
        color: { data: new Uint8Array(4 * 4 * 3), width: 4, height: 4, channels: 3 as const },
        lineArt: { data: new Uint8Array(4 * 4), width: 4, height: 4, channels: 1 as const },
      };
    };
    const loader = new DataLoader(ds, reader, { imageSize: 4, batchSize: 2, prefetch: 2 });
    const it = loader.epoch(0);
    const first = await it.next();
    // While the consumer holds batch 0, batches 1 and 2 are already being read.
    expect(started).toBe(6);
    (first.value as DataLoaderBatch).dispose();
    await it.return(undefined);
  });
});
