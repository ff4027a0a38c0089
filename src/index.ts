// Public API of tag2pix (browser-safe). Node-only helpers live in 'tag2pix/node'.
import '@tensorflow/tfjs-layers';
// Convolution-gradient kernels: lets wasm train, makes cpu's conv gradients fast.
import './kernels/register.js';

export * from './errors.js';
export * from './layers/index.js';
export * from './ops/index.js';
export * from './io/index.js';
export * from './losses/index.js';
export * from './models/index.js';
export * from './data/index.js';
export * from './training/index.js';
export * from './eval/index.js';
export { registerFastKernels, unregisterFastKernels, isFastKernel } from './kernels/register.js';
export type { FastKernelName } from './kernels/register.js';
