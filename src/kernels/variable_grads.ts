import * as tf from '@tensorflow/tfjs-core';
import type { TapeNode } from './recompute.js';

/**
 * `tf.variableGrads(f, varList)` that frees the tensors its tape saved when `f` or the backward
 * pass throws (e.g. a `WasmMemoryError` part-way through a training step). tfjs frees a tape's
 * saved tensors only at the end of a successful backward pass, so every failed step would
 * otherwise leak them. Reads `engine.state.activeTape` while `f` runs, as `recompute.ts` does
 * (its test checks that tfjs still behaves this way).
 */
export function variableGradsFreeingOnError(
  f: () => tf.Scalar,
  varList?: tf.Variable[],
): { value: tf.Scalar; grads: tf.NamedTensorMap } {
  const state = tf.engine().state as unknown as { activeTape: TapeNode[] | null; gradientDepth: number };
  // Inside another gradient the tape is shared with it: leave it to the outer call.
  const outermost = state.gradientDepth === 0;
  let tape: TapeNode[] | null = null;
  try {
    return tf.variableGrads(() => {
      if (outermost) tape = state.activeTape;
      return f();
    }, varList);
  } catch (err) {
    for (const node of (tape ?? []) as TapeNode[]) tf.dispose(node.saved ?? []);
    throw err;
  }
}
