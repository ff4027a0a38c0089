import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { generateCharacter, synthBatch } from '../../src/data/synth/index.js';
import { DEMO_PALETTE, heldOutPairs, isHeldOut } from '../../src/demo/config.js';
import { PACKAGED_TAG_GUIDE_STEPS } from '../../src/demo/packaged_tag_guide.js';
import {
  loadPackagedTagGuide,
  PACKAGED_TAG_GUIDE_RECIPE,
  pretrainPackagedTagGuide,
} from '../../src/demo/tag_guide_pretrain.js';
import { defaultVocabulary } from '../../src/data/tags.js';

/** Share of `characters` whose `family` tag has the highest logit among the family's demo colours. */
function familyAccuracy(logits: number[][], characters: ReturnType<typeof generateCharacter>[], family: 'hair' | 'eyes'): number {
  const vocab = defaultVocabulary();
  const tags = DEMO_PALETTE[family];
  const index = tags.map((t) => Array.from(vocab.encode([t]).cvt).indexOf(1));
  let right = 0;
  characters.forEach((c, i) => {
    const best = index.reduce((b, k, j) => (logits[i]![k]! > logits[i]![index[b]!]! ? j : b), 0);
    if (tags[best] === c.familyTags[family]) right++;
  });
  return right / characters.length;
}

describe('the packaged tag guide', () => {
  it('holds the weights of its recipe, and reads hair and eyes of held-out characters and unseen tag pairs', async () => {
    expect(PACKAGED_TAG_GUIDE_STEPS).toBe(PACKAGED_TAG_GUIDE_RECIPE.steps);
    const before = tf.memory().numTensors;
    const model = await loadPackagedTagGuide();
    const pairs = heldOutPairs();
    const options = { size: 64, colorChoices: DEMO_PALETTE };
    // The demo's (seed 1) held-out characters and never-seen tag pairs, which the classifier's
    // training (seed 5001, held-out pairs rejected) did not contain.
    const heldOut = Array.from({ length: 32 }, (_, i) => generateCharacter(i, { ...options, seed: 1001, reject: (s) => isHeldOut(s, pairs) }));
    const unseen = Array.from({ length: 32 }, (_, i) => generateCharacter(i, { ...options, seed: 2001, reject: (s) => !isHeldOut(s, pairs) }));
    // Measured on all 128 of each: hair 100 % / 91 %, eyes 100 % / 73 % (chance 10 % and 16.7 %).
    for (const [set, least] of [[heldOut, { hair: 0.9, eyes: 0.9 }], [unseen, { hair: 0.75, eyes: 0.6 }]] as const) {
      const batch = synthBatch(set);
      const logits = tf.tidy(() => (model.apply(batch.color) as tf.Tensor).arraySync() as number[][]);
      tf.dispose([batch.lineArt, batch.color, batch.cit, batch.cvt]);
      expect(familyAccuracy(logits, set, 'hair')).toBeGreaterThanOrEqual(least.hair);
      expect(familyAccuracy(logits, set, 'eyes')).toBeGreaterThanOrEqual(least.eyes);
    }
    model.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });

  it('refuses weights of another length, naming the command that regenerates them, leaking nothing', async () => {
    const before = tf.memory().numTensors;
    await expect(loadPackagedTagGuide(btoa('\0\0\0\0\0\0\0\0'))).rejects.toThrow(
      /hold 2 values, the classifier has [\d]+; regenerate src\/demo\/packaged_tag_guide.ts with npx tsx tools\/pretrain_tag_guide.ts/,
    );
    expect(tf.memory().numTensors).toBe(before);
  });

  it('is reproducible: its recipe gives the same weights twice', async () => {
    const weights = async () => {
      const model = await pretrainPackagedTagGuide({ steps: 2 });
      const values = model.getWeights().map((w) => Array.from(w.dataSync()));
      model.dispose();
      return values;
    };
    expect(await weights()).toEqual(await weights());
  });
});
