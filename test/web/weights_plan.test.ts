// The demo page's weight-file triage: which file holds which network, the generator settings
// read off its shapes, and the errors a user sees for a wrong file.
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it, vi } from 'vitest';
import { writeSafetensors } from '../../src/io/index.js';
import { buildTag2PixGenerator } from '../../src/models/index.js';
import { describePlan, planWeights, type WeightFile } from '../../examples/web/src/weights.js';

// The page imports 'tag2pix' (mapped to the source by Vite and tsconfig); here it is the source.
vi.mock('tag2pix', () => import('../../src/index.js'));

/** A safetensors file with zero tensors of the given shapes (the triage reads only shapes). */
function file(name: string, shapes: Record<string, number[]>): WeightFile {
  const tensors: Record<string, tf.Tensor> = {};
  for (const [k, s] of Object.entries(shapes)) tensors[k] = tf.zeros(s);
  const bytes = writeSafetensors(tensors);
  tf.dispose(Object.values(tensors));
  return { name, bytes };
}

/** Generator keys for 64 px, width 0.25 (stem 4 channels, tag map 8 channels), blocks [2,1,1,1]. */
function generatorShapes(prefix = '', options: { cit?: boolean; linearRows?: number } = {}): Record<string, number[]> {
  const p = (k: string) => prefix + k;
  const shapes: Record<string, number[]> = {
    [p('conv1.0.weight')]: [4, 1, 3, 3],
    [p('Linear.weight')]: [options.linearRows ?? 8 * 4 * 4, 115],
    [p('colorFC.0.weight')]: [16, 115],
    [p('colorConv.0.weight')]: [16, 8, 3, 3],
    [p('deconv1.secat_layer.0.conv1.weight')]: [64, 144, 1, 1],
    [p('deconv1.secat_layer.0.bn1.running_mean')]: [64],
    [p('deconv1.secat_layer.1.conv1.weight')]: [64, 256, 1, 1],
    [p('deconv2.secat_layer.0.conv1.weight')]: [32, 96, 1, 1],
    [p('deconv3.secat_layer.0.conv1.weight')]: [16, 48, 1, 1],
    [p('deconv4.secat_layer.0.conv1.weight')]: [8, 24, 1, 1],
    [p('deconv5.0.weight')]: [8, 12, 3, 3],
    [p('deconv_for_decoder.0.weight')]: [64, 32, 3, 3],
  };
  if (options.cit !== false) shapes[p('featureConv.network.0.weight')] = [64, 512, 3, 3];
  return shapes;
}

function citShapes(prefix = ''): Record<string, number[]> {
  return {
    [`${prefix}conv1.weight`]: [64, 1, 7, 7],
    [`${prefix}layer1.0.conv1.weight`]: [128, 64, 1, 1],
    [`${prefix}layer2.0.conv1.weight`]: [256, 256, 1, 1],
  };
}

describe('planWeights (demo page)', () => {
  it('finds the generator and the CIT extractor in two files, in either order, and reads the config', () => {
    const g = file('g.safetensors', generatorShapes());
    const c = file('cit.safetensors', citShapes());
    for (const files of [[g, c], [c, g]]) {
      const plan = planWeights(files);
      expect(plan.generator.file.name).toBe('g.safetensors');
      expect(plan.generator.prefix).toBe('');
      expect(plan.citExtractor?.file.name).toBe('cit.safetensors');
      expect(plan.generator.config).toEqual({
        inputSize: 64,
        widthMultiplier: 0.25,
        decoderLayers: [2, 1, 1, 1],
        cvtCount: 115,
        batchNorm: true,
        guideDecoder: true,
        citFeatures: true,
        colorFcRelu: false,
        citChannels: 512,
      });
      expect(describePlan(plan)).toContain('64 px');
    }
  });

  it('finds both networks in one file under prefixes, with DataParallel module. keys', () => {
    const both = file('both.safetensors', {
      ...generatorShapes('module.generator.'),
      ...citShapes('module.cit.'),
    });
    const plan = planWeights([both]);
    expect(plan.generator.prefix).toBe('generator.');
    expect(plan.citExtractor?.prefix).toBe('cit.');
    expect(plan.generator.config.inputSize).toBe(64);
  });

  it('needs no CIT extractor for a generator without the CIT path', () => {
    const plan = planWeights([file('g.safetensors', generatorShapes('', { cit: false }))]);
    expect(plan.generator.config.citFeatures).toBe(false);
    expect(plan.citExtractor).toBeUndefined();
  });

  it('explains a wrong file, a missing CIT extractor, a discriminator and an impossible size', () => {
    const png = { name: 'art.png', bytes: new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0]) };
    expect(() => planWeights([png])).toThrow(/'art.png' is a PNG image, not a \.safetensors/);
    const garbage = { name: 'x.safetensors', bytes: new Uint8Array([1, 2, 3]) };
    expect(() => planWeights([garbage])).toThrow(/'x.safetensors' is not a readable \.safetensors/);
    expect(() => planWeights([file('g.safetensors', generatorShapes())])).toThrow(/needs the CIT extractor/);
    const d = file('d.safetensors', { 'adv_judge.0.weight': [1, 512], 'conv1.0.weight': [32, 3, 3, 3] });
    expect(() => planWeights([d])).toThrow(/discriminator/);
    expect(() => planWeights([file('g.safetensors', generatorShapes('', { linearRows: 100 }))])).toThrow(
      /not 8·\(S\/16\)²/,
    );
    const g = file('g.safetensors', generatorShapes());
    expect(() => planWeights([g, file('g2.safetensors', generatorShapes())])).toThrow(/Both 'g.safetensors' and 'g2/);
  });

  it('reads a training checkpoint (G:<weight name>, TensorFlow.js layouts) and its demo flag', () => {
    const generator = buildTag2PixGenerator({ inputSize: 32, widthMultiplier: 0.5, decoderLayers: [2, 1, 1, 1], citChannels: 2 });
    const tensors: Record<string, tf.Tensor> = { 'D:conv1.0/weight': tf.zeros([3, 3, 3, 8]) };
    for (const w of generator.weights) tensors[`G:${w.originalName}`] = w.read();
    const checkpoint = (demo: boolean): WeightFile => ({
      name: 'checkpoint.safetensors',
      bytes: writeSafetensors(tensors, {
        tag2pix_checkpoint: 'tag2pix-training-checkpoint/1',
        state: JSON.stringify({ config: { demo, size: 32 } }),
      }),
    });
    const plan = planWeights([checkpoint(true)]);
    expect(plan.generator.format).toBe('checkpoint');
    expect(plan.citSource).toBe('demo-statistics');
    expect(plan.generator.config).toEqual({
      inputSize: 32,
      widthMultiplier: 0.5,
      decoderLayers: [2, 1, 1, 1],
      cvtCount: 115,
      batchNorm: true,
      guideDecoder: true,
      citFeatures: true,
      colorFcRelu: false,
      citChannels: 2,
    });
    // Not the demo: 2-channel CIT features have no known source.
    expect(() => planWeights([checkpoint(false)])).toThrow(/needs the CIT extractor/);
    expect(() => planWeights([checkpoint(false), file('cit.safetensors', citShapes())])).toThrow(
      /takes 2 CIT feature channels, but the CIT extractor gives 512/,
    );
    tf.dispose(tensors['D:conv1.0/weight']!);
    generator.dispose();
  });
});
