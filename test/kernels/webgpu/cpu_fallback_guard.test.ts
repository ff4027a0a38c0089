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
import { readSafetensors, writeSafetensors } from '../../../src/io/safetensors.js';
import { loadTorchStateDict } from '../../../src/io/torch_state_dict.js';
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
      const exported = exportTorchStateDict(model);
      const host = await readableOnHost(exported);
      fs.writeFileSync(path.join(weights, `${name}.safetensors`), writeSafetensors(host.tensors));
      host.release();
      tf.dispose(Object.values(exported));
      model.dispose();
    }
    const lineArt = await sharp({ create: { width: 40, height: 30, channels: 3, background: '#fff' } }).png().toBuffer();
    let c: Awaited<ReturnType<typeof loadColorizer>> | undefined;
    // Loading checks every weight for NaN and infinity: on the host, not by reading the GPU.
    const loading = await probeWebGPU(async () => {
      c = await loadColorizer(weights);
    });
    expect(loading.cpuFallbacks).toEqual([]);
    let png: Buffer | undefined;
    const probe = await probeWebGPU(async () => {
      png = await colorizeToPng({ lineArt, tags: ['blue_hair'], generator: c!.generator, citExtractor: c!.citExtractor });
    });
    expect(probe.cpuFallbacks).toEqual([]);
    expect(probe.dispatches).toBeGreaterThan(50);
    expect(await sharp(png!).metadata()).toMatchObject({ width: 40, height: 30 });
    c!.generator.dispose();
    c!.citExtractor?.dispose();
  });

  it('weights holding a NaN are refused on webgpu too, naming the tensor, with nothing loaded or left behind', async () => {
    const cit = buildCITExtractor({ inputSize: SIZE });
    const exported = exportTorchStateDict(cit);
    const host = await readableOnHost(exported);
    const tensors = readSafetensors(writeSafetensors(host.tensors)); // as a file gives them: on the host
    host.release();
    tf.dispose(Object.values(exported));
    const key = 'layer1.0.conv1.weight';
    expect(Object.keys(tensors)).toContain(key);
    const shape = tensors[key]!.shape;
    tensors[key]!.dispose();
    tensors[key] = tf.tensor(new Float32Array(shape.reduce((a, b) => a * b, 1)).fill(NaN), shape);
    const tensorsBefore = tf.memory().numTensors;
    let error: unknown;
    const probe = await probeWebGPU(() => {
      try {
        loadTorchStateDict(cit, tensors);
      } catch (e) {
        error = e;
      }
    });
    expect(probe.cpuFallbacks).toEqual([]);
    expect((error as Error).message).toMatch(/1 weight tensor\(s\) hold NaN or infinite values \(layer1\.0\.conv1\.weight\).*Nothing was loaded/s);
    expect(tf.memory().numTensors).toBe(tensorsBefore);
    tf.dispose(Object.values(tensors));
    cit.dispose();
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
