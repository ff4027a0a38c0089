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
export { DEFAULT_MAX_WEIGHT_BYTES, loadColorizer } from './colorizer.js';
export type { CitExtractorContext, Colorizer, LoadColorizerOptions, LoadProgressEvent, NamedWeightBytes, WeightSource } from './colorizer.js';
// The error classes every reader raises for a bad file (also exported by 'tag2pix').
export { FileFormatError, LimitError, OptionError, OutputError, Tag2PixError, WeightsError } from '../errors.js';
export type { ErrorText, OptionNamer, Tag2PixErrorOptions } from '../errors.js';
