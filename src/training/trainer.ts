import * as tf from '@tensorflow/tfjs-core';
import { variableGradsFreeingOnError } from '../kernels/variable_grads.js';
import type { LayersModel } from '@tensorflow/tfjs-layers';
import {
  ChangingLossScheduler,
  type ScheduledValues,
  type Tag2PixLossWeights,
} from '../losses/changing_loss_scheduler.js';
import type { LossInput } from '../losses/primitives.js';
import {
  discriminatorLoss,
  generatorLoss,
  reconstructionLoss,
  type DiscriminatorLossTerms,
  type DiscriminatorHeads,
  type GeneratorLossTerms,
} from '../losses/tag2pix_losses.js';
import { TorchAdam, type NamedParameter, type TorchAdamOptions } from './adam.js';

/** One training batch, NHWC. */
export interface Tag2PixBatch {
  /** Line art `[N, S, S, 1]` in [0, 1]. */
  lineArt: tf.Tensor4D;
  /** Ground-truth colour image `[N, S, S, 3]` in [-1, 1]. */
  colour: tf.Tensor4D;
  /** CIT multi-hot `[N, 370]`. */
  cit: tf.Tensor2D;
  /** CVT multi-hot `[N, 115]`. */
  cvt: tf.Tensor2D;
  /**
   * CIT features `[N, S/8, S/8, 512]`. When absent, the trainer computes them with its CIT
   * extractor (without gradient).
   */
  citFeatures?: tf.Tensor4D;
}

/** Options of {@link Tag2PixTrainer}; the defaults are the published ones. */
export interface Tag2PixTrainerOptions {
  /**
   * Generator: inputs `[lineArt, citFeatures, cvt]` (or `[lineArt, cvt]` when built without the
   * CIT path), outputs `[colour, guide]`.
   */
  generator: LayersModel;
  /** Discriminator: input an image, outputs `[adversarial, cit, cvt]`. */
  discriminator: LayersModel;
  /** Frozen CIT extractor (line art → features); needed unless batches bring `citFeatures`. */
  citExtractor?: LayersModel;
  /**
   * Which discriminator outputs the losses read: `probabilities` (default, as published: BCE with
   * PyTorch's clamp) or `logits` (stable BCE-with-logits) — build the discriminator with
   * `outputs: 'logits'` or `'both'` for the latter.
   */
  discriminatorOutput?: LossInput;
  /** Adam options for G (default lr 2e-4, betas 0.5/0.999, eps 1e-8). */
  generatorOptimizer?: TorchAdamOptions;
  /** Adam options for D (same defaults). */
  discriminatorOptimizer?: TorchAdamOptions;
  /** Loss weights over time (default `ChangingLossScheduler.tag2pix()`). */
  scheduler?: ChangingLossScheduler<Tag2PixLossWeights>;
  /**
   * Stop a step whose loss is NaN or infinite before the optimizer applies it (default true).
   * The check reads each loss back before its update.
   */
  checkFinite?: boolean;
}

/** Loss terms of one iteration as numbers. */
export interface Tag2PixStepLosses {
  /**
   * In a warm-up step (`adversarial: false` in the schedule) only the generator's L1 terms and
   * total are computed; every other term is NaN.
   */
  discriminator: Record<keyof DiscriminatorLossTerms, number>;
  generator: Record<keyof GeneratorLossTerms, number>;
}

/** What {@link Tag2PixTrainer.trainStep} returns. */
export interface Tag2PixStepResult extends Tag2PixStepLosses {
  /** Epoch and step (within the epoch) of this iteration. */
  epoch: number;
  step: number;
  /** The loss weights the iteration used. */
  weights: ScheduledValues<Tag2PixLossWeights>;
}

/** Tensors a step can hand out for inspection (the caller disposes them). */
export interface Tag2PixStepInspection {
  /** D's gradients after the D backward, by parameter key. */
  discriminatorGradients: Record<string, tf.Tensor>;
  /**
   * G's gradients after the D backward. The published code does not detach G's output in the
   * D step, so G receives these; they are discarded (G's optimizer zeroes them). Only computed
   * for inspection.
   */
  generatorGradientsFromDiscriminatorLoss: Record<string, tf.Tensor>;
  /** G's gradients after the G backward. */
  generatorGradients: Record<string, tf.Tensor>;
  /** G's colour output in the D step (absent in a warm-up step) and both outputs in the G step. */
  outputs: { dStepColour?: tf.Tensor; gStepColour: tf.Tensor; gStepGuide: tf.Tensor };
}

