import * as tf from '@tensorflow/tfjs-core';
import { adamUpdate } from '../ops/adam_update.js';

/** Options of {@link TorchAdam}; the defaults are Tag2Pix's published ones. */
export interface TorchAdamOptions {
  /** Step size (default 2e-4). */
  learningRate?: number;
  /** Decay of the first moment (default 0.5). */
  beta1?: number;
  /** Decay of the second moment (default 0.999). */
  beta2?: number;
  /** Added to the bias-corrected root second moment (default 1e-8). */
  epsilon?: number;
}

/** A parameter the optimizer updates, under a key that is stable across processes. */
export interface NamedParameter {
  /** Stable key, e.g. `G:conv1/conv1.0.weight`. */
  key: string;
  variable: tf.Variable;
}

/** Serialised optimizer state: the options, per-parameter step counts and moment tensors. */
export interface TorchAdamState {
  options: Required<TorchAdamOptions>;
  /** Updates applied to each parameter so far (PyTorch keeps one count per parameter). */
  steps: Record<string, number>;
  /** `<key>.exp_avg` and `<key>.exp_avg_sq` moment tensors (owned by the caller). */
  tensors: Record<string, tf.Tensor>;
}

interface Slot {
  m: tf.Variable;
  v: tf.Variable;
  step: number;
}

/**
 * Adam with PyTorch's `torch.optim.Adam` semantics (weight decay 0, no AMSGrad):
 * `m ← β1·m + (1−β1)·g`, `v ← β2·v + (1−β2)·g²`, and
 * `p ← p − lr/(1−β1ᵗ) · m / (√v/√(1−β2ᵗ) + ε)` with a step count `t` per parameter.
 *
 * tfjs's `tf.train.adam` computes the same formula, but keys its moments by the position of a
 * gradient in the list it is given, keeps one shared step count, and stores its state as
 * positional weights; this optimizer keys everything by parameter name, skips a parameter
 * without gradient as PyTorch does (no moment decay, no step), computes the bias corrections
 * in double precision like PyTorch, and saves/restores its state exactly.
 */
export class TorchAdam {
  readonly options: Required<TorchAdamOptions>;
  private readonly slots = new Map<string, Slot>();

  constructor(options: TorchAdamOptions = {}) {
    this.options = {
      learningRate: options.learningRate ?? 2e-4,
      beta1: options.beta1 ?? 0.5,
      beta2: options.beta2 ?? 0.999,
      epsilon: options.epsilon ?? 1e-8,
    };
    const o = this.options;
    if (!(o.learningRate > 0) || !Number.isFinite(o.learningRate)) {
      throw new Error(`TorchAdam: learningRate must be a finite number > 0, got ${o.learningRate}.`);
    }
    for (const k of ['beta1', 'beta2'] as const) {
      if (!(o[k] >= 0 && o[k] < 1)) throw new Error(`TorchAdam: ${k} must be in [0, 1), got ${o[k]}.`);
    }
    if (!(o.epsilon >= 0)) throw new Error(`TorchAdam: epsilon must be >= 0, got ${o.epsilon}.`);
  }

  /**
   * Applies one update to every parameter that has a gradient in `gradients` (keyed by
   * parameter key). Gradients are not disposed.
   */
  applyGradients(params: NamedParameter[], gradients: Record<string, tf.Tensor | undefined>): void {
    const { learningRate, beta1, beta2, epsilon } = this.options;
    for (const { key, variable } of params) {
      const g = gradients[key];
      if (g === undefined || g === null) continue;
      if (g.shape.join(',') !== variable.shape.join(',')) {
        throw new Error(
          `TorchAdam: the gradient of ${key} has shape [${g.shape.join(', ')}], the parameter ` +
            `[${variable.shape.join(', ')}].`,
        );
      }
      let slot = this.slots.get(key);
      if (slot === undefined) {
        slot = {
          m: tf.tidy(() => tf.variable(tf.zerosLike(variable), false)),
          v: tf.tidy(() => tf.variable(tf.zerosLike(variable), false)),
          step: 0,
        };
        this.slots.set(key, slot);
      }
      const s = slot;
      s.step++;
      const biasCorrection1 = 1 - beta1 ** s.step;
      const biasCorrection2Sqrt = Math.sqrt(1 - beta2 ** s.step);
      const stepSize = learningRate / biasCorrection1;
      tf.tidy(() => {
        const [p, m, v] = adamUpdate(variable, s.m, s.v, g, { beta1, beta2, epsilon, biasCorrection2Sqrt, stepSize });
        s.m.assign(m!);
        s.v.assign(v!);
        variable.assign(p!);
      });
    }
  }

