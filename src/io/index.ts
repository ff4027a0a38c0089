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
export {
  MAX_CHECKPOINT_PICKLE_BYTES,
  MAX_EXPANDED_ELEMENTS,
  readPickle,
  readTorchCheckpoint,
  torchStateDictEntries,
  torchStateDictFrom,
  TorchStorage,
  TorchTensor,
} from './torch_checkpoint.js';
export { MAX_PICKLE_OPCODES, PickleError } from './pickle.js';
export type { TorchDtype, TorchStateDictOptions, TorchValue } from './torch_checkpoint.js';
