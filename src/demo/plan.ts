// The demo's time budget: how many epochs fit, what the next one will cost, and the learning
// rate's decay over the second half of the epochs that fit.

/** Cost of an adversarial demo epoch relative to a warm-up epoch, to plan the time budget. */
const ADVERSARIAL_EPOCH_COST = 2.5;

/**
 * How many epochs the demo expects to finish within its budget after `epoch` took `epochSeconds`
 * (`elapsedSeconds` in all so far): the epochs after it in order, as long as they fit, an
 * adversarial one costing {@link ADVERSARIAL_EPOCH_COST} warm-up ones.
 */
export function plannedDemoEpochs(o: {
  epoch: number;
  elapsedSeconds: number;
  epochSeconds: number;
  epochs: number;
  warmupEpochs: number;
  budgetSeconds: number;
}): number {
  const measured = { epoch: o.epoch, seconds: o.epochSeconds };
  let planned = o.epoch;
  let t = o.elapsedSeconds;
  for (let e = o.epoch + 1; e <= o.epochs; e++) {
    const cost = expectedEpochSeconds(e, measured, o.warmupEpochs);
    if (t + cost > o.budgetSeconds) break;
    t += cost;
    planned = e;
  }
  return planned;
}

/** Seconds `epoch` should take, given that `measured.epoch` took `measured.seconds`. */
export function expectedEpochSeconds(epoch: number, measured: { epoch: number; seconds: number }, warmupEpochs: number): number {
  const cost = (e: number) => (warmupEpochs > 0 && e > warmupEpochs ? ADVERSARIAL_EPOCH_COST : 1);
  return (measured.seconds * cost(epoch)) / cost(measured.epoch);
}

/**
 * The factor of the demo's learning rate at step `step` (0-based) of a linear ramp over
 * `rampSteps` steps: from 1 / rampSteps up to 1 (1 throughout when `rampSteps` is 0).
 */
export function rampFactor(step: number, rampSteps: number): number {
  return rampSteps > 0 ? Math.min(1, (step + 1) / rampSteps) : 1;
}

/** The demo's learning-rate factor in `epoch` of `planned`: 1 for the first half, then linear. */
export function decayFactor(epoch: number, planned: number): number {
  const flat = Math.ceil(planned / 2);
  if (epoch <= flat) return 1;
  return Math.max(1, planned - epoch + 1) / (planned - flat + 1);
}

