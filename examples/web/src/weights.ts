// What the page adds to the library's loadColorizer (tag2pix/io), which reads the chosen files,
// finds the networks, infers the generator's configuration and lists every weight that does not
// fit: the demo's stand-in for the CIT extractor, and the one line the page shows about a load.
import type { CitExtractorContext, Colorizer } from 'tag2pix/io';

/** Channels of the demo's CIT stand-in features (mean and minimum of each 8×8 cell). */
export const DEMO_CIT_CHANNELS = 2;

/**
 * True for a generator that `npm run demo` trained: a training checkpoint of a demo run, whose
 * CIT features are the demo's two line-art statistics (the demo has no CIT classifier).
 */
export function isDemoGenerator(context: CitExtractorContext): boolean {
  return context.runConfig?.['demo'] === true && context.config.citChannels === DEMO_CIT_CHANNELS;
}

/** One line describing loaded weights, for the page. */
export function describeColorizer(colorizer: Colorizer): string {
  const c = colorizer.config;
  const width = c.widthMultiplier === 1 ? 'full width' : `width × ${c.widthMultiplier}`;
  const files = [...new Set([colorizer.sources.generator, colorizer.sources.citExtractor].filter(Boolean))].join(' + ');
  const cit = {
    weights: ', with CIT extractor',
    option: ", with the demo's line-art statistics as CIT features",
    none: ', no CIT features',
  }[colorizer.citSource];
  return `${files}: generator ${c.inputSize} px, ${width}, decoder blocks [${c.decoderLayers.join(', ')}]${cit}`;
}
