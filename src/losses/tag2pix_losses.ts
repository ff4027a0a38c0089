import * as tf from '@tensorflow/tfjs-core';
import { bce, l1Loss, type LossInput } from './primitives.js';

/** The three heads of the Tag2Pix discriminator for one batch of images. */
export interface DiscriminatorHeads {
  /** Real/fake head, `[N, 1]`. */
  adversarial: tf.Tensor;
  /** Colour-invariant tag head, `[N, 370]`. */
  cit: tf.Tensor;
  /** Colour-variant tag head, `[N, 115]`. */
  cvt: tf.Tensor;
}

/** Multi-hot tag targets of a batch. */
export interface TagTargets {
  /** Colour-invariant tags, `[N, 370]`, 0 or 1. */
  cit: tf.Tensor;
  /** Colour-variant tags, `[N, 115]`, 0 or 1. */
  cvt: tf.Tensor;
}

/** Options shared by the losses that read classifier outputs. */
export interface ClassifierLossOptions {
  /** Whether the discriminator outputs are probabilities (default, as published) or logits. */
  input?: LossInput;
}

/**
 * Adversarial loss of one batch (the paper's Eq. 2, one expectation): mean BCE of the
 * real/fake head against 1 (`real = true`) or 0.
 */
export function adversarialLoss(
  prediction: tf.Tensor,
  real: boolean,
  options: ClassifierLossOptions = {},
): tf.Scalar {
  return tf.tidy(() =>
    bce(prediction, real ? tf.onesLike(prediction) : tf.zerosLike(prediction), options.input ?? 'probabilities'),
  );
}

/** Options of {@link multiLabelClassificationLoss}. */
export interface ClassificationLossOptions extends ClassifierLossOptions {
  /** Weight of the CIT term (default 1). */
  citWeight?: number;
  /** Weight of the CVT term (default 1). */
  cvtWeight?: number;
}

/** The terms of {@link multiLabelClassificationLoss}. */
export interface ClassificationLossTerms {
  /** Unweighted mean BCE of the CIT head. */
  cit: tf.Scalar;
  /** Unweighted mean BCE of the CVT head. */
  cvt: tf.Scalar;
  /** `cvtWeight·cvt + citWeight·cit`; a term with weight 0 is left out (no gradient path). */
  total: tf.Scalar;
}

/**
 * The ACGAN multi-label classification loss (the paper's Eq. 5, one expectation): a mean
 * per-tag BCE for the CIT head and for the CVT head, combined with their weights.
 */
export function multiLabelClassificationLoss(
  outputs: { cit: tf.Tensor; cvt: tf.Tensor },
  targets: TagTargets,
  options: ClassificationLossOptions = {},
): ClassificationLossTerms {
  const input = options.input ?? 'probabilities';
  const citWeight = options.citWeight ?? 1;
  const cvtWeight = options.cvtWeight ?? 1;
  checkWeight('citWeight', citWeight);
  checkWeight('cvtWeight', cvtWeight);
  return tf.tidy(() => {
    const cit = bce(outputs.cit, targets.cit, input);
    const cvt = bce(outputs.cvt, targets.cvt, input);
    // A term weighted 0 stays out of the total, as the published code leaves the classification
    // losses out in the segmentation step: the heads then get no gradient at all, and an
    // optimizer with PyTorch's semantics skips them instead of counting zero-gradient steps.
    const parts: tf.Tensor[] = [];
    if (cvtWeight !== 0) parts.push(tf.mul(cvt, cvtWeight));
    if (citWeight !== 0) parts.push(tf.mul(cit, citWeight));
    const total = (parts.length === 0 ? tf.scalar(0) : parts.length === 1 ? parts[0] : tf.add(parts[0], parts[1])) as tf.Scalar;
    return { cit, cvt, total };
  });
}

/** Options of {@link reconstructionLoss}. */
export interface ReconstructionLossOptions {
  /** Weight of the guide decoder's L1 term (the paper's β, default 0.9). */
  beta?: number;
  /**
   * Per-pixel weights of both L1 terms, `[N, S, S, 1]` (see {@link l1Loss}). Absent: every pixel
   * counts the same, as published.
   */
  pixelWeights?: tf.Tensor;
}

/** The terms of {@link reconstructionLoss}. */
export interface ReconstructionLossTerms {
  /** Mean L1 between the colour output and the ground truth. */
  color: tf.Scalar;
  /** Mean L1 between the guide output and the ground truth. */
  guide: tf.Scalar;
  /** `colour + β·guide`. */
  total: tf.Scalar;
}

/** The reconstruction loss (the paper's Eq. 3): `L1(G_f, y) + β·L1(G_g, y)`. */
export function reconstructionLoss(
  generated: { color: tf.Tensor; guide: tf.Tensor },
  groundTruth: tf.Tensor,
  options: ReconstructionLossOptions = {},
): ReconstructionLossTerms {
  const beta = options.beta ?? 0.9;
  checkWeight('beta', beta);
  return tf.tidy(() => {
    const color = l1Loss(generated.color, groundTruth, options.pixelWeights);
    const guide = l1Loss(generated.guide, groundTruth, options.pixelWeights);
    const total = tf.add(color, tf.mul(guide, beta)) as tf.Scalar;
    return { color, guide, total };
  });
}

