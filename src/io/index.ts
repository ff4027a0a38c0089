// tag2pix/io: weight files (browser-safe): safetensors, and PyTorch checkpoints (zip and legacy
// pickles) read without PyTorch; loadColorizer, from files, URLs or bytes to a ready generator and
// CIT extractor. Loading a state dict into any model: loadTorchStateDict from 'tag2pix'.
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
export { readPickle, readTorchCheckpoint, torchStateDictFrom, torchTensorsFrom, TorchStorage, TorchTensor } from './torch_checkpoint.js';
export type { TorchDtype, TorchStateDictOptions, TorchValue } from './torch_checkpoint.js';
export { loadColorizer } from './colorizer.js';
export type { CitExtractorContext, Colorizer, LoadColorizerOptions, LoadProgressEvent, NamedWeightBytes, WeightSource } from './colorizer.js';