/** Thrown when a loss term is NaN or infinite; nothing of that update has been applied. */
export class NonFiniteLossError extends Error {
  constructor(
    readonly network: 'discriminator' | 'generator',
    readonly term: string,
    readonly value: number,
    readonly losses: Record<string, number>,
  ) {
    super(
      `The ${network} loss term "${term}" is ${value} (all terms: ${JSON.stringify(losses)}); ` +
        `the ${network} update was not applied. Lower the learning rate or the loss weights, or ` +
        `check the data for broken images.`,
    );
    this.name = 'NonFiniteLossError';
  }
}

/**
 * Every weight of a model (trainable and not, e.g. BatchNorm running statistics) under a key
 * that stays the same across processes: `<prefix>:<layer name>/<weight name>`.
 */
export function namedWeights(model: LayersModel, prefix: string): NamedParameter[] {
  return toNamed(model.weights, prefix, model.name);
}

/** The trainable weights of a model, keyed as {@link namedWeights}. */
export function namedTrainableWeights(model: LayersModel, prefix: string): NamedParameter[] {
  return toNamed(model.trainableWeights, prefix, model.name);
}

function toNamed(
  weights: LayersModel['weights'],
  prefix: string,
  modelName: string,
): NamedParameter[] {
  const seen = new Set<string>();
  return weights.map((w) => {
    const key = `${prefix}:${w.originalName}`;
    if (seen.has(key)) {
      throw new Error(
        `Model ${modelName} has two weights named ${w.originalName}; give its layers unique names.`,
      );
    }
    seen.add(key);
    return { key, variable: w.read() as tf.Variable };
  });
}

/**
 * Trains Tag2Pix as the published code does. One iteration ({@link trainStep}):
 * 1. CIT features from the frozen extractor, without gradient (unless the batch brings them);
 * 2. D step: `D(y)`, `G(x)` (training mode, not detached), `D(G(x))`; D loss (Eqs. 1/4);
 *    D's gradients; Adam step on D;
 * 3. G step: `G(x)` again, `D(G(x))` with the updated D; G loss (Eqs. 1/3/4); G's gradients;
 *    Adam step on G.
 * All forwards run in training mode, so D's BatchNorm running statistics update three times
 * and G's twice per iteration, as in PyTorch. The loss weights come from the scheduler's
 * current position, which the step advances.
 */
export class Tag2PixTrainer {
  readonly generator: LayersModel;
  readonly discriminator: LayersModel;
  readonly citExtractor?: LayersModel;
  readonly scheduler: ChangingLossScheduler<Tag2PixLossWeights>;
  readonly generatorOptimizer: TorchAdam;
  readonly discriminatorOptimizer: TorchAdam;
  private readonly discriminatorOutput: LossInput;
  private readonly checkFinite: boolean;
  private readonly gParams: NamedParameter[];
  /** False for a generator built without the CIT path (inputs `[lineArt, cvt]`). */
  private readonly usesCitFeatures: boolean;
  private readonly dParams: NamedParameter[];

  constructor(options: Tag2PixTrainerOptions) {
    if (!options || !options.generator || !options.discriminator) {
      throw new Error('Tag2PixTrainer: pass {generator, discriminator} (and a citExtractor unless batches bring citFeatures).');
    }
    this.generator = options.generator;
    this.discriminator = options.discriminator;
    this.citExtractor = options.citExtractor;
    this.scheduler = options.scheduler ?? ChangingLossScheduler.tag2pix();
    this.discriminatorOutput = options.discriminatorOutput ?? 'probabilities';
    this.checkFinite = options.checkFinite ?? true;
    this.generatorOptimizer = new TorchAdam(options.generatorOptimizer);
    this.discriminatorOptimizer = new TorchAdam(options.discriminatorOptimizer);
    this.usesCitFeatures = this.generator.inputs.length !== 2;
    this.gParams = namedTrainableWeights(this.generator, 'G');
    this.dParams = namedTrainableWeights(this.discriminator, 'D');
    namedWeights(this.generator, 'G');
    namedWeights(this.discriminator, 'D');
  }

  /** Trainable parameters of G and D under their keys (`G:…`, `D:…`). */
  get parameters(): { generator: NamedParameter[]; discriminator: NamedParameter[] } {
    return { generator: this.gParams.slice(), discriminator: this.dParams.slice() };
  }

