import * as tf from '@tensorflow/tfjs-core';
import type { LayersModel } from '@tensorflow/tfjs-layers';
import { variableGradsFreeingOnError } from '../kernels/variable_grads.js';
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
import type { Tag2PixBatch } from './batch.js';

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
  /**
   * A frozen colour-tag classifier (colour image in [-1, 1] → CVT logits) whose sigmoid
   * cross-entropy against the batch's CVT tags, times `weight`, joins G's loss in warm-up steps:
   * the classification term of the published G loss, with a pretrained classifier standing in
   * for D's CVT head, which the warm-up does not train. Absent: warm-up steps are L1 alone.
   */
  warmupTagGuide?: { model: LayersModel; weight: number };
}

/** Loss terms of one iteration as numbers. */
export interface Tag2PixStepLosses {
  /**
   * In a warm-up step (`adversarial: false` in the schedule) only the generator's L1 terms and
   * total are computed (and `tagGuide` with a warm-up tag guide); every other term is NaN.
   */
  discriminator: Record<keyof DiscriminatorLossTerms, number>;
  /**
   * With a warm-up tag guide, warm-up steps also carry `tagGuide` (its unweighted cross-entropy),
   * read as `(result.generator as Record<string, number>)['tagGuide']`.
   */
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
  outputs: { dStepColor?: tf.Tensor; gStepColor: tf.Tensor; gStepGuide: tf.Tensor };
}

/**
 * Watches the inside of a step ({@link Tag2PixTrainer.trainStep}'s optional second argument), for
 * tests, debugging and visualisation. Every tensor it is shown is borrowed: valid during the
 * call only, so clone what you keep (see {@link Tag2PixTrainer.trainStepWithInspection}).
 */
export interface Tag2PixStepObserver {
  /**
   * Also differentiate the D loss with respect to G's weights, as the published code does before
   * discarding them (G's output is not detached in its D step). Slower; the results are the same.
   */
  readonly generatorGradientsFromDiscriminatorLoss?: boolean;
  /** After the D backward, before D's Adam step (not called in a warm-up step). */
  discriminatorStep?(view: {
    /** D's gradients by parameter key. */
    gradients: Record<string, tf.Tensor>;
    /** G's gradients of the D loss, when asked for (see above). */
    generatorGradients?: Record<string, tf.Tensor>;
    /** G's colour output that D judged. */
    fakeColor: tf.Tensor;
    losses: Record<keyof DiscriminatorLossTerms, number>;
  }): void;
  /** After the G backward, before G's Adam step. */
  generatorStep?(view: {
    /** G's gradients by parameter key. */
    gradients: Record<string, tf.Tensor>;
    /** G's outputs in this step. */
    color: tf.Tensor;
    guide: tf.Tensor;
    losses: Record<string, number>;
  }): void;
}

/** What a step's halves share. */
interface StepContext {
  batch: Tag2PixBatch;
  /** CIT features (absent for a generator without the CIT path). */
  features?: tf.Tensor4D;
  weights: ScheduledValues<Tag2PixLossWeights>;
  observer?: Tag2PixStepObserver;
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
  private readonly warmupTagGuide?: { model: LayersModel; weight: number };

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
    if (options.warmupTagGuide !== undefined) {
      const w = options.warmupTagGuide.weight;
      if (!(typeof w === 'number' && Number.isFinite(w) && w >= 0)) {
        throw new Error(`Tag2PixTrainer: warmupTagGuide.weight must be a finite number >= 0, got ${String(w)}.`);
      }
      this.warmupTagGuide = options.warmupTagGuide;
    }
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
   * An `observer` is shown the gradients and outputs of each half (see {@link Tag2PixStepObserver}).
   */
  async trainStep(batch: Tag2PixBatch, observer?: Tag2PixStepObserver): Promise<Tag2PixStepResult> {
    this.checkBatch(batch);
    const weights = this.scheduler.current();
    const { epoch, step } = this.scheduler;
    const adversarial = weights.adversarial !== false;
    if (adversarial && this.followsWarmup()) {
      // G's Adam moments were measured on the reconstruction loss alone; against the new
      // adversarial and classification gradients they make steps of about 16× the learning
      // rate, which undid a whole warm-up in our runs. Restart them.
      this.generatorOptimizer.reset();
    }
    const ownFeatures = this.usesCitFeatures && batch.citFeatures === undefined;
    const features = this.usesCitFeatures ? (batch.citFeatures ?? this.extractFeatures(batch.lineArt)) : undefined;
    const context: StepContext = { batch, features, weights, observer };
    try {
      if (!adversarial) {
        // Reconstruction warm-up: G alone on λ_rec·L_rec; D, its optimizer and its BatchNorm
        // statistics are untouched, and D's terms are not computed (NaN).
        const g = await this.generatorStep(context);
        this.scheduler.advanceStep();
        const none = NaN;
        const discriminator = { advReal: none, advFake: none, citReal: none, cvtReal: none, citFake: none, cvtFake: none, total: none };
        const generator = { adv: none, cit: none, cvt: none, ...g } as Tag2PixStepResult['generator'];
        return { epoch, step, weights, discriminator, generator };
      }
      const discriminator = await this.discriminatorStep(context);
      // G's half runs against the updated D.
      const generator = (await this.generatorStep(context)) as Tag2PixStepResult['generator'];
      this.scheduler.advanceStep();
      return { epoch, step, weights, discriminator, generator };
    } finally {
      if (ownFeatures) features?.dispose();
    }
  }