  /**
   * Changes the learning rate from the next update on (a schedule); the moments and step counts
   * are kept, as when PyTorch's schedulers edit `param_groups[i]['lr']`.
   */
  setLearningRate(learningRate: number): void {
    if (!(learningRate > 0) || !Number.isFinite(learningRate)) {
      throw new Error(`TorchAdam.setLearningRate: learningRate must be a finite number > 0, got ${learningRate}.`);
    }
    this.options.learningRate = learningRate;
  }

  /** Step count of a parameter (0 before its first update). */
  stepOf(key: string): number {
    return this.slots.get(key)?.step ?? 0;
  }

  /** A copy of the state (the caller owns the tensors). */
  getState(): TorchAdamState {
    const steps: Record<string, number> = {};
    const tensors: Record<string, tf.Tensor> = {};
    for (const [key, s] of this.slots) {
      steps[key] = s.step;
      tensors[`${key}.exp_avg`] = tf.clone(s.m);
      tensors[`${key}.exp_avg_sq`] = tf.clone(s.v);
    }
    return { options: { ...this.options }, steps, tensors };
  }

  /**
   * Replaces the state with one from {@link getState} (tensors are copied, not taken). Checks
   * that the options match and every moment has its parameter's shape.
   */
  setState(state: TorchAdamState, params: NamedParameter[]): void {
    for (const k of Object.keys(this.options) as Array<keyof TorchAdamOptions>) {
      if (state.options[k] !== this.options[k]) {
        throw new Error(
          `TorchAdam.setState: the saved state has ${k} ${state.options[k]}, this optimizer ` +
            `${this.options[k]}; create the optimizer with the saved options.`,
        );
      }
    }
    const byKey = new Map(params.map((p) => [p.key, p.variable]));
    const next = new Map<string, Slot>();
    try {
      for (const [key, step] of Object.entries(state.steps)) {
        const variable = byKey.get(key);
        if (variable === undefined) {
          throw new Error(`TorchAdam.setState: the saved state has a parameter ${key} the model does not have.`);
        }
        const m = state.tensors[`${key}.exp_avg`];
        const v = state.tensors[`${key}.exp_avg_sq`];
        for (const [name, t] of [['exp_avg', m], ['exp_avg_sq', v]] as const) {
          if (t === undefined || t.shape.join(',') !== variable.shape.join(',')) {
            throw new Error(
              `TorchAdam.setState: ${key}.${name} is ${t ? `[${t.shape.join(', ')}]` : 'missing'}, ` +
                `the parameter is [${variable.shape.join(', ')}].`,
            );
          }
        }
        if (!Number.isInteger(step) || step < 0) {
          throw new Error(`TorchAdam.setState: the step count of ${key} must be an integer >= 0, got ${step}.`);
        }
        next.set(key, {
          m: tf.tidy(() => tf.variable(tf.clone(m), false)),
          v: tf.tidy(() => tf.variable(tf.clone(v), false)),
          step,
        });
      }
    } catch (e) {
      for (const s of next.values()) tf.dispose([s.m, s.v]);
      throw e;
    }
    this.dispose();
    for (const [k, s] of next) this.slots.set(k, s);
  }

  /**
   * Forgets every moment and step count: the next update of each parameter is a first step
   * again. For a change of loss that the moments were not measured on.
   */
  reset(): void {
    this.dispose();
  }

  /** Frees the moment tensors. */
  dispose(): void {
    for (const s of this.slots.values()) tf.dispose([s.m, s.v]);
    this.slots.clear();
  }
}
