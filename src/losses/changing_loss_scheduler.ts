/** Values a schedule hands out: loss weights (numbers) and switches (booleans). */
export type ScheduleValues = Record<string, number | boolean>;

/** From a point in training on, some values change. */
export interface LossStage<V extends ScheduleValues> {
  /** Name shown in logs, e.g. `colourisation`. */
  name: string;
  /** First epoch (0-based) in which the stage is in force. */
  fromEpoch: number;
  /** First step (0-based, within `fromEpoch`) in which the stage is in force (default 0). */
  fromStep?: number;
  /** The values this stage sets; the others keep the values of earlier stages. */
  values: Partial<V>;
}

/** Configuration of a {@link ChangingLossScheduler}. */
export interface ChangingLossSchedulerConfig<V extends ScheduleValues> {
  /** Name of the initial stage (default `initial`). */
  initialName?: string;
  /** Values in force before any stage starts. */
  initial: V;
  /** Stages, applied in order of their start. */
  stages?: LossStage<V>[];
}

/** The values in force at one point in training and the stage they come from. */
export type ScheduledValues<V extends ScheduleValues> = V & { stage: string };

/** Serialised form of a scheduler: its configuration and where training is. */
export interface ChangingLossSchedulerJSON<V extends ScheduleValues> {
  config: ChangingLossSchedulerConfig<V>;
  epoch: number;
  step: number;
  globalStep: number;
}

/** The loss weights and switches of Tag2Pix's two-step training with changing loss. */
export interface Tag2PixLossWeights extends ScheduleValues {
  /** Weight of the CIT classification terms (0 in the segmentation step). */
  citWeight: number;
  /** Weight of the CVT classification terms (0 in the segmentation step). */
  cvtWeight: number;
  /** λ_rec, weight of the reconstruction loss in the generator loss. */
  lambdaRec: number;
  /** β, weight of the guide decoder's L1 term. */
  beta: number;
  /** λ_adv, weight of the discriminator's adversarial terms. */
  lambdaAdv: number;
  /** Whether the line-art jitter uses the strong brightness range U(1, 7). */
  brightnessStage: boolean;
  /**
   * Whether iterations are adversarial (a D step, then G on the whole loss). False in a
   * reconstruction warm-up: no D step, and G minimises λ_rec·L_rec alone. Schedules saved before
   * the warm-up existed lack it; the trainer takes that as true.
   */
  adversarial: boolean;
}

/**
 * Options of {@link ChangingLossScheduler.tag2pix}; the defaults are the published ones. Epoch
 * options count epochs from 1 like the published `--two_step_epoch` / `--brightness_epoch`
 * flags (the scheduler's own positions are 0-based).
 */
export interface Tag2PixScheduleOptions {
  /**
   * First epoch, counted from 1, with the classification losses: epochs 1 … twoStepEpoch − 1
   * are the segmentation step. 0 or 1 = from the start (default 10, the published 256 px run).
   */
  twoStepEpoch?: number;
  /** First epoch, counted from 1, of the brightness stage; `null` or 0 = never (default). */
  brightnessEpoch?: number | null;
  /** CIT weight from `twoStepEpoch` on (default 1; the published runs use 40). */
  citWeight?: number;
  /** CVT weight from `twoStepEpoch` on (default 1; the published runs use 40). */
  cvtWeight?: number;
  /** λ_rec (default 1000). */
  lambdaRec?: number;
  /** β (default 0.9). */
  beta?: number;
  /** λ_adv (default 1). */
  lambdaAdv?: number;
  /**
   * Epochs, from the first, in which G trains on the reconstruction loss alone, without D
   * (default 0: the published recipe has no warm-up). A warm-up step costs less than half an
   * adversarial one, which helps short runs. `twoStepEpoch` still counts from epoch 1.
   */
  warmupEpochs?: number;
}

/**
 * Hands out loss weights that change in stages as training goes on ("changing loss"
 * curriculum). It keeps the position in training (epoch, step within the epoch, global step),
 * so `current()` gives the values in force, and it serialises with `toJSON` / `fromJSON` so that a
 * resumed run continues in the same stage and step.
 *
 * Tag2Pix's two-step curriculum is `ChangingLossScheduler.tag2pix(...)`; any other schedule is
 * a set of initial values and stages, e.g. a warm-up that turns a perceptual loss on after two
 * epochs and halves the L1 weight after ten:
 *
 * ```ts
 * const s = new ChangingLossScheduler({
 *   initial: { l1: 100, perceptual: 0 },
 *   stages: [
 *     { name: 'perceptual', fromEpoch: 2, values: { perceptual: 10 } },
 *     { name: 'fine', fromEpoch: 10, values: { l1: 50 } },
 *   ],
 * });
 * s.valuesAt(5); // { l1: 100, perceptual: 10, stage: 'perceptual' }
 * ```
 */
