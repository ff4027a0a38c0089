import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FileFormatError, OptionError, Tag2PixError, WeightsError } from '../../src/errors.js';
import { writeSafetensors } from '../../src/io/safetensors.js';
import { exportTorchStateDict } from '../../src/io/torch_state_dict.js';
import { buildCITExtractor, buildTag2PixGenerator } from '../../src/models/index.js';
import { loadColorizer, readStateDicts } from '../../src/node/weights.js';
import { craftSafetensors, legacyTorchFile, type TorchTensorSpec } from '../helpers/torch_files.js';

// Weight files made here: tiny generators exported to safetensors, then damaged on purpose.

let dir: string;
const GENERATOR = { inputSize: 16, widthMultiplier: 0.0625, decoderLayers: [1, 1, 1, 1] as [number, number, number, number] };

/** The state dict of a tiny generator (and CIT extractor) as plain arrays. */
function exported(build: () => ReturnType<typeof buildTag2PixGenerator>): Record<string, { dtype: string; shape: number[]; values: Float32Array | Int32Array }> {
  const model = build();
  const dict = exportTorchStateDict(model);
  const out: Record<string, { dtype: string; shape: number[]; values: Float32Array | Int32Array }> = {};
  for (const [k, t] of Object.entries(dict)) out[k] = { dtype: t.dtype, shape: t.shape, values: t.dataSync() as Float32Array | Int32Array };
  tf.dispose(Object.values(dict));
  model.dispose();
  return out;
}

/** Writes a safetensors file of `dict`, with `edit` applied to one entry's raw form. */
function writeEdited(
  name: string,
  dict: ReturnType<typeof exported>,
  edit: (key: string, e: { dtype: string; shape: number[]; bytes: Uint8Array }) => { dtype: string; shape: number[]; bytes: Uint8Array } = (_, e) => e,
): string {
  const entries = Object.entries(dict).map(([key, v]) => {
    const raw =
      v.dtype === 'int32'
        ? { dtype: 'I64', shape: v.shape, bytes: new Uint8Array(BigInt64Array.from(Array.from(v.values), (x) => BigInt(x)).buffer) }
        : { dtype: 'F32', shape: v.shape, bytes: new Uint8Array(Float32Array.from(v.values).buffer) };
    return { name: key, ...edit(key, raw) };
  });
  const file = path.join(dir, name);
  fs.writeFileSync(file, craftSafetensors(entries));
  return file;
}

let generatorDict: ReturnType<typeof exported>;
let citGeneratorDict: ReturnType<typeof exported>;
let citDict: ReturnType<typeof exported>;

beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tag2pix-weights-'));
  generatorDict = exported(() => buildTag2PixGenerator({ ...GENERATOR, citFeatures: false }));
  citGeneratorDict = exported(() => buildTag2PixGenerator({ ...GENERATOR, inputSize: 32 }));
  citDict = exported(() => buildCITExtractor({ inputSize: 32 }));
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

/** Runs a loadColorizer that must fail; checks that it leaves no tensor behind. */
async function failing(sources: string | string[]): Promise<Tag2PixError> {
  const before = tf.memory().numTensors;
  const error = await loadColorizer(sources).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(tf.memory().numTensors, 'tensors left by the failed load').toBe(before);
  expect(error).toBeInstanceOf(Tag2PixError);
  return error as Tag2PixError;
}

