// Line-art decoding with the browser's own image decoders (no JavaScript PNG/JPEG codec).

/** A decoded line art: grey values in [0, 1] (white = 1), row-major, one value per pixel. */
export interface GreyImage {
  width: number;
  height: number;
  data: Float32Array;
}

const SIGNATURES: Array<{ type: string; bytes: number[] }> = [
  { type: 'PNG', bytes: [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a] },
  { type: 'JPEG', bytes: [0xff, 0xd8, 0xff] },
  { type: 'WebP', bytes: [0x52, 0x49, 0x46, 0x46] }, // RIFF; good enough for a hint
];

/** What the first bytes of a file say it is ('PNG', 'JPEG', 'WebP'), or undefined. */
export function sniffImageType(head: Uint8Array): string | undefined {
  return SIGNATURES.find((s) => s.bytes.every((b, i) => head[i] === b))?.type;
}

/**
 * Decodes an image file into grey values. Transparent pixels count as white paper (line art
 * is often exported as black strokes on transparency). Throws an error that names the file and
 * says what to do when it is not an image the browser can decode.
 */
export async function decodeLineArt(file: Blob & { name?: string }): Promise<GreyImage> {
  const name = file.name ? `'${file.name}'` : 'The file';
  const head = new Uint8Array(await file.slice(0, 16).arrayBuffer());
  const type = sniffImageType(head);
  if (type === undefined) {
    const safetensors = head.length >= 9 && head[8] === 0x7b; // 8-byte length then '{'
    throw new Error(
      `${name} is not a PNG or JPEG image` +
        (safetensors ? ' (it looks like a .safetensors weights file: choose it under "Weights")' : '') +
        '. Choose a line art saved as PNG or JPEG.',
    );
  }
  let bitmap: ImageBitmap;
  try {
    bitmap = await createImageBitmap(file, { colorSpaceConversion: 'none', premultiplyAlpha: 'none' });
  } catch (err) {
    throw new Error(
      `${name} starts like a ${type} file but this browser could not decode it (${(err as Error).message}). ` +
        'The file may be truncated or damaged: export it again as PNG or JPEG.',
    );
  }
  try {
    return bitmapToGrey(bitmap);
  } finally {
    bitmap.close();
  }
}

/** Draws a bitmap on white and converts it to grey with the Rec. 601 luma weights. */
export function bitmapToGrey(bitmap: ImageBitmap | HTMLCanvasElement): GreyImage {
  const { width, height } = bitmap;
  if (width === 0 || height === 0) throw new Error('The image is empty (0 pixels wide or high).');
  const canvas = new OffscreenCanvas(width, height);
  const ctx = canvas.getContext('2d', { willReadFrequently: true });
  if (!ctx) throw new Error('This browser cannot create a 2D canvas to read the image.');
  ctx.fillStyle = '#fff';
  ctx.fillRect(0, 0, width, height);
  ctx.drawImage(bitmap, 0, 0);
  const rgba = ctx.getImageData(0, 0, width, height).data;
  const data = new Float32Array(width * height);
  for (let i = 0; i < data.length; i++) {
    const r = rgba[4 * i];
    const g = rgba[4 * i + 1];
    const b = rgba[4 * i + 2];
    // Grey images (r = g = b) come out exactly as v / 255, like Node's decoders give them.
    data[i] = r === g && g === b ? r / 255 : (0.299 * r + 0.587 * g + 0.114 * b) / 255;
  }
  return { width, height, data };
}

/** Paints grey values (0..1) on a canvas, resizing the canvas to the image. */
export function drawGrey(canvas: HTMLCanvasElement, image: GreyImage): void {
  canvas.width = image.width;
  canvas.height = image.height;
  const ctx = canvas.getContext('2d');
  if (!ctx) return;
  const pixels = ctx.createImageData(image.width, image.height);
  for (let i = 0; i < image.data.length; i++) {
    const v = Math.round(Math.min(1, Math.max(0, image.data[i])) * 255);
    pixels.data[4 * i] = v;
    pixels.data[4 * i + 1] = v;
    pixels.data[4 * i + 2] = v;
    pixels.data[4 * i + 3] = 255;
  }
  ctx.putImageData(pixels, 0, 0);
}

/** Paints RGB bytes (row-major, 3 per pixel) on a canvas, resizing the canvas to the image. */
export function drawRgb(canvas: HTMLCanvasElement, width: number, height: number, rgb: Uint8Array): void {
  canvas.width = width;
  canvas.height = height;
  const ctx = canvas.getContext('2d');
  if (!ctx) return;
  const pixels = ctx.createImageData(width, height);
  for (let i = 0; i < width * height; i++) {
    pixels.data[4 * i] = rgb[3 * i];
    pixels.data[4 * i + 1] = rgb[3 * i + 1];
    pixels.data[4 * i + 2] = rgb[3 * i + 2];
    pixels.data[4 * i + 3] = 255;
  }
  ctx.putImageData(pixels, 0, 0);
}
