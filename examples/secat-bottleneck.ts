// The README's first example: a SECat bottleneck conditioned on a 64-d tag vector.
import * as tf from '@tensorflow/tfjs-core';
import { SEResNeXtBottleneck } from 'tag2pix';
import { initBackend } from 'tag2pix/node';

await initBackend(); // tensorflow, else wasm, else cpu
const block = new SEResNeXtBottleneck({ filters: 128, excitation: 'secat' });
const features = tf.randomNormal([2, 16, 16, 96]); // NHWC
const tags = tf.randomUniform([2, 64]); // e.g. the CVT encoder's colour vector
const out = block.apply([features, tags]) as tf.Tensor;
console.log(out.shape, block.countParams()); // [ 2, 16, 16, 128 ] 23872
