import * as tf from '@tensorflow/tfjs-core';

/*
 * Gradient checkpointing ("recompute in backward"): a block runs as one tape node that keeps only
 * its inputs; its gradient runs the block's forward again under a gradient tape of its own and
 * back-propagates through that. The outer tape then holds one node per block instead of every
 * kernel's saved tensors, at the cost of a second forward pass per block.
 */

/**
 * `tf.engine().gradients(f, xs, dy)` that may run inside another gradient's backward pass.
 *
 * Why engine internals: tfjs-core 4.x starts a fresh tape when `gradientDepth` is 0 and sets the
 * active tape to null when its backward pass ends. During an outer backward pass the depth is
 * already back to 0, so a plain nested call replaces the outer tape and nulls it: the outer
 * `gradients` then fails on `activeTape.forEach` and never frees the tensors its nodes saved.
 * Restoring the outer tape afterwards makes the nested call self-contained (the inner tape's
 * saved tensors are freed by the inner call). `test/kernels/recompute.test.ts` checks that tfjs
 * still behaves this way.
 */
export function gradientsInsideGradient(
  f: () => tf.Tensor,
  xs: tf.Tensor[],
  dy: tf.Tensor,
): { value: tf.Tensor; grads: Array<tf.Tensor | undefined> } {
  const state = tf.engine().state;
  const outerTape = state.activeTape;
  try {
    const { value, grads } = tf.engine().gradients(f, xs, dy, true);
    return { value, grads: grads as Array<tf.Tensor | undefined> };
  } finally {
    state.activeTape = outerTape;
  }
}

/**
 * Runs `forward(inputs)` as one differentiable node that saves only `inputs` for the backward
 * pass and recomputes the rest there.
 *
 * - `inputs`: the tensors the block is a function of (activations), saved on the tape.
 * - `variables`: the weights `forward` reads (e.g. `layerVariable.read()`); they are inputs of
 *   the node so that an enclosing `tf.variableGrads` reaches them, but are not copied.
 * - `forward(inputs, recomputing)`: the block. It runs twice when gradients are taken: once
 *   with `recomputing = false` (the value returned, with any side effects such as BatchNorm
 *   running-statistics updates) and once in the backward pass with `recomputing = true`, where
 *   it must compute the same value without side effects.
 *
 * Without an active gradient tape (inference, or a forward pass outside `tf.grads`) `forward`
 * simply runs once. Gradients of inputs or variables that do not reach the output are zeros.
 */
export function recomputeInBackward<T extends tf.Tensor>(
  forward: (inputs: tf.Tensor[], recomputing: boolean) => T,
  inputs: tf.Tensor[],
  variables: tf.Variable[],
): T {
  if (!tf.engine().isTapeOn()) return forward(inputs, false);
  const n = inputs.length;
  const node = tf.customGrad(((...args: unknown[]) => {
    const save = args[args.length - 1] as tf.GradSaveFunc;
    const given = args.slice(0, n) as tf.Tensor[];
    save(given);
    const value = forward(given, false);
    return {
      value,
      gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) => {
        const xs = [...saved, ...variables];
        const { value: again, grads } = gradientsInsideGradient(
          () => forward(saved, true),
          xs,
          dy as tf.Tensor,
        );
        again.dispose();
        return grads.map((g, i) => g ?? tf.zerosLike(xs[i]!));
      },
    };
  }) as unknown as Parameters<typeof tf.customGrad>[0]);
  return (node as unknown as (...ts: tf.Tensor[]) => T)(...inputs, ...variables);
}
