// A tiny synthetic dataset on disk plus fixed starting weights for G and D, shared by the tests
// that run `tag2pix train` end to end (separate runs then start from the same point).
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll } from 'vitest';
import { writeSafetensors } from '../../src/io/safetensors.js';
import { exportTorchStateDict } from '../../src/io/torch_state_dict.js';
import { buildTag2PixDiscriminator, buildTag2PixGenerator } from '../../src/models/index.js';
import { writeSynthDataset } from '../../src/node/synth.js';

export const TRAIN_RUN_SIZE = 32;
/** The tiny models every such run trains (train options `layers`, `widthMultiplier`, `cit`). */
export const TRAIN_RUN_MODEL = { layers: [1, 1, 1, 1] as [number, number, number, number], widthMultiplier: 0.25, cit: false };

export interface TrainRunFixture {
  /** Temporary folder holding everything; remove it when done. */
  root: string;
  /** The synthetic dataset folder. */
  data: string;
  /** `[g.safetensors, d.safetensors]`: starting weights for `--init`. */
  init: string[];
}

export async function makeTrainRunFixture(prefix: string, count: number, seed: number): Promise<TrainRunFixture> {
  const root = await fs.mkdtemp(path.join(os.tmpdir(), prefix));
  const data = path.join(root, 'data');
  await writeSynthDataset({ out: data, count, size: TRAIN_RUN_SIZE, seed });
  const { layers, widthMultiplier } = TRAIN_RUN_MODEL;
  const G = buildTag2PixGenerator({ inputSize: TRAIN_RUN_SIZE, decoderLayers: layers, widthMultiplier, citFeatures: false });
  const D = buildTag2PixDiscriminator({ inputSize: TRAIN_RUN_SIZE, widthMultiplier });
  const init = [path.join(root, 'g.safetensors'), path.join(root, 'd.safetensors')];
  for (const [model, file] of [[G, init[0]!], [D, init[1]!]] as const) {
    const dict = exportTorchStateDict(model);
    await fs.writeFile(file, writeSafetensors(dict));
    tf.dispose(Object.values(dict));
    model.dispose();
  }
  return { root, data, init };
}

/**
 * Registers `beforeAll`/`afterAll` hooks that make a {@link makeTrainRunFixture} for the calling
 * test file and remove it afterwards; the returned object is filled in before the first test.
 */
export function useTrainRunFixture(prefix: string, count: number, seed: number): TrainRunFixture {
  const fixture: TrainRunFixture = { root: '', data: '', init: [] };
  beforeAll(async () => {
    Object.assign(fixture, await makeTrainRunFixture(prefix, count, seed));
  });
  afterAll(async () => {
    if (fixture.root) await fs.rm(fixture.root, { recursive: true, force: true });
  });
  return fixture;
}
