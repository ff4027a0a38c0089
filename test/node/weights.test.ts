import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FileFormatError, OptionError, Tag2PixError, WeightsError } from '../../src/errors.js';
import { writeSafetensors } from '../../src/io/safetensors.js';
import { exportTorchStateDict } from '../../src/io/torch_state_dict.js';
import { buildCITExtractor, buildTag2PixGenerator } from '../../src/models/index.js';
import { colorizeTensor } from '../../src/models/colorize.js';
import { buildSynthCitExtractor } from '../../src/models/synth_cit_extractor.js';
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
    await expect(readStateDicts(pkl)).rejects.toThrow(/tag2pix_16\.pkl \(D\)'.*'adv_judge\.0\.weight' has shape \[70000, 70000\]/);
    expect(tf.memory().numTensors).toBe(before);
  });
});

/** The extractor with featureNorm's scale, offset and statistics away from their initial 1, 0, 0, 1, as after pretraining. */
function pretrainedLooking(model: ReturnType<typeof buildSynthCitExtractor>): ReturnType<typeof buildSynthCitExtractor> {
  const norm = model.getLayer('featureNorm');
  const values = norm.getWeights().map((w, k) => tf.tidy(() => tf.add(tf.mul(tf.reshape(tf.range(0, w.size), w.shape), 0.1), [0.5, 0.2, 1.5, 2][k]!)));
  norm.setWeights(values);
  tf.dispose(values);
  return model;
}

