import * as tf from '@tensorflow/tfjs-core';
import { customGrad } from './custom_grad.js';

/*
 * Gradient checkpointing ("recompute in backward"): a block runs as one tape node that keeps only
 * its inputs; its gradient runs the block's forward again under a gradient tape of its own and
 * back-propagates through that. The outer tape then holds one node per block instead of every
 * kernel's saved tensors, at the cost of a second forward pass per block.
 */

/** A node of tfjs-core's gradient tape (`TapeNode` in its `tape.ts`). */
export interface TapeNode {
  kernelName: string;
  inputs: Record<string, tf.Tensor>;
  outputs: tf.Tensor[];
  gradient?: (dys: Array<tf.Tensor | null>) => Record<string, () => tf.Tensor>;
  saved?: tf.Tensor[];
}

/**
 * Runs `f` under a gradient tape of its own and back-propagates `dy` from its output to `xs`;
 * may run inside another gradient's backward pass. Returns the value of `f` and the gradient of
 * each `x` (undefined where `x` does not reach the output).
 *
 * Why this reads engine internals instead of calling `tf.engine().gradients`:
 * - tfjs-core 4.x starts a fresh tape when `gradientDepth` is 0 and sets the active tape to null
 *   when its backward pass ends. During an outer backward pass the depth is already back to 0,
 *   so a nested `gradients` call replaces the outer tape and nulls it: the outer call then fails
 *   on `activeTape.forEach` and never frees the tensors its nodes saved. Here the outer tape is
 *   put back in a `finally`.
 * - tfjs's backward pass keeps every node's saved tensors and every intermediate gradient until
 *   it ends; this one frees a node's saved tensors and output gradients as soon as the node's
 *   input gradients exist, as PyTorch does, which lowers the peak of the recomputation.
 * It relies on `engine.state.{activeTape, gradientDepth}` and the tape nodes' `inputs`,
 * `outputs`, `gradient`, `saved`; `test/kernels/recompute.test.ts` checks that tfjs still
 * behaves this way.
 */
export function gradientsInsideGradient(
  f: () => tf.Tensor,
  xs: tf.Tensor[],
  dy: tf.Tensor,
): { value: tf.Tensor; grads: Array<tf.Tensor | undefined> } {
  const state = tf.engine().state as unknown as { activeTape: TapeNode[] | null; gradientDepth: number };
  if (state.gradientDepth > 0) {
    throw new Error(
      'recompute: a recomputed block cannot be differentiated twice (higher-order gradients or a ' +
        'gradient taken while recording another); build the model with recompute: false for that.',
    );
  }
  const outerTape = state.activeTape;
  let tape: TapeNode[] = [];
  try {
    let value: tf.Tensor;
    state.activeTape = [];
    state.gradientDepth++;
    try {
      value = tf.tidy(f);
    } finally {
      state.gradientDepth--;
      tape = state.activeTape ?? [];
      state.activeTape = outerTape;
    }
    return { value, grads: backpropFreeing(tape, xs, value, dy) };
  } finally {
    for (const node of tape) tf.dispose(node.saved ?? []);
  }
}

/** Back-propagation over `tape` that frees what each node no longer needs once it has run. */
function backpropFreeing(tape: TapeNode[], xs: tf.Tensor[], y: tf.Tensor, dy: tf.Tensor): Array<tf.Tensor | undefined> {
  // Tensors computed from xs; only their gradients are wanted.
  const fromX = new Set(xs.map((x) => x.id));
  const nodes = tape.filter((node) => {
    if (!Object.values(node.inputs).some((t) => fromX.has(t.id))) return false;
    for (const o of node.outputs) fromX.add(o.id);
    return true;
  });
  const wanted = new Set(xs.map((x) => x.id));
  return tf.tidy(() => {
    const grads = new Map<number, tf.Tensor>([[y.id, dy]]);
    const held = (t: tf.Tensor) => t === dy || [...grads.values()].includes(t);
    for (let i = nodes.length - 1; i >= 0; i--) {
      const node = nodes[i]!;
      const dys = node.outputs.map((o) => grads.get(o.id) ?? null);
      if (dys.every((d) => d == null)) continue; // does not lead to y
      if (node.gradient == null) {
        throw new Error(`Cannot compute gradient: gradient function not found for ${node.kernelName}.`);
      }
      const needed = Object.entries(node.inputs).filter(([, input]) => fromX.has(input.id));
      // One scope for the node's gradient: a customGrad node computes its gradients eagerly in
      // node.gradient(), and its intermediates would otherwise live until the pass ends.
      const dxs = tf.tidy(() => {
        const inputGradients = node.gradient!(dys);
        return needed.map(([name]) => {
          const grad = inputGradients[name];
          if (grad == null) throw new Error(`Cannot backprop through input ${name} of ${node.kernelName}.`);
          return grad();
        });
      });
      needed.forEach(([, input], k) => {
        const dx = dxs[k]!;
        const previous = grads.get(input.id);
        if (previous == null) {
          grads.set(input.id, dx);
        } else {
          grads.set(input.id, tf.add(previous, dx));
          if (!dys.includes(previous) && !held(previous)) previous.dispose();
          if (!dys.includes(dx) && !held(dx)) dx.dispose();
        }
      });
      // tfjs would keep these until the whole backward pass ends.
      for (const o of node.outputs) {
        if (wanted.has(o.id)) continue;
        const g = grads.get(o.id);
        grads.delete(o.id);
        if (g && !held(g)) g.dispose();
      }
      tf.dispose(node.saved ?? []);
      node.saved = [];
    }
    return xs.map((x) => grads.get(x.id));
  });
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
 * Higher-order gradients through the node are not supported (an error says so).
 */
export function recomputeInBackward<T extends tf.Tensor>(
  forward: (inputs: tf.Tensor[], recomputing: boolean) => T,
  inputs: tf.Tensor[],
  variables: tf.Variable[],
): T {
  if (!tf.engine().isTapeOn()) return forward(inputs, false);
  const n = inputs.length;
  const node = customGrad(((...args: unknown[]) => {
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