describe('loadColorizer on damaged weight files', () => {
  it('loads the intact files (the baseline the damaged ones differ from)', async () => {
    const before = tf.memory().numTensors;
    const c = await loadColorizer(writeEdited('intact.safetensors', generatorDict));
    expect(c.config.inputSize).toBe(16);
    c.generator.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });

  it('refuses NaN and infinite weights, naming the file and the tensor, leaking nothing (items 4, 14)', async () => {
    const file = writeEdited('nan.safetensors', generatorDict, (key, e) =>
      key === 'conv1.0.weight' ? { ...e, bytes: new Uint8Array(new Float32Array(e.bytes.length / 4).fill(NaN).buffer) } : e,
    );
    const error = await failing(file);
    expect(error).toBeInstanceOf(WeightsError);
    expect(error.message).toContain(`Weight file '${file}'`);
    expect(error.message).toMatch(/1 weight tensor\(s\) hold NaN or infinite values \(conv1\.0\.weight\)/);
    const inf = writeEdited('inf.safetensors', generatorDict, (key, e) =>
      key === 'Linear.bias' ? { ...e, bytes: new Uint8Array(new Float32Array(e.bytes.length / 4).fill(-Infinity).buffer) } : e,
    );
    expect((await failing(inf)).message).toMatch(/\(Linear\.bias\)/);
  });

  it('refuses an I32 tensor where a float weight belongs (item 5)', async () => {
    const file = writeEdited('int.safetensors', generatorDict, (key, e) => (key === 'conv1.0.weight' ? { ...e, dtype: 'I32' } : e));
    const error = await failing(file);
    expect(error).toBeInstanceOf(WeightsError);
    expect(error.message).toMatch(/of an integer or bool type[\s\S]*conv1\.0\.weight is int32/);
  });

  it('disposes the generator when the CIT extractor then fails (item 14)', async () => {
    const generator = writeEdited('generator32.safetensors', citGeneratorDict);
    const cit = writeEdited('cit_nan.safetensors', citDict, (key, e) =>
      key === 'layer1.0.conv1.weight' ? { ...e, bytes: new Uint8Array(new Float32Array(e.bytes.length / 4).fill(NaN).buffer) } : e,
    );
    const error = await failing([generator, cit]);
    expect(error.message).toMatch(/cit_nan\.safetensors'.*NaN or infinite values \(layer1\.0\.conv1\.weight\)/);
    // And a missing CIT extractor is said before anything is built.
    const missing = await failing(generator);
    expect(missing.message).toMatch(/needs a CIT extractor .* missing from sources/);
    expect(missing.hint).toMatch(/tag2pix_256\.pkl/);
  });

  it('names a corrupt or hostile file and the option (sources, size)', async () => {
    const truncated = path.join(dir, 'truncated.safetensors');
    fs.writeFileSync(truncated, fs.readFileSync(writeEdited('whole.safetensors', generatorDict)).subarray(0, 500));
    const error = await failing(truncated);
    expect(error).toBeInstanceOf(FileFormatError);
    expect(error.message).toMatch(/^Weight file '.*truncated\.safetensors': safetensors: /);
    const folder = path.join(dir, 'a-folder.pkl');
    fs.mkdirSync(folder, { recursive: true });
    await expect(readStateDicts(folder)).rejects.toThrow(/Cannot read weight file '.*a-folder\.pkl' \(sources\): it is a folder/);
    await expect(loadColorizer(path.join(dir, 'absent.pkl'))).rejects.toThrow(/Weights '.*absent\.pkl' \(sources\) do not exist/);
    await expect(loadColorizer(dir, { size: -3 })).rejects.toThrow(OptionError);
    await expect(loadColorizer(dir, { size: -3 })).rejects.toThrow(/^size must be a positive integer/);
  });

  it('reads only the G entry of a checkpoint: a discriminator that cannot be decoded is never touched', async () => {
    // A legacy .pkl with G intact and D an expanded 70000² view that would fail if decoded.
    const g: Record<string, TorchTensorSpec> = {};
    for (const [k, v] of Object.entries(generatorDict)) {
      g[`module.${k}`] =
        v.dtype === 'int32'
          ? { storage: 'LongStorage', bytes: new Uint8Array(BigInt64Array.from(Array.from(v.values), (x) => BigInt(x)).buffer), shape: v.shape }
          : { values: Array.from(v.values), shape: v.shape };
    }
    const d: TorchTensorSpec = { values: [1], shape: [70000, 70000], stride: [0, 0], key: 'dview' };
    const pkl = path.join(dir, 'tag2pix_16.pkl');
    fs.writeFileSync(
      pkl,
      legacyTorchFile({ ...g, 'D.adv_judge.0.weight': d }, {
        wrap: (sd) => {
          const entries = (sd as { dict: Array<[string, unknown]> }).dict;
          const gEntries = entries.filter(([k]) => k !== 'D.adv_judge.0.weight');
          const dEntries = entries.filter(([k]) => k === 'D.adv_judge.0.weight').map(([, v]) => ['module.adv_judge.0.weight', v]);
          return { dict: [['G', { dict: gEntries }], ['D', { dict: dEntries }], ['finish_epoch', 3]] } as never;
        },
      }),
    );
    const before = tf.memory().numTensors;
    const c = await loadColorizer(pkl);
    expect(c.sources.generator).toBe(`${pkl} (G)`);
    c.generator.dispose();
    expect(tf.memory().numTensors).toBe(before);
    // Decoding everything (readStateDicts) reaches D and names it.
    await expect(readStateDicts(pkl)).rejects.toThrow(/tag2pix_16\.pkl'.*'adv_judge\.0\.weight' has shape \[70000, 70000\]/);
    expect(tf.memory().numTensors).toBe(before);
  });
});