  /**
   * One iteration (CIT features → D step → G step) with the scheduler's current weights; the
   * scheduler then advances one step. In a warm-up epoch (the schedule's `adversarial` is
   * false) the iteration is a G step on `λ_rec·L_rec` alone; the first adversarial step after a
   * warm-up restarts G's Adam moments (see {@link TorchAdam.reset}). Throws
   * {@link NonFiniteLossError} (before applying the update concerned) when a loss is not finite.
   */
  async trainStep(batch: Tag2PixBatch): Promise<Tag2PixStepResult> {
    const { result } = await this.runStep(batch, false);
    return result;
  }

  /**
   * {@link trainStep}, also returning gradients and outputs for inspection and tests. It
   * computes G's (discarded) gradients of the D loss too, so it is slower.
   */
  async trainStepWithInspection(batch: Tag2PixBatch): Promise<{
    result: Tag2PixStepResult;
    inspection: Tag2PixStepInspection;
  }> {
    const { result, inspection } = await this.runStep(batch, true);
    return { result, inspection: inspection! };
  }

  /** Marks the end of an epoch: the next step is step 0 of the next epoch. */
  endEpoch(): void {
    this.scheduler.advanceEpoch();
  }

  /** Generator outputs `[colour, guide]` in inference mode, for sample grids. */
  generate(lineArt: tf.Tensor4D, cvt: tf.Tensor2D, citFeatures?: tf.Tensor4D): [tf.Tensor4D, tf.Tensor4D] {
    return tf.tidy(() => {
      const inputs = this.usesCitFeatures ? [lineArt, citFeatures ?? this.extractFeatures(lineArt), cvt] : [lineArt, cvt];
      const out = this.generator.apply(inputs, { training: false }) as tf.Tensor[];
      return [out[0] as tf.Tensor4D, out[1] as tf.Tensor4D];
    });
  }

  /** Frees the optimizer states (the models stay the caller's). */
  dispose(): void {
    this.generatorOptimizer.dispose();
    this.discriminatorOptimizer.dispose();
  }

  /** Whether the previous position of the scheduler was a warm-up step. */
  private followsWarmup(): boolean {
    const { epoch, step } = this.scheduler;
    if (epoch === 0 && step === 0) return false;
    const previous = step > 0 ? this.scheduler.valuesAt(epoch, step - 1) : this.scheduler.valuesAt(epoch - 1, Number.MAX_SAFE_INTEGER);
    return previous.adversarial === false;
  }

  private extractFeatures(lineArt: tf.Tensor4D): tf.Tensor4D {
    if (!this.citExtractor) {
      throw new Error(
        'Tag2PixTrainer: the batch has no citFeatures and the trainer no citExtractor; pass ' +
          '{citExtractor: buildCITExtractor(...)} with pretrained weights, or add citFeatures to the batch.',
      );
    }
    const extractor = this.citExtractor;
    return tf.tidy(() => {
      const f = extractor.apply(lineArt, { training: false });
      return (Array.isArray(f) ? f[0] : f) as tf.Tensor4D;
    });
  }

  private checkBatch(batch: Tag2PixBatch): void {
    const problems: string[] = [];
    const n = batch.lineArt?.shape?.[0];
    const expectRank = (name: keyof Tag2PixBatch, rank: number) => {
      const t = batch[name];
      if (!t) problems.push(`${name} is missing`);
      else if (t.rank !== rank) problems.push(`${name} has rank ${t.rank}, expected ${rank}`);
      else if (t.shape[0] !== n) problems.push(`${name} has batch size ${t.shape[0]}, lineArt ${n}`);
    };
    expectRank('lineArt', 4);
    expectRank('colour', 4);
    expectRank('cit', 2);
    expectRank('cvt', 2);
    if (batch.citFeatures) expectRank('citFeatures', 4);
    if (problems.length > 0) {
      throw new Error(`Tag2PixTrainer.trainStep: bad batch: ${problems.join('; ')}.`);
    }
  }

