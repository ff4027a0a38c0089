// The demo page's weights: the library's loadColorizer reads the files; the page adds the demo's
// CIT stand-in for a demo checkpoint and one line describing what it loaded.
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it, vi } from 'vitest';
import { buildCITExtractor, buildTag2PixGenerator, exportTorchStateDict } from '../../src/index.js';
import { writeSafetensors } from '../../src/io/index.js';
import { loadWeightFiles } from '../../examples/web/src/model.js';

// The page imports 'tag2pix' and 'tag2pix/io' (mapped to the source by Vite and tsconfig); here they are the source.
vi.mock('tag2pix', () => import('../../src/index.js'));
vi.mock('tag2pix/io', () => import('../../src/io/index.js'));

/** A model's PyTorch state dict as a File (the model is disposed). */
function modelFile(name: string, model: ReturnType<typeof buildTag2PixGenerator>): File {
  const f = file(name, exportTorchStateDict(model));
  model.dispose();
  return f;
}

function file(name: string, tensors: Record<string, tf.Tensor>, metadata?: Record<string, string>): File {
  const bytes = writeSafetensors(tensors, metadata);
  tf.dispose(Object.values(tensors));
  return new File([bytes.slice()], name);
}

/** A training checkpoint's generator weights (G:<weight name>), demo or not. */
function checkpoint(demo: boolean, citChannels: number): File {
  const generator = buildTag2PixGenerator({ inputSize: 32, widthMultiplier: 0.5, decoderLayers: [2, 1, 1, 1], citChannels });
  const tensors: Record<string, tf.Tensor> = {};
  for (const w of generator.weights) tensors[`G:${w.originalName}`] = tf.clone(w.read());
  generator.dispose();
  return file('checkpoint.safetensors', tensors, {
    tag2pix_checkpoint: 'tag2pix-training-checkpoint/1',
    state: JSON.stringify({ config: { demo, size: 32 } }),
  });
}

describe('loadWeightFiles (demo page)', () => {
  it('describes a generator and CIT extractor in one line, and disposes them', async () => {
    const g = modelFile('g.safetensors', buildTag2PixGenerator({ inputSize: 32, widthMultiplier: 0.125, decoderLayers: [1, 1, 1, 1] }));
    const c = modelFile('cit.safetensors', buildCITExtractor({ inputSize: 32 }));
    const before = tf.memory().numTensors;
    const fractions: number[] = [];
    const models = await loadWeightFiles([c, g], (fraction) => fractions.push(fraction));
    expect(models.summary).toBe('g.safetensors + cit.safetensors: generator 32 px, width × 0.125, decoder blocks [1, 1, 1, 1], with CIT extractor');
    expect(fractions.at(-1)).toBe(1);
    models.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });

  it("gives a demo checkpoint the demo's line-art statistics as CIT features, and no other", async () => {
    const [demo, other] = [checkpoint(true, 2), checkpoint(false, 2)];
    const before = tf.memory().numTensors;
    const models = await loadWeightFiles([demo]);
    expect(models.summary).toBe(
      "checkpoint.safetensors (training checkpoint): generator 32 px, width × 0.5, decoder blocks [2, 1, 1, 1], with the demo's line-art statistics as CIT features",
    );
    const features = tf.tidy(() => (models.colorizer.citExtractor!.predict(tf.ones([1, 32, 32, 1])) as tf.Tensor).shape);
    expect(features).toEqual([1, 4, 4, 2]);
    models.dispose();
    expect(tf.memory().numTensors).toBe(before);
    // Not the demo's: 2-channel CIT features have no known source.
    await expect(loadWeightFiles([other])).rejects.toThrow(/takes CIT features, so it needs a CIT extractor/);
    expect(tf.memory().numTensors).toBe(before);
  });
});
