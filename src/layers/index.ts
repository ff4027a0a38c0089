export { GroupedConv2D } from './grouped_conv.js';
export type { GroupedConv2DArgs } from './grouped_conv.js';
export { TorchLayer, isTorchMapped } from './torch_layer.js';
export type { TorchLayout, TorchParam, TorchMappedLayer } from './torch_layer.js';
