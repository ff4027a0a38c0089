import type { ArrayKernelSpec } from './array_kernel.js';

/** Name of the kernel that picks filter taps with in/out swapped (wasm and cpu). */
export const SWAPPED_TAPS = 'Tag2PixSwappedTaps';

/**
 * Taps `taps` of a filter `[kh, kw, in, out]` (tap `i·kw + j`), each transposed: `[taps.length, out, in]`,
 * in the order given. The transposed convolutions of an input gradient take their filter so (180°
 * rotation: the taps reversed; a stride phase: its sub-filter's taps). One copy, where tfjs's
 * `Transpose` runs its generic single-threaded loop and the taps are then picked in a second pass.
 */
export const swappedTapsSpec: ArrayKernelSpec = {
  inputs: ['filter'],
  outputShapes: (shapes, attrs) => {
    const [, , inC, outC] = shapes[0]!;
    return [[(attrs['taps'] as number[]).length, outC!, inC!]];
  },
  compute([filter], [out], attrs, shapes) {
    const [, , inC, outC] = shapes[0]! as number[];
    const size = inC! * outC!;
    (attrs['taps'] as number[]).forEach((tap, k) => {
      const source = tap * size;
      let o = k * size;
      for (let c = 0; c < outC!; c++) {
        for (let r = 0, s = source + c; r < inC!; r++, s += outC!) out![o++] = filter![s]!;
      }
    });
  },
  computeWasm(kernels, [filter], [out], attrs, shapes) {
    const [, , inC, outC] = shapes[0]! as number[];
    const bytes = inC! * outC! * 4;
    (attrs['taps'] as number[]).forEach((tap, k) => kernels.transpose(filter! + tap * bytes, out! + k * bytes, inC!, outC!));
  },
};
