// Kernel registration is explicit: importing the library (or any layer) changes no backend's
// kernels; registerFastKernels() (which initBackend calls) does. Run in a fresh process, since
// this one's setup already called initBackend.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { repoRoot } from '../web/browser_bundle.js';

const script = `
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
import * as lib from './src/index.ts';
import { SECat } from './src/layers/squeeze_excitation.ts';
const kernels = ['Conv2DBackpropFilter', 'Conv2DBackpropInput', 'DepthwiseConv2dNativeBackpropInput',
  'DepthwiseConv2dNativeBackpropFilter', 'Slice', 'SplitV', 'Concat', 'Sum', 'Mean', 'Tag2PixFusedAdam', 'Tag2PixPickRows'];
const ours = () => ['cpu', 'wasm'].flatMap((b) => kernels.filter((k) => lib.isFastKernel(k, b)).map((k) => b + '/' + k));
const afterImport = ours();
new SECat({ reduction: 4 });
const afterLayer = ours();
await tf.setBackend('cpu');
const registered = lib.registerFastKernels();
console.log(JSON.stringify({ afterImport, afterLayer, registered, afterRegister: ours() }));
`;

describe('kernel registration', () => {
  it('importing tag2pix or a layer registers no kernel; registerFastKernels() does', async () => {
    const { stdout } = await promisify(execFile)(
      process.execPath,
      ['--import', 'tsx', '--input-type=module', '-e', script],
      { cwd: repoRoot, env: { ...process.env, TAG2PIX_BACKEND: '' } },
    );
    const r = JSON.parse(stdout.trim().split('\n').at(-1)!) as Record<string, string[]>;
    expect(r['afterImport']).toEqual([]);
    expect(r['afterLayer']).toEqual([]);
    expect(r['registered']).toContain('cpu/Conv2DBackpropFilter');
    expect(r['registered']).toContain('wasm/Conv2DBackpropFilter');
    expect(r['afterRegister']).toContain('cpu/Conv2DBackpropFilter');
    // This library's own fused kernels (no backend has them) come with the call too, not before.
    for (const backend of ['cpu', 'wasm']) {
      for (const kernel of ['Tag2PixFusedAdam', 'Tag2PixPickRows']) expect(r['registered']).toContain(`${backend}/${kernel}`);
    }
  });
});
