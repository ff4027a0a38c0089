// The demo's Figure-8-style grid: held-out line arts recoloured by several tag combinations.
import * as tf from '@tensorflow/tfjs-core';
import type { Raster8, RasterF } from '../data/raster.js';
import { renderSample, synthBatch, type SynthSample } from '../data/synth/dataset.js';
import type { TagFamily } from '../data/synth/palette.js';
import { encodePng } from '../node/image.js';
import { renderSvgToPng } from '../node/svg.js';
import type { Tag2PixTrainer } from '../training/trainer.js';
import { DEMO_GRID_ROWS } from './config.js';
import { lineArtFeatures } from './sources.js';

function escapeXml(s: string): string {
  return s.replace(/[<>&"]/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;' })[c]!);
}

/**
 * The Figure-8-style grid: for three held-out line arts, each row recolours the same line art
 * with another tag combination (ground truth beside the generated image).
 */
export async function figure8Grid(trainer: Tag2PixTrainer, test: readonly SynthSample[], size: number): Promise<Buffer> {
  // Three line arts with different hair styles (as varied as the test set allows).
  const arts: SynthSample[] = [];
  for (const s of test) if (arts.length < 3 && !arts.some((a) => a.spec.hairStyle === s.spec.hairStyle)) arts.push(s);
  for (const s of test) if (arts.length < 3 && !arts.includes(s)) arts.push(s);
  const scale = size < 128 ? 2 : 1;
  const cell = size * scale;
  const labelW = 250;
  const pad = 6;
  const headerH = cell + 24;
  const rowH = cell + pad;
  const width = labelW + arts.length * (2 * cell + 3 * pad);
  const height = headerH + DEMO_GRID_ROWS.length * rowH + 30;
  const png = async (raster: Raster8 | RasterF | tf.Tensor3D): Promise<string> => {
    const buffer = raster instanceof tf.Tensor ? await encodePng(raster, { range: [-1, 1] }) : await encodePng(raster);
    return `data:image/png;base64,${buffer.toString('base64')}`;
  };
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" width="${width}" height="${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="100%" height="100%" fill="white"/>`,
  ];
  const image = (href: string, x: number, y: number): string =>
    `<image x="${x}" y="${y}" width="${cell}" height="${cell}" preserveAspectRatio="none" style="image-rendering:pixelated" xlink:href="${href}"/>`;
  for (let a = 0; a < arts.length; a++) {
    const x = labelW + a * (2 * cell + 3 * pad);
    parts.push(image(await png(arts[a]!.lineArt), x + cell / 2 + pad, 0));
    parts.push(`<text x="${x + pad}" y="${headerH - 6}">truth</text><text x="${x + cell + 2 * pad}" y="${headerH - 6}">Tag2Pix</text>`);
  }
  for (let r = 0; r < DEMO_GRID_ROWS.length; r++) {
    const row = DEMO_GRID_ROWS[r]!;
    const y = headerH + r * rowH;
    const label = [row.colors.hair, row.colors.eyes, row.colors.background].join(' ');
    parts.push(`<text x="4" y="${y + cell / 2 - 4}">${escapeXml(label)}</text>`);
    parts.push(`<text x="4" y="${y + cell / 2 + 12}" fill="${row.unseen ? '#b00' : '#555'}">${row.unseen ? 'unseen combination' : 'shirt/skirt/dress vary'}</text>`);
    const rendered = arts.map((art) => {
      const colors: Partial<Record<TagFamily, string>> = { ...art.spec.colors };
      for (const family of Object.keys(colors) as TagFamily[]) {
        const wanted = row.colors[family];
        if (wanted) colors[family] = wanted;
      }
      return renderSample({ ...art.spec, colors }, size);
    });
    const batch = synthBatch(rendered);
    const features = lineArtFeatures(batch.lineArt);
    const [color, guide] = trainer.generate(batch.lineArt, batch.cvt, features);
    for (let a = 0; a < arts.length; a++) {
      const x = labelW + a * (2 * cell + 3 * pad);
      const generated = tf.tidy(() => tf.squeeze(tf.slice(color, a, 1), [0])) as tf.Tensor3D;
      parts.push(image(await png(rendered[a]!.color), x + pad, y));
      parts.push(image(await png(generated), x + cell + 2 * pad, y));
      generated.dispose();
    }
    tf.dispose([color, guide, features, ...Object.values(batch)]);
  }
  parts.push(`<text x="4" y="${height - 10}" fill="#555">Each row asks for the tags on the left (other families keep the character's own colours); red rows never occur in training.</text>`);
  parts.push('</svg>');
  return renderSvgToPng(parts.join('\n'));
}
