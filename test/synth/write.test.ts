import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { generateCharacter } from '../../src/data/synth/index.js';
import { openDataset, readImage, writeSynthDataset } from '../../src/node/index.js';

describe('writeSynthDataset', () => {
  it('writes a manifest dataset that openDataset reads back with the same pixels and tags', async () => {
    const out = await fs.mkdtemp(path.join(os.tmpdir(), 'tag2pix-synth-'));
    try {
      let progress = 0;
      const result = await writeSynthDataset({ out, count: 5, size: 32, seed: 3, regions: true, onProgress: (d) => (progress = d) });
      expect(progress).toBe(5);
      expect(result.count).toBe(5);
      const dataset = await openDataset(out);
      expect(dataset.report.layout).toBe('manifest');
      expect(dataset.samples).toHaveLength(5);
      const info = JSON.parse(await fs.readFile(path.join(out, 'synth.json'), 'utf8'));
      expect(info).toMatchObject({ generator: 'tag2pix-synth', count: 5, size: 32, seed: 3 });
      for (let i = 0; i < 5; i++) {
        const expected = generateCharacter(i, { seed: 3, size: 32 });
        const record = dataset.samples[i]!;
        expect(record.tags.map((t) => t.name).sort()).toEqual([...expected.tags.cit, ...expected.tags.cvt].sort());
        const color = await readImage(record.color);
        expect(Buffer.from(color.data).equals(Buffer.from(expected.color.data))).toBe(true);
        const line = await readImage(record.lineArts[0]!, { channels: 1 });
        expect(line.data.length).toBe(32 * 32);
        for (let p = 0; p < line.data.length; p++) {
          expect(Math.abs(line.data[p]! / 255 - expected.lineArt.data[p]!)).toBeLessThanOrEqual(0.5 / 255 + 1e-6);
        }
      }
      const regions = await readImage(path.join(out, 'regions', '000000.png'), { channels: 1 });
      expect(info.regions[regions.data[0]!]).toBe('background');
    } finally {
      await fs.rm(out, { recursive: true, force: true });
    }
  });

  it('refuses sizes the model cannot take', async () => {
    await expect(writeSynthDataset({ out: os.tmpdir(), count: 1, size: 40 })).rejects.toThrow(/multiple of 16/);
  });
});
