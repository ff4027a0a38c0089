export { initBackend } from './backend.js';
export type { BackendName, BackendReport } from './backend.js';
export {
  ImageReadError,
  encodePng,
  imageSize,
  readImage,
  readImageTensor,
  resizeImage,
  writePng,
} from './image.js';
export type { ImageSource, ReadImageOptions, ReadImageTensorOptions, ResizeKernel, WritePngOptions } from './image.js';