/** Options of {@link discriminatorLoss}. */
export interface DiscriminatorLossOptions extends ClassificationLossOptions {
  /** Weight of the adversarial terms (λ_adv, default 1). */
  lambdaAdv?: number;
}

/** Every term of the discriminator loss (each a mean, unweighted) and the weighted total. */
export interface DiscriminatorLossTerms {
  /** BCE(D_adv(y), 1). */
  advReal: tf.Scalar;
  /** BCE(D_adv(G_f(x)), 0). */
  advFake: tf.Scalar;
  /** BCE(D_cit(y), c_i). */
  citReal: tf.Scalar;
  /** BCE(D_cvt(y), c_v). */
  cvtReal: tf.Scalar;
  /** BCE(D_cit(G_f(x)), c_i). */
  citFake: tf.Scalar;
  /** BCE(D_cvt(G_f(x)), c_v). */
  cvtFake: tf.Scalar;
  /** The loss the discriminator minimises. */
  total: tf.Scalar;
}

/**
 * The discriminator loss (the paper's Eqs. 1 and 4, as the published code computes them):
 * `λ_adv·(BCE(D(y), 1) + BCE(D(G(x)), 0)) + (w_cvt·BCE(CVT(y), c_v) + w_cit·BCE(CIT(y), c_i))
 *  + (w_cvt·BCE(CVT(G(x)), c_v) + w_cit·BCE(CIT(G(x)), c_i))`.
 * With both classification weights 0 this is step 1 of the two-step curriculum (Eq. 1).
 */
export function discriminatorLoss(
  real: DiscriminatorHeads,
  fake: DiscriminatorHeads,
  targets: TagTargets,
  options: DiscriminatorLossOptions = {},
): DiscriminatorLossTerms {
  const lambdaAdv = options.lambdaAdv ?? 1;
  checkWeight('lambdaAdv', lambdaAdv);
  return tf.tidy(() => {
    const advReal = adversarialLoss(real.adversarial, true, options);
    const advFake = adversarialLoss(fake.adversarial, false, options);
    const clsReal = multiLabelClassificationLoss(real, targets, options);
    const clsFake = multiLabelClassificationLoss(fake, targets, options);
    const total = tf.add(
      tf.add(tf.mul(tf.add(advReal, advFake), lambdaAdv), clsReal.total),
      clsFake.total,
    ) as tf.Scalar;
    return {
      advReal,
      advFake,
      citReal: clsReal.cit,
      cvtReal: clsReal.cvt,
      citFake: clsFake.cit,
      cvtFake: clsFake.cvt,
      total,
    };
  });
}

/** Options of {@link generatorLoss}. */
export interface GeneratorLossOptions extends ClassificationLossOptions, ReconstructionLossOptions {
  /** Weight of the reconstruction loss (λ_rec, default 1000). */
  lambdaRec?: number;
}

/** Every term of the generator loss (each a mean, unweighted) and the weighted total. */
export interface GeneratorLossTerms {
  /** BCE(D_adv(G_f(x)), 1). */
  adv: tf.Scalar;
  /** BCE(D_cit(G_f(x)), c_i). */
  cit: tf.Scalar;
  /** BCE(D_cvt(G_f(x)), c_v). */
  cvt: tf.Scalar;
  /** L1(G_f(x), y). */
  l1Color: tf.Scalar;
  /** L1(G_g(x), y). */
  l1Guide: tf.Scalar;
  /** The loss the generator minimises. */
  total: tf.Scalar;
}

/**
 * The generator loss (the paper's Eqs. 1, 3 and 4, as the published code computes them):
 * `BCE(D(G(x)), 1) + (w_cvt·BCE(CVT(G(x)), c_v) + w_cit·BCE(CIT(G(x)), c_i))
 *  + λ_rec·(L1(G_f, y) + β·L1(G_g, y))`. As published, λ_adv does not weight the generator's
 * adversarial term.
 */
export function generatorLoss(
  fake: DiscriminatorHeads,
  generated: { color: tf.Tensor; guide: tf.Tensor },
  groundTruth: tf.Tensor,
  targets: TagTargets,
  options: GeneratorLossOptions = {},
): GeneratorLossTerms {
  const lambdaRec = options.lambdaRec ?? 1000;
  checkWeight('lambdaRec', lambdaRec);
  return tf.tidy(() => {
    const adv = adversarialLoss(fake.adversarial, true, options);
    const cls = multiLabelClassificationLoss(fake, targets, options);
    const rec = reconstructionLoss(generated, groundTruth, options);
    const total = tf.add(tf.add(adv, cls.total), tf.mul(rec.total, lambdaRec)) as tf.Scalar;
    return { adv, cit: cls.cit, cvt: cls.cvt, l1Color: rec.color, l1Guide: rec.guide, total };
  });
}

function checkWeight(name: string, value: number): void {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
    throw new Error(`Loss weight ${name} must be a finite number >= 0, got ${String(value)}.`);
  }
}
