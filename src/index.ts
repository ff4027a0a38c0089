// Public API of tag2pix (browser-safe). Node-only helpers live in 'tag2pix/node'.
import '@tensorflow/tfjs-layers';

export * from './layers/index.js';
export * from './ops/index.js';
export * from './io/index.js';
export * from './losses/index.js';
export * from './models/index.js';
export * from './data/index.js';
export * from './training/index.js';
export * from './eval/index.js';
// Convolution-gradient kernels (lets wasm train, makes cpu's conv gradients fast): registered only
// when asked, by registerFastKernels() or tag2pix/node's initBackend().
export { registerFastKernels, unregisterFastKernels, isFastKernel } from './kernels/register.js';
export type { FastKernelName } from './kernels/register.js';
