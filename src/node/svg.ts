// SVG figures (the loss curve, the demo's grid) rendered to PNG by sharp.
import sharp from 'sharp';

/** Renders an SVG string to PNG bytes. */
export async function renderSvgToPng(svg: string): Promise<Buffer> {
  return sharp(Buffer.from(svg)).png().toBuffer();
}
