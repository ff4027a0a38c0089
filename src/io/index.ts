export {
  readSafetensors,
  readSafetensorsHeader,
  readSafetensorsMetadata,
  writeSafetensors,
} from './safetensors.js';
export type {
  ReadSafetensorsOptions,
  SafetensorsDtype,
  SafetensorsEntry,
  SafetensorsHeader,
} from './safetensors.js';
export {
  exportTorchStateDict,
  loadTorchStateDict,
  tfToTorchLayout,
  torchShapeOf,
  torchToTfLayout,
} from './torch_state_dict.js';
export type {
  ExportTorchStateDictOptions,
  LoadTorchStateDictOptions,
  TorchLoadReport,
} from './torch_state_dict.js';
export { readPickle, readTorchCheckpoint, torchStateDictFrom, TorchStorage, TorchTensor } from './torch_checkpoint.js';
export type { TorchDtype, TorchStateDictOptions, TorchValue } from './torch_checkpoint.js';