export class ChangingLossScheduler<V extends ScheduleValues = Tag2PixLossWeights> {
  readonly config: ChangingLossSchedulerConfig<V>;
  private stagesInOrder: LossStage<V>[];
  private epochValue = 0;
  private stepValue = 0;
  private globalStepValue = 0;

  constructor(config: ChangingLossSchedulerConfig<V>) {
    validateConfig(config);
    this.config = structuredClone(config);
    this.stagesInOrder = (this.config.stages ?? [])
      .map((s, i) => ({ s, i }))
      .sort(
        (a, b) =>
          a.s.fromEpoch - b.s.fromEpoch || (a.s.fromStep ?? 0) - (b.s.fromStep ?? 0) || a.i - b.i,
      )
      .map(({ s }) => s);
  }

  /**
   * Tag2Pix's schedule: classification weights 0 before `twoStepEpoch` (segmentation), then
   * `citWeight`/`cvtWeight` (colourisation); the brightness stage from `brightnessEpoch`. Both
   * count epochs from 1 as the published flags do: `twoStepEpoch: 10` makes epochs 1–9 (positions
   * 0–8) the segmentation step. `warmupEpochs` puts a reconstruction-only warm-up (`adversarial:
   * false`) before all of it.
   */
  static tag2pix(options: Tag2PixScheduleOptions = {}): ChangingLossScheduler<Tag2PixLossWeights> {
    const twoStepEpoch = options.twoStepEpoch ?? 10;
    const brightnessEpoch = options.brightnessEpoch ?? 0;
    const warmupEpochs = options.warmupEpochs ?? 0;
    for (const [name, v] of [['twoStepEpoch', twoStepEpoch], ['brightnessEpoch', brightnessEpoch], ['warmupEpochs', warmupEpochs]] as const) {
      if (!Number.isInteger(v) || v < 0) {
        const what = name === 'warmupEpochs' ? 'a number of epochs' : 'an epoch counted from 1';
        throw new Error(`ChangingLossScheduler.tag2pix: ${name} must be an integer >= 0 (${what}), got ${String(v)}.`);
      }
    }
    // The published loop counts epochs from 1 and tests `epoch >= two_step_epoch` and
    // `epoch == brightness_epoch`; our positions count from 0.
    const classificationFrom = Math.max(0, twoStepEpoch - 1);
    const weights = {
      citWeight: options.citWeight ?? 1,
      cvtWeight: options.cvtWeight ?? 1,
    };
    const stages: LossStage<Tag2PixLossWeights>[] = [];
    // The classification weights only matter once D trains, so a warm-up that outlasts the
    // segmentation step ends straight in colourisation.
    if (warmupEpochs > 0) {
      const segmentationFollows = classificationFrom > warmupEpochs;
      stages.push({
        name: segmentationFollows ? 'segmentation' : 'colourisation',
        fromEpoch: warmupEpochs,
        values: segmentationFollows || classificationFrom === 0 ? { adversarial: true } : { adversarial: true, ...weights },
      });
    }
    if (classificationFrom > warmupEpochs) stages.push({ name: 'colourisation', fromEpoch: classificationFrom, values: weights });
    if (brightnessEpoch > 0) {
      stages.push({ name: 'brightness', fromEpoch: brightnessEpoch - 1, values: { brightnessStage: true } });
    }
    return new ChangingLossScheduler<Tag2PixLossWeights>({
      initialName: warmupEpochs > 0 ? 'warm-up' : classificationFrom > 0 ? 'segmentation' : 'colourisation',
      initial: {
        ...(classificationFrom > 0 ? { citWeight: 0, cvtWeight: 0 } : weights),
        lambdaRec: options.lambdaRec ?? 1000,
        beta: options.beta ?? 0.9,
        lambdaAdv: options.lambdaAdv ?? 1,
        brightnessStage: false,
        adversarial: warmupEpochs === 0,
      },
      stages,
    });
  }