  private async runStep(
    batch: Tag2PixBatch,
    inspect: boolean,
  ): Promise<{ result: Tag2PixStepResult; inspection?: Tag2PixStepInspection }> {
    this.checkBatch(batch);
    const weights = this.scheduler.current();
    const epoch = this.scheduler.epoch;
    const step = this.scheduler.step;
    if (weights.adversarial !== false && this.followsWarmup()) {
      // G's Adam moments were measured on the reconstruction loss alone; against the new
      // adversarial and classification gradients they make steps of about 16× the learning
      // rate, which undid a whole warm-up in our runs. Restart them.
      this.generatorOptimizer.reset();
    }
    const lossOptions = {
      input: this.discriminatorOutput,
      citWeight: weights.citWeight,
      cvtWeight: weights.cvtWeight,
      lambdaAdv: weights.lambdaAdv,
      lambdaRec: weights.lambdaRec,
      beta: weights.beta,
    };
    const targets = { cit: batch.cit, cvt: batch.cvt };
    const ownFeatures = this.usesCitFeatures && batch.citFeatures === undefined;
    const features = this.usesCitFeatures ? (batch.citFeatures ?? this.extractFeatures(batch.lineArt)) : undefined;
    const G = this.generator;
    const D = this.discriminator;
    const runD = (image: tf.Tensor): DiscriminatorHeads => {
      const outs = D.apply(image, { training: true }) as tf.Tensor[];
      // A discriminator built with outputs 'both' returns probabilities, then logits.
      const offset = outs.length === 6 && this.discriminatorOutput === 'logits' ? 3 : 0;
      const [adversarial, cit, cvt] = outs.slice(offset, offset + 3);
      return { adversarial, cit, cvt };
    };
    const gInputs = features ? [batch.lineArt, features, batch.cvt] : [batch.lineArt, batch.cvt];
    const runG = (): tf.Tensor[] => G.apply(gInputs, { training: true }) as tf.Tensor[];

    let inspection: Tag2PixStepInspection | undefined;
    const kept: tf.Tensor[] = [];
    const gradients: tf.NamedTensorMap[] = [];
    const keep = <T extends tf.Tensor>(t: T): T => {
      kept.push(tf.keep(t));
      return t;
    };
    try {
      // G's half of an iteration: forward, the given loss, gradients, finite check, Adam step.
      const generatorStep = async <T extends { total: tf.Scalar }>(
        loss: (colour: tf.Tensor, guide: tf.Tensor) => T,
      ): Promise<{ losses: Record<keyof T, number>; outputs: tf.Tensor[]; gradients: Record<string, tf.Tensor> }> => {
        let terms: T | undefined;
        let outputs: tf.Tensor[] = [];
        const result = variableGradsFreeingOnError(() => {
          const [colour, guide] = runG();
          if (inspect) outputs = [keep(colour), keep(guide)];
          terms = loss(colour, guide);
          for (const t of Object.values(terms)) keep(t as tf.Scalar);
          return terms.total;
        }, this.gParams.map((p) => p.variable));
        kept.push(result.value);
        gradients.push(result.grads);
        const grads = this.byKey(result.grads, this.gParams);
        const losses = (await this.readTerms(terms!)) as Record<keyof T, number>;
        if (this.checkFinite) this.assertFinite('generator', losses);
        const picked = inspect ? pick(grads, this.gParams, true) : {};
        this.generatorOptimizer.applyGradients(this.gParams, grads);
        return { losses, outputs, gradients: picked };
      };

      if (weights.adversarial === false) {
        // Reconstruction warm-up: G alone on λ_rec·L_rec; D, its optimizer and its BatchNorm
        // statistics are untouched, and D's terms are not computed (NaN).
        const g = await generatorStep((colour, guide) => {
          const rec = reconstructionLoss({ colour, guide }, batch.colour, { beta: weights.beta });
          return { l1Colour: rec.colour, l1Guide: rec.guide, total: tf.mul(rec.total, weights.lambdaRec) as tf.Scalar };
        });
        if (inspect) {
          inspection = {
            discriminatorGradients: {},
            generatorGradientsFromDiscriminatorLoss: {},
            generatorGradients: g.gradients,
            outputs: { gStepColour: tf.clone(g.outputs[0]!), gStepGuide: tf.clone(g.outputs[1]!) },
          };
        }
        this.scheduler.advanceStep();
        const none = NaN;
        const dLosses = { advReal: none, advFake: none, citReal: none, cvtReal: none, citFake: none, cvtFake: none, total: none };
        const gLosses = { adv: none, cit: none, cvt: none, ...g.losses };
        return { result: { epoch, step, weights, discriminator: dLosses, generator: gLosses }, inspection };
      }

      // D step.
      let dTerms: DiscriminatorLossTerms | undefined;
      let dStepColour: tf.Tensor | undefined;
      const dVariables = this.dParams.map((p) => p.variable);
      const dGradVariables = inspect ? [...dVariables, ...this.gParams.map((p) => p.variable)] : dVariables;
      // Only D's variables are differentiated here, so without inspection G runs outside the
      // tape: same values and BatchNorm updates, without a second recorded generator forward.
      const fakeOutside = inspect ? undefined : tf.tidy(() => runG()[0]);
      if (fakeOutside) kept.push(fakeOutside);
      const dResult = variableGradsFreeingOnError(() => {
        const real = runD(batch.colour);
        let fakeColour = fakeOutside;
        if (!fakeColour) {
          fakeColour = runG()[0];
          if (inspect) dStepColour = keep(fakeColour);
        }
        const fake = runD(fakeColour);
        dTerms = discriminatorLoss(real, fake, targets, lossOptions);
        for (const t of Object.values(dTerms)) keep(t);
        return dTerms.total;
      }, dGradVariables);
      kept.push(dResult.value);
      gradients.push(dResult.grads);
      const dGrads = this.byKey(dResult.grads, [...this.dParams, ...(inspect ? this.gParams : [])]);
      const dLosses = await this.readTerms(dTerms!);
      if (this.checkFinite) this.assertFinite('discriminator', dLosses);
      if (inspect) {
        inspection = {
          discriminatorGradients: pick(dGrads, this.dParams, true),
          generatorGradientsFromDiscriminatorLoss: pick(dGrads, this.gParams, true),
          generatorGradients: {},
          outputs: { dStepColour: tf.clone(dStepColour!), gStepColour: undefined!, gStepGuide: undefined! },
        };
      }
      this.discriminatorOptimizer.applyGradients(this.dParams, dGrads);

      // G step, against the updated D.
      const g = await generatorStep((colour, guide) => generatorLoss(runD(colour), { colour, guide }, batch.colour, targets, lossOptions));
      const gLosses = g.losses;
      if (inspection) {
        inspection.generatorGradients = g.gradients;
        inspection.outputs.gStepColour = tf.clone(g.outputs[0]!);
        inspection.outputs.gStepGuide = tf.clone(g.outputs[1]!);
      }

      this.scheduler.advanceStep();
      const result: Tag2PixStepResult = {
        epoch,
        step,
        weights,
        discriminator: dLosses as Tag2PixStepResult['discriminator'],
        generator: gLosses as Tag2PixStepResult['generator'],
      };
      return { result, inspection };
    } catch (e) {
      if (inspection) disposeInspection(inspection);
      throw e;
    } finally {
      tf.dispose(kept);
      for (const g of gradients) tf.dispose(Object.values(g));
      if (ownFeatures) features?.dispose();
    }
  }

