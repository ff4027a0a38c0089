import type { ArrayKernelSpec } from './array_kernel.js';

/** Name of the row-picking kernel (wasm and cpu). */
export const PICK_ROWS = 'Tag2PixPickRows';

/**
 * Rows `indices` of a matrix `[rows, columns]`, in that order, as one copy per row (wasm's
 * `GatherV2` takes 3 ms on a 9-row filter, the slices + concat it replaces ~13 kernels).
 */
export const pickRowsSpec: ArrayKernelSpec = {
  inputs: ['x'],
  outputShapes: (shapes, attrs) => [[(attrs['indices'] as number[]).length, shapes[0]![1]!]],
  compute([x], [out], attrs, shapes) {
    const columns = shapes[0]![1]!;
    (attrs['indices'] as number[]).forEach((row, i) => {
      out!.set(x!.subarray(row * columns, (row + 1) * columns), i * columns);
    });
  },
};
