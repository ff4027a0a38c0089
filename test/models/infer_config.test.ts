// The generator configuration read off a state dict's keys and shapes (no tensor data needed).
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { readSafetensorsHeader, writeSafetensors } from '../../src/io/index.js';
import {
  buildCITExtractor,
  buildTag2PixDiscriminator,
  buildTag2PixGenerator,
  exportTorchStateDict,
  inferGeneratorConfig,
  resolveGeneratorConfig,
  stateDictKind,
  type Tag2PixGeneratorConfig,
} from '../../src/index.js';

/** The model's state dict as shapes only: a safetensors header's entries. */
function headerOf(model: ReturnType<typeof buildTag2PixGenerator>) {
  const dict = exportTorchStateDict(model);
  const bytes = writeSafetensors(dict);
  tf.dispose(Object.values(dict));
  model.dispose();
  return readSafetensorsHeader(bytes).tensors;
}

describe('inferGeneratorConfig', () => {
  const configs: Tag2PixGeneratorConfig[] = [
    { inputSize: 48, decoderLayers: [2, 1, 1, 3], widthMultiplier: 0.25 },
    { inputSize: 32, decoderLayers: [1, 1, 1, 1], widthMultiplier: 0.5, batchNorm: false, guideDecoder: false, colorFcRelu: true },
    { inputSize: 16, decoderLayers: [1, 1, 1, 1], widthMultiplier: 0.125, citFeatures: false },
    // The demo's generator: a CVT encoder at the published width inside a ×0.25 model.
    { inputSize: 64, decoderLayers: [1, 1, 1, 1], widthMultiplier: 0.25, tagEncoderWidthMultiplier: 1, citChannels: 2 },
    { inputSize: 32, decoderLayers: [1, 1, 1, 1], widthMultiplier: 0.5, seReduction: 4, tagEncoderWidthMultiplier: 0.25 },
  ];
  for (const config of configs) {
    it(`reads ${JSON.stringify(config)} back from the state dict, and from its shapes alone`, () => {
      const dict = exportTorchStateDict(buildTag2PixGenerator(config));
      const fromTensors = inferGeneratorConfig(dict);
      const fromHeader = inferGeneratorConfig(readSafetensorsHeader(writeSafetensors(dict)).tensors);
      tf.dispose(Object.values(dict));
      expect(fromHeader).toEqual(fromTensors);
      const { channels: a, name: _a, ...ra } = resolveGeneratorConfig(fromTensors);
      const { channels: b, name: _b, ...rb } = resolveGeneratorConfig(config);
      expect(ra).toEqual(rb);
      expect(a).toEqual(b);
    });
  }

  it('explains a state dict that is no complete SECat generator', () => {
    const shapes = headerOf(buildTag2PixGenerator({ inputSize: 32, widthMultiplier: 0.125, decoderLayers: [1, 1, 1, 1] }));
    const without = (prefix: string) => Object.fromEntries(Object.entries(shapes).filter(([k]) => !k.startsWith(prefix)));
    expect(() => inferGeneratorConfig(without('deconv3.'))).toThrow(/A decoder block \(deconv1..deconv4\) has no weights \(blocks found: \[1, 1, 0, 1\]\)/);
    expect(() => inferGeneratorConfig(without('colorConv.'))).toThrow(/it has no 'colorConv.0.weight'/);
    expect(() => inferGeneratorConfig({ ...shapes, 'Linear.weight': { shape: [7, 115] } })).toThrow(/Linear.weight has 7 rows/);
    expect(() => inferGeneratorConfig(without('deconv1.secat_layer.0.selayer.'))).toThrow(/no SECat decoder blocks/);
  });
});

describe('stateDictKind', () => {
  it('tells a generator, a discriminator and a CIT extractor by their keys', () => {
    const kinds = [
      buildTag2PixGenerator({ inputSize: 16, widthMultiplier: 0.125, decoderLayers: [1, 1, 1, 1] }),
      buildTag2PixDiscriminator({ inputSize: 32, widthMultiplier: 0.25 }),
      buildCITExtractor({ inputSize: 32 }),
    ].map((m) => stateDictKind(headerOf(m)));
    expect(kinds).toEqual(['generator', 'discriminator', 'cit-extractor']);
    expect(stateDictKind({ 'fc.weight': { shape: [2, 2] } })).toBe('unknown');
  });
});
