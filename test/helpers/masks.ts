/** The centroid of a region mask (`size`×`size`, coverage in [0, 1]) as fractions of the width and height. */
export function maskCentroid(mask: Float32Array, size: number): [number, number] {
  let x = 0;
  let y = 0;
  let weight = 0;
  mask.forEach((m, p) => ((x += m * (p % size)), (y += m * Math.floor(p / size)), (weight += m)));
  return [x / weight / size, y / weight / size];
}
