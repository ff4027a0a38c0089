// The main entry of tag2pix (browser-safe): layers, models, losses and ops, the tag vocabulary,
// the mapping of models to PyTorch state dicts, kernel registration and the error classes. The other groups have
// entries of their own: tag2pix/data (dataset pipeline), tag2pix/synth (synthetic characters),
// tag2pix/eval (metrics), tag2pix/io (weight files), tag2pix/training (trainer and loop) and
// tag2pix/node (files, images, backends; Node only).
import '@tensorflow/tfjs-layers';

// The error classes: every error that bad input or a refused operation causes (docs/security.md).
export { FileFormatError, LimitError, OptionError, OutputError, Tag2PixError, WeightsError } from './errors.js';
export type { ErrorText, OptionNamer, Tag2PixErrorOptions } from './errors.js';

export * from './layers/index.js';
export * from './ops/index.js';
export * from './losses/index.js';
export * from './models/index.js';
export {
  MAX_TAG_INPUT_LENGTH,
  MAX_TAGS_PER_INPUT,
  PERSON_TAGS,
  TagVocabulary,
  UnknownTagError,
  defaultVocabulary,
  normaliseTagName,
  resolveColorTags,
} from './data/tags.js';
export type { MultiHot, Tag, TagEntry, TagKind, TagVocabularyJson } from './data/tags.js';
export { exportTorchStateDict, loadTorchStateDict } from './io/torch_state_dict.js';
export type { ExportTorchStateDictOptions, LoadTorchStateDictOptions, TorchLoadReport } from './io/torch_state_dict.js';
// Convolution-gradient kernels (lets wasm train, makes cpu's conv gradients fast): registered only
// when asked, by registerFastKernels() or tag2pix/node's initBackend().
export { registerFastKernels, unregisterFastKernels, isFastKernel } from './kernels/register.js';
export type { FastKernelName } from './kernels/register.js';
// What a full wasm heap raises (tag2pix/node's initBackend installs the guard that raises it).
export { WasmMemoryError } from './kernels/wasm_memory.js';
