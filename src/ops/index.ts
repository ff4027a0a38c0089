export { conv2dTorch, conv2dTransposeTorch } from './conv.js';
export type { Conv2dTorchOptions, Conv2dTransposeTorchOptions } from './conv.js';
export { pixelShuffle } from './pixel_shuffle.js';
export { batchNormTorch } from './batch_norm.js';
export type { BatchNormTorchArgs, BatchNormTorchResult } from './batch_norm.js';
