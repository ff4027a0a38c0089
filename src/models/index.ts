export {};
export { buildTag2PixGenerator, resolveGeneratorConfig } from './generator.js';
export type { Tag2PixGeneratorConfig, ResolvedGeneratorConfig, DecoderBlockKind } from './generator.js';
export { buildTag2PixDiscriminator } from './discriminator.js';
export type { Tag2PixDiscriminatorConfig, DiscriminatorOutputs } from './discriminator.js';
export { buildSEResNeXt50, buildCITExtractor } from './se_resnext50.js';
export type { SEResNeXt50Config, CITExtractorConfig } from './se_resnext50.js';
export { countParameters } from './parameters.js';