  /**
   * {@link trainStep}, also returning (copies of) the gradients and outputs of both halves, for
   * inspection and tests. It computes G's (discarded) gradients of the D loss too, so it is
   * slower. Free the inspection with {@link disposeInspection}.
   */
  async trainStepWithInspection(batch: Tag2PixBatch): Promise<{
    result: Tag2PixStepResult;
    inspection: Tag2PixStepInspection;
  }> {
    const clones = (m: Record<string, tf.Tensor>) => Object.fromEntries(Object.entries(m).map(([k, t]) => [k, tf.clone(t)]));
    const outputs: Partial<Tag2PixStepInspection['outputs']> = {};
    const inspection: Omit<Partial<Tag2PixStepInspection>, 'outputs'> & { outputs: typeof outputs } = {
      discriminatorGradients: {},
      generatorGradientsFromDiscriminatorLoss: {},
      generatorGradients: {},
      outputs,
    };
    try {
      const result = await this.trainStep(batch, {
        generatorGradientsFromDiscriminatorLoss: true,
        discriminatorStep: (v) => {
          inspection.discriminatorGradients = clones(v.gradients);
          inspection.generatorGradientsFromDiscriminatorLoss = clones(v.generatorGradients ?? {});
          inspection.outputs.dStepColor = tf.clone(v.fakeColor);
        },
        generatorStep: (v) => {
          inspection.generatorGradients = clones(v.gradients);
          inspection.outputs.gStepColor = tf.clone(v.color);
          inspection.outputs.gStepGuide = tf.clone(v.guide);
        },
      });
      return { result, inspection: inspection as Tag2PixStepInspection };
    } catch (e) {
      disposeInspection(inspection as Tag2PixStepInspection);
      throw e;
    }
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
    const ranks: Record<keyof Tag2PixBatch, number> = { lineArt: 4, color: 4, cit: 2, cvt: 2, citFeatures: 4, pixelWeights: 4 };
    for (const [name, rank] of Object.entries(ranks) as Array<[keyof Tag2PixBatch, number]>) {
      const t = batch[name];
      if (!t) {
        if (name !== 'citFeatures' && name !== 'pixelWeights') problems.push(`${name} is missing`);
      } else if (t.rank !== rank) problems.push(`${name} has rank ${t.rank}, expected ${rank}`);
      else if (t.shape[0] !== n) problems.push(`${name} has batch size ${t.shape[0]}, lineArt ${n}`);
    }
    const w = batch.pixelWeights;
    const c = batch.color;
    if (w && c && w.rank === 4 && c.rank === 4 && (w.shape[1] !== c.shape[1] || w.shape[2] !== c.shape[2] || w.shape[3] !== 1)) {
      problems.push(`pixelWeights has shape [${w.shape.join(', ')}], expected [${n}, ${c.shape[1]}, ${c.shape[2]}, 1]`);
    }
    if (problems.length > 0) {
      throw new Error(`Tag2PixTrainer.trainStep: bad batch: ${problems.join('; ')}.`);
    }
  }

  /** G's forward in training mode: `[colour, guide]`. */
  private runGenerator(c: StepContext): tf.Tensor[] {
    const inputs = c.features ? [c.batch.lineArt, c.features, c.batch.cvt] : [c.batch.lineArt, c.batch.cvt];
    return this.generator.apply(inputs, { training: true }) as tf.Tensor[];
  }

  /** D's forward in training mode: the heads the losses read. */
  private runDiscriminator(image: tf.Tensor): DiscriminatorHeads {
    const outs = this.discriminator.apply(image, { training: true }) as tf.Tensor[];
    // A discriminator built with outputs 'both' returns probabilities, then logits.
    const offset = outs.length === 6 && this.discriminatorOutput === 'logits' ? 3 : 0;
    const [adversarial, cit, cvt] = outs.slice(offset, offset + 3);
    return { adversarial: adversarial!, cit: cit!, cvt: cvt! };
  }

  /** The loss options of the scheduled weights. */
  private lossOptions(w: ScheduledValues<Tag2PixLossWeights>) {
    return {
      input: this.discriminatorOutput,
      citWeight: w.citWeight,
      cvtWeight: w.cvtWeight,
      lambdaAdv: w.lambdaAdv,
      lambdaRec: w.lambdaRec,
      beta: w.beta,
    };
  }