describe("loadColorizer with the demo's synthetic CIT extractor", () => {
  // A 16 px generator taking 8 CIT feature channels and the synthetic extractor giving them, as
  // `tag2pix demo` writes them (generator.safetensors, cit_extractor.safetensors).
  const SYNTH = { inputSize: 16, widths: [4, 4, 8] as [number, number, number], featureChannels: 8, seed: 3 };
  let synthGeneratorDict: ReturnType<typeof exported>;
  let synthCitDict: ReturnType<typeof exported>;
  let narrowCitDict: ReturnType<typeof exported>;
  beforeAll(() => {
    synthGeneratorDict = exported(() => buildTag2PixGenerator({ ...GENERATOR, citChannels: 8, seReduction: 4 }));
    synthCitDict = exported(() => pretrainedLooking(buildSynthCitExtractor(SYNTH)));
    narrowCitDict = exported(() => buildSynthCitExtractor({ ...SYNTH, featureChannels: 4 }));
  });

  it("colours with the extractor's features: the same numbers as the networks it was saved from", async () => {
    const folder = path.join(dir, 'demo-output');
    fs.mkdirSync(folder, { recursive: true });
    writeEdited('demo-output/generator.safetensors', synthGeneratorDict);
    writeEdited('demo-output/cit_extractor.safetensors', synthCitDict);
    const before = tf.memory().numTensors;
    const c = await loadColorizer(folder);
    expect(c.config.citChannels).toBe(8);
    expect(c.config.seReduction).toBe(4);
    expect(c.sources.citExtractor).toBe(path.join(folder, 'cit_extractor.safetensors'));
    // Without its pretraining heads: one output, the features G takes.
    expect(c.citExtractor!.outputs.map((o) => o.shape)).toEqual([[null, 2, 2, 8]]);
    // The original extractor (heads included) gives the same features on a line art.
    const original = pretrainedLooking(buildSynthCitExtractor(SYNTH));
    const lineArt = tf.randomUniform([1, 16, 16, 1], 0, 1, 'float32', 5);
    const outputs = original.predict(lineArt) as tf.Tensor[];
    const loaded = c.citExtractor!.predict(lineArt) as tf.Tensor;
    expect(Array.from(await loaded.data())).toEqual(Array.from(await outputs[0]!.data()));
    const rgb = colorizeTensor({ lineArt, tags: 'blue_hair,red_eyes', generator: c.generator, citExtractor: c.citExtractor });
    expect(rgb.shape).toEqual([16, 16, 3]);
    tf.dispose([lineArt, ...outputs, loaded, rgb]);
    original.dispose();
    c.generator.dispose();
    c.citExtractor!.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });

  it('loads an extractor saved before featureNorm (0.2.x demo outputs) as it was: no normalisation', async () => {
    const folder = path.join(dir, 'demo-output-0.2');
    fs.mkdirSync(folder, { recursive: true });
    writeEdited('demo-output-0.2/generator.safetensors', synthGeneratorDict);
    const oldDict = exported(() => buildSynthCitExtractor({ ...SYNTH, featureNorm: false }));
    writeEdited('demo-output-0.2/cit_extractor.safetensors', oldDict);
    const before = tf.memory().numTensors;
    const c = await loadColorizer(folder);
    expect(() => c.citExtractor!.getLayer('featureNorm')).toThrow();
    const original = buildSynthCitExtractor({ ...SYNTH, featureNorm: false });
    const lineArt = tf.randomUniform([1, 16, 16, 1], 0, 1, 'float32', 6);
    const outputs = original.predict(lineArt) as tf.Tensor[];
    const loaded = c.citExtractor!.predict(lineArt) as tf.Tensor;
    expect(Array.from(await loaded.data())).toEqual(Array.from(await outputs[0]!.data()));
    tf.dispose([lineArt, ...outputs, loaded]);
    original.dispose();
    c.generator.dispose();
    c.citExtractor!.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });

  it('names a missing, mismatched, truncated or damaged extractor file, leaking nothing', async () => {
    const generator = writeEdited('synth-generator.safetensors', synthGeneratorDict);
    const missing = await failing(generator);
    expect(missing).toBeInstanceOf(WeightsError);
    expect(missing.message).toMatch(/takes 8 CIT feature channels, from the synthetic CIT extractor it was trained with \(cit_extractor\.safetensors in the demo's output folder\), which is missing from sources\.$/m);
    expect(missing.hint).toMatch(/--weights demo-output/);
    // An extractor of another run (4 features) is named as such.
    const narrow = writeEdited('narrow-cit.safetensors', narrowCitDict);
    expect((await failing([generator, narrow])).message).toMatch(/missing from sources \(.*narrow-cit\.safetensors gives 4: from another run\)/);
    // The hostile-file checks of every weight file apply: a truncated file, NaN weights, shapes that do not chain.
    const truncated = path.join(dir, 'truncated-cit.safetensors');
    fs.writeFileSync(truncated, fs.readFileSync(writeEdited('whole-cit.safetensors', synthCitDict)).subarray(0, 300));
    const cut = await failing([generator, truncated]);
    expect(cut).toBeInstanceOf(FileFormatError);
    expect(cut.message).toMatch(/^Weight file '.*truncated-cit\.safetensors': safetensors: /);
    const nan = writeEdited('nan-cit.safetensors', synthCitDict, (key, e) =>
      key === 'stage2.1.weight' ? { ...e, bytes: new Uint8Array(new Float32Array(e.bytes.length / 4).fill(NaN).buffer) } : e,
    );
    expect((await failing([generator, nan])).message).toMatch(/nan-cit\.safetensors'.*NaN or infinite values \(stage2\.1\.weight\)/);
    // stage2.0 claims 5 input channels where stage1.0 gives 4.
    const unchained = writeEdited('unchained-cit.safetensors', synthCitDict, (key, e) =>
      key === 'stage2.0.weight' ? { ...e, shape: [4, 5, 3, 3], bytes: new Uint8Array(4 * 5 * 9 * 4) } : e,
    );
    const chain = await failing([generator, unchained]);
    expect(chain).toBeInstanceOf(WeightsError);
    expect(chain.message).toMatch(/unchained-cit\.safetensors' do not fit the synthetic CIT extractor[\s\S]*wrong shape: stage2\.0\.weight is \[4, 5, 3, 3\], the network needs \[4, 4, 3, 3\]/);
    // A convolution weight that is not 4-D is refused before anything is built from it.
    const flat = writeEdited('flat-cit.safetensors', synthCitDict, (key, e) => (key === 'stage1.0.weight' ? { ...e, shape: [e.bytes.length / 4] } : e));
    const notConv = await failing([generator, flat]);
    expect(notConv).toBeInstanceOf(WeightsError);
    expect(notConv.message).toMatch(/^Weight file '.*flat-cit\.safetensors': 'stage1\.0\.weight' has shape \[36\]; a convolution weight \[out, in, kh, kw\] was expected\.$/m);
  });
});
