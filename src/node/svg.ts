// SVG figures (the loss curve, the demo's grid) rendered to PNG by sharp.
import { loadSharp } from './sharp.js';

/** Renders an SVG string to PNG bytes. */
export async function renderSvgToPng(svg: string): Promise<Buffer> {
  const sharp = await loadSharp('renderSvgToPng');
  return sharp(Buffer.from(svg)).png().toBuffer();
}