  /**
   * D's half of an iteration: `D(y)`, `G(x)` (training mode), `D(G(x))`; the D loss; D's
   * gradients; finite check; Adam step on D.
   */
  private async discriminatorStep(c: StepContext): Promise<Record<keyof DiscriminatorLossTerms, number>> {
    const withG = c.observer?.generatorGradientsFromDiscriminatorLoss === true;
    const kept: tf.Tensor[] = [];
    let grads: tf.NamedTensorMap = {};
    try {
      const params = withG ? [...this.dParams, ...this.gParams] : this.dParams;
      // Only D's variables are differentiated, so unless G's gradients are asked for, G runs
      // outside the tape: same values and BatchNorm updates, without a recorded G forward.
      let fake = withG ? undefined : tf.tidy(() => this.runGenerator(c)[0]!);
      if (fake) kept.push(fake);
      let terms: DiscriminatorLossTerms | undefined;
      const result = variableGradsFreeingOnError(() => {
        const real = this.runDiscriminator(c.batch.color);
        if (!fake) kept.push((fake = tf.keep(this.runGenerator(c)[0]!)));
        terms = discriminatorLoss(real, this.runDiscriminator(fake), { cit: c.batch.cit, cvt: c.batch.cvt }, this.lossOptions(c.weights));
        for (const t of Object.values(terms)) kept.push(tf.keep(t));
        return terms.total;
      }, params.map((p) => p.variable));
      kept.push(result.value);
      grads = result.grads;
      const byKey = this.byKey(grads, params);
      const losses = (await this.readTerms(terms!)) as Record<keyof DiscriminatorLossTerms, number>;
      if (this.checkFinite) this.assertFinite('discriminator', losses);
      c.observer?.discriminatorStep?.({
        gradients: pick(byKey, this.dParams),
        generatorGradients: withG ? pick(byKey, this.gParams) : undefined,
        fakeColor: fake!,
        losses,
      });
      this.discriminatorOptimizer.applyGradients(this.dParams, byKey);
      return losses;
    } finally {
      tf.dispose(kept);
      tf.dispose(Object.values(grads));
    }
  }

  /**
   * G's half of an iteration: `G(x)`; the G loss against the (updated) D, or `λ_rec·L_rec` alone
   * in a warm-up step; G's gradients; finite check; Adam step on G.
   */
  private async generatorStep(c: StepContext): Promise<Record<string, number>> {
    const warmup = c.weights.adversarial === false;
    const kept: tf.Tensor[] = [];
    let grads: tf.NamedTensorMap = {};
    try {
      let terms: Record<string, tf.Scalar> | undefined;
      let outputs: tf.Tensor[] = [];
      const result = variableGradsFreeingOnError(() => {
        const [color, guide] = this.runGenerator(c) as [tf.Tensor, tf.Tensor];
        if (c.observer?.generatorStep) kept.push(...(outputs = [tf.keep(color), tf.keep(guide)]));
        if (warmup) {
          const rec = reconstructionLoss({ color, guide }, c.batch.color, { beta: c.weights.beta, pixelWeights: c.batch.pixelWeights });
          terms = { l1Color: rec.color, l1Guide: rec.guide, total: tf.mul(rec.total, c.weights.lambdaRec) as tf.Scalar };
          if (this.warmupTagGuide) {
            const logits = this.warmupTagGuide.model.apply(color, { training: false }) as tf.Tensor;
            const tagGuide = tf.losses.sigmoidCrossEntropy(c.batch.cvt, logits) as tf.Scalar;
            terms = { ...terms, tagGuide, total: tf.add(terms['total']!, tf.mul(tagGuide, this.warmupTagGuide.weight)) as tf.Scalar };
          }
        } else {
          const targets = { cit: c.batch.cit, cvt: c.batch.cvt };
          terms = { ...generatorLoss(this.runDiscriminator(color), { color, guide }, c.batch.color, targets, { ...this.lossOptions(c.weights), pixelWeights: c.batch.pixelWeights }) };
        }
        for (const t of Object.values(terms)) kept.push(tf.keep(t));
        return terms['total']!;
      }, this.gParams.map((p) => p.variable));
      kept.push(result.value);
      grads = result.grads;
      const byKey = this.byKey(grads, this.gParams);
      const losses = await this.readTerms(terms!);
      if (this.checkFinite) this.assertFinite('generator', losses);
      c.observer?.generatorStep?.({ gradients: pick(byKey, this.gParams), color: outputs[0]!, guide: outputs[1]!, losses });
      this.generatorOptimizer.applyGradients(this.gParams, byKey);
      return losses;
    } finally {
      tf.dispose(kept);
      tf.dispose(Object.values(grads));
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

/** The gradients of `params`, by key. */
function pick(grads: Record<string, tf.Tensor>, params: NamedParameter[]): Record<string, tf.Tensor> {
  const out: Record<string, tf.Tensor> = {};
  for (const p of params) if (grads[p.key]) out[p.key] = grads[p.key]!;
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
