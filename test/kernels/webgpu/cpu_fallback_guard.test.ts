// Guard: on webgpu, colourising and training send no op to the backend's CPU fallback (a
// synchronous read of GPU data, which in Node throws "OffscreenCanvas is not defined" and in a
// browser stalls the GPU). Every model takes part: generator, CIT extractor, discriminator, with
// and without recomputation, from files in Node through to the PNG and the checkpoint.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildCITExtractor, buildTag2PixDiscriminator, buildTag2PixGenerator, exportTorchStateDict } from '../../../src/index.js';
import { probeWebGPU } from '../../../src/kernels/webgpu/dispatch_probe.js';
import { readCheckpoint, saveCheckpoint } from '../../../src/node/checkpoint.js';
import { colorizeToPng, loadColorizer } from '../../../src/node/index.js';
import { readableOnHost } from '../../../src/node/host_tensors.js';
import { writeSafetensors } from '../../../src/io/safetensors.js';
import { Tag2PixTrainer } from '../../../src/training/index.js';
import { randomTensor } from '../../helpers/gradcheck.js';
import { startWebGPUForTests } from '../../helpers/webgpu.js';

const SIZE = 32;
let dir: string;

beforeAll(async () => {
  await startWebGPUForTests();
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tag2pix-webgpu-guard-'));
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

describe('no CPU fallback on webgpu', () => {
  it('the guard sees one: a rank-5 Tile of GPU data runs on the CPU', async () => {
    // Computed from more than WEBGPU_CPU_HANDOFF_SIZE_THRESHOLD (1000) values: on the GPU.
    const x = tf.add(randomTensor([4, 4, 4, 4, 8], 1), 1);
    const probe = await probeWebGPU(async () => {
      // In Node the fallback's synchronous read throws; in a browser it would stall.
      expect(() => tf.tile(x, [1, 1, 1, 2, 1])).toThrow(/OffscreenCanvas/);
    });
    expect(probe.cpuFallbacks).toEqual([{ kernel: 'Tile', shape: [4, 4, 4, 4, 8], dtype: 'float32' }]);
    x.dispose();
  });

  it('colourising from files in Node: CIT extractor, generator, PNG', async () => {
    const weights = path.join(dir, 'weights');
    fs.mkdirSync(weights);
    for (const [name, model] of [
      ['generator', buildTag2PixGenerator({ inputSize: SIZE, widthMultiplier: 0.125, decoderLayers: [1, 1, 1, 1] })],
      ['cit_extractor', buildCITExtractor({ inputSize: SIZE })],
    ] as const) {
      const host = await readableOnHost(exportTorchStateDict(model));
      fs.writeFileSync(path.join(weights, `${name}.safetensors`), writeSafetensors(host.tensors));
      host.release();
      model.dispose();
    }
    const lineArt = await sharp({ create: { width: 40, height: 30, channels: 3, background: '#fff' } }).png().toBuffer();
    const c = await loadColorizer(weights);
    let png: Buffer | undefined;
    const probe = await probeWebGPU(async () => {
      png = await colorizeToPng({ lineArt, tags: ['blue_hair'], generator: c.generator, citExtractor: c.citExtractor });
    });
    expect(probe.cpuFallbacks).toEqual([]);
    expect(probe.dispatches).toBeGreaterThan(50);
    expect(await sharp(png!).metadata()).toMatchObject({ width: 40, height: 30 });
    c.generator.dispose();
    c.citExtractor?.dispose();
  });

  for (const recompute of [false, true]) {
    it(`training steps with G, D and the CIT extractor${recompute ? ', recomputing in the backward pass' : ''}, and a checkpoint`, async () => {
      const generator = buildTag2PixGenerator({ inputSize: SIZE, widthMultiplier: 0.125, decoderLayers: [1, 1, 1, 1], recompute });
      const discriminator = buildTag2PixDiscriminator({ inputSize: SIZE, widthMultiplier: 0.125, recompute });
      const citExtractor = buildCITExtractor({ inputSize: SIZE, batchNormMode: 'batch-stats' });
      const trainer = new Tag2PixTrainer({ generator, discriminator, citExtractor });
      const batch = {
        lineArt: randomTensor([2, SIZE, SIZE, 1], 2, 0, 1) as tf.Tensor4D,
        color: randomTensor([2, SIZE, SIZE, 3], 3) as tf.Tensor4D,
        cit: tf.cast(tf.greater(randomTensor([2, 370], 4), 0.8), 'float32') as tf.Tensor2D,
        cvt: tf.cast(tf.greater(randomTensor([2, 115], 5), 0.8), 'float32') as tf.Tensor2D,
      };
      await trainer.trainStep(batch); // the first step creates the optimizer's moments
      const probe = await probeWebGPU(async () => {
        const r = await trainer.trainStep(batch);
        expect(Number.isFinite(r.generator.total)).toBe(true);
      });
      expect(probe.cpuFallbacks).toEqual([]);
      const file = path.join(dir, `checkpoint-${recompute}.safetensors`);
      const saving = await probeWebGPU(() => saveCheckpoint(file, trainer, { seed: 1, dataCursor: null, config: { size: SIZE } }));
      expect(saving.cpuFallbacks).toEqual([]);
      const restored = await readCheckpoint(file);
      expect(Object.keys(restored.tensors).length).toBeGreaterThan(100);
      tf.dispose(Object.values(restored.tensors));
      trainer.dispose();
      tf.dispose(Object.values(batch));
    });
  }
});
