// The synthetic-data demo (`npm run demo`, `tag2pix demo`): an application of the library, used
// by the CLI and the examples; not part of the package's public entries.
export { DEMO_DEFAULTS, DEMO_GRID_ROWS, DEMO_PALETTE, DEMO_QUICK, demoPalette, heldOutPairs, isHeldOut, resolveDemoOptions } from './config.js';
export type { DemoConfig, DemoDefaults, DemoOptions, DiscriminatorBlocks } from './config.js';
export { CLOSE_UP_PLACEMENTS, CLOSE_UP_ZOOM, freshSynthBatches, freshSynthSource, lineArtFeatures, synthTrainingSource } from './sources.js';
export type { CitFeatureFn, CloseUpPlacement, FreshSynthOptions, SynthCursor } from './sources.js';
export { decayFactor, expectedEpochSeconds, plannedDemoEpochs, rampFactor } from './plan.js';
export { demoReport, demoSummaryJson } from './report.js';
export type { DemoEpoch, DemoResult } from './report.js';
export { figure8Grid } from './grid.js';
export { DEMO_WEIGHT_FILES, runDemo } from './run.js';