  /** Current epoch (0-based). */
  get epoch(): number {
    return this.epochValue;
  }

  /** Current step within the epoch (0-based). */
  get step(): number {
    return this.stepValue;
  }

  /** Steps taken since the start of training. */
  get globalStep(): number {
    return this.globalStepValue;
  }

  /** The values in force at `epoch` (0-based) and `step` within it. */
  valuesAt(epoch: number, step = 0): ScheduledValues<V> {
    if (!Number.isInteger(epoch) || epoch < 0 || !Number.isInteger(step) || step < 0) {
      throw new Error(
        `ChangingLossScheduler.valuesAt: epoch and step must be integers >= 0, got ${epoch}, ${step}.`,
      );
    }
    const values = { ...this.config.initial } as V;
    let stage = this.config.initialName ?? 'initial';
    for (const s of this.stagesInOrder) {
      const started = epoch > s.fromEpoch || (epoch === s.fromEpoch && step >= (s.fromStep ?? 0));
      if (!started) break;
      Object.assign(values, s.values);
      stage = s.name;
    }
    return { ...values, stage };
  }

  /** The values in force now. */
  current(): ScheduledValues<V> {
    return this.valuesAt(this.epochValue, this.stepValue);
  }

  /** Records that one training step has been taken. */
  advanceStep(): void {
    this.stepValue++;
    this.globalStepValue++;
  }

  /** Records that the epoch has ended: the next step is step 0 of the next epoch. */
  advanceEpoch(): void {
    this.epochValue++;
    this.stepValue = 0;
  }

  toJSON(): ChangingLossSchedulerJSON<V> {
    return {
      config: structuredClone(this.config),
      epoch: this.epochValue,
      step: this.stepValue,
      globalStep: this.globalStepValue,
    };
  }

  /** Restores a scheduler saved with `toJSON` (or its JSON string), position included. */
  static fromJSON<V extends ScheduleValues = Tag2PixLossWeights>(
    json: ChangingLossSchedulerJSON<V> | string,
  ): ChangingLossScheduler<V> {
    const data = (typeof json === 'string' ? JSON.parse(json) : json) as ChangingLossSchedulerJSON<V>;
    if (data === null || typeof data !== 'object' || data.config === undefined) {
      throw new Error('ChangingLossScheduler.fromJSON: expected the object written by toJSON().');
    }
    const s = new ChangingLossScheduler<V>(data.config);
    for (const k of ['epoch', 'step', 'globalStep'] as const) {
      if (!Number.isInteger(data[k]) || data[k] < 0) {
        throw new Error(`ChangingLossScheduler.fromJSON: "${k}" must be an integer >= 0, got ${String(data[k])}.`);
      }
    }
    s.epochValue = data.epoch;
    s.stepValue = data.step;
    s.globalStepValue = data.globalStep;
    return s;
  }
}

function validateConfig<V extends ScheduleValues>(config: ChangingLossSchedulerConfig<V>): void {
  if (config === null || typeof config !== 'object' || typeof config.initial !== 'object') {
    throw new Error('ChangingLossScheduler: the config needs an "initial" object of values.');
  }
  const check = (where: string, values: Partial<V>) => {
    for (const [k, v] of Object.entries(values)) {
      if (typeof v === 'boolean') continue;
      if (typeof v !== 'number' || !Number.isFinite(v)) {
        throw new Error(`ChangingLossScheduler: ${where}.${k} must be a finite number or a boolean, got ${String(v)}.`);
      }
      if (!(k in config.initial)) {
        throw new Error(`ChangingLossScheduler: ${where} sets "${k}", which "initial" does not define; add it there.`);
      }
    }
  };
  check('initial', config.initial);
  (config.stages ?? []).forEach((s, i) => {
    if (!Number.isInteger(s.fromEpoch) || s.fromEpoch < 0) {
      throw new Error(`ChangingLossScheduler: stages[${i}].fromEpoch must be an integer >= 0, got ${String(s.fromEpoch)}.`);
    }
    if (s.fromStep !== undefined && (!Number.isInteger(s.fromStep) || s.fromStep < 0)) {
      throw new Error(`ChangingLossScheduler: stages[${i}].fromStep must be an integer >= 0, got ${String(s.fromStep)}.`);
    }
    check(`stages[${i}] ("${s.name}")`, s.values);
  });
}