  private byKey(grads: tf.NamedTensorMap, params: NamedParameter[]): Record<string, tf.Tensor> {
    const out: Record<string, tf.Tensor> = {};
    for (const p of params) {
      const g = grads[p.variable.name];
      if (g !== undefined) out[p.key] = g;
    }
    return out;
  }

  private async readTerms(terms: object): Promise<Record<string, number>> {
    const entries = Object.entries(terms) as Array<[string, tf.Scalar]>;
    const values = tf.tidy(() => tf.stack(entries.map(([, t]) => t)));
    const data = await values.data();
    values.dispose();
    return Object.fromEntries(entries.map(([k], i) => [k, data[i]]));
  }

  private assertFinite(network: 'discriminator' | 'generator', losses: Record<string, number>): void {
    for (const [term, value] of Object.entries(losses)) {
      if (!Number.isFinite(value)) throw new NonFiniteLossError(network, term, value, losses);
    }
  }
}

function pick(
  grads: Record<string, tf.Tensor>,
  params: NamedParameter[],
  clone: boolean,
): Record<string, tf.Tensor> {
  const out: Record<string, tf.Tensor> = {};
  for (const p of params) if (grads[p.key]) out[p.key] = clone ? tf.clone(grads[p.key]) : grads[p.key];
  return out;
}

/** Disposes every tensor of an inspection. */
export function disposeInspection(i: Tag2PixStepInspection): void {
  tf.dispose([
    ...Object.values(i.discriminatorGradients),
    ...Object.values(i.generatorGradientsFromDiscriminatorLoss),
    ...Object.values(i.generatorGradients),
    ...Object.values(i.outputs).filter((t) => t !== undefined),
  ]);
}
