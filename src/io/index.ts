// tag2pix/io: weight files (browser-safe): safetensors, and PyTorch checkpoints (zip and legacy
// pickles) read without PyTorch. Loading them into a model: loadTorchStateDict from 'tag2pix'.
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
export { readPickle, readTorchCheckpoint, torchStateDictFrom, TorchStorage, TorchTensor } from './torch_checkpoint.js';
export type { TorchDtype, TorchStateDictOptions, TorchValue } from './torch_checkpoint.js';
