import { readFileSync } from 'node:fs';
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { readPickle, readTorchCheckpoint, torchStateDictFrom, TorchTensor, type TorchValue } from '../../src/io/torch_checkpoint.js';
import { readSafetensors } from '../../src/io/safetensors.js';
import { loadTorchStateDict } from '../../src/io/torch_state_dict.js';
import * as tfl from '@tensorflow/tfjs-layers';

// Fixtures: test/fixtures/torch/make_fixtures.py (PyTorch 1.13); expected.json holds the values
// torch itself reads from each file.

const fixture = (name: string) => new Uint8Array(readFileSync(new URL(`../fixtures/torch/${name}`, import.meta.url)));

interface ExpectedTensor {
  dtype: string;
  shape: number[];
  values: (number | boolean)[];
  sum: number;
  contiguous: boolean;
}
type Expected = { __tensor__: ExpectedTensor } | Record<string, unknown>;
const expected = JSON.parse(
  readFileSync(new URL('../fixtures/torch/expected.json', import.meta.url), 'utf8'),
) as Record<string, Record<string, Expected>>;

const tensorOf = (e: unknown) => (e as { __tensor__: ExpectedTensor }).__tensor__;

/** Compares one tensor read by our reader with torch's own reading of it. */
function expectTensor(actual: unknown, want: ExpectedTensor, key: string): void {
  expect(actual, key).toBeInstanceOf(TorchTensor);
  const t = actual as TorchTensor;
  expect(t.dtype, key).toBe(want.dtype);
  expect(t.shape, key).toEqual(want.shape);
  expect(t.isContiguous(), key).toBe(want.contiguous);
  const values = Array.from(t.toTypedArray(key));
  // Every value is exactly representable in float32 / int32, so compare exactly.
  expect(values, key).toEqual(want.values.map((v) => (typeof v === 'boolean' ? Number(v) : Math.fround(v))));
}

function asDict(v: TorchValue): Record<string, TorchValue> {
  expect(v).toBeTypeOf('object');
  return v as Record<string, TorchValue>;
}

const TRUNCATION_POINTS = (n: number) => Array.from({ length: 40 }, (_, i) => Math.floor((i * n) / 40)).concat([n - 1]);

describe('readTorchCheckpoint: state dicts', () => {
  for (const file of ['state_dict_zip.pt', 'state_dict_legacy.pt']) {
    it(`reads every tensor of ${file} as torch does (Conv, BN, Linear, fp16, bf16, views, 0-d)`, () => {
      const state = asDict(readTorchCheckpoint(fixture(file)));
      const want = expected['state_dict']!;
      expect(Object.keys(state)).toEqual(Object.keys(want));
      for (const [key, e] of Object.entries(want)) expectTensor(state[key], tensorOf(e), key);
      // The two views share one storage; the 0-d tensor has rank 0.
      const transposed = state['transposed'] as TorchTensor;
      const sliced = state['sliced'] as TorchTensor;
      expect(sliced.storage).toBe(transposed.storage);
      expect(sliced.storageOffset).toBe(4);
      expect((state['scalar'] as TorchTensor).shape).toEqual([]);
      expect((state['conv.weight'] as TorchTensor).requiresGrad).toBe(false);
    });
  }

  it('converts to tf tensors: float32 for fp32/fp16/bf16, int32 for int64, nothing leaked', () => {
    const checkpoint = readTorchCheckpoint(fixture('state_dict_zip.pt'));
    const before = tf.memory().numTensors;
    for (let round = 0; round < 3; round++) {
      const sd = torchStateDictFrom(checkpoint);
      expect(Object.keys(sd)).toHaveLength(14);
      for (const [key, e] of Object.entries(expected['state_dict']!)) {
        const want = tensorOf(e);
        const t = sd[key]!;
        expect(t.dtype, key).toBe(want.dtype === 'int64' ? 'int32' : 'float32');
        expect(t.shape, key).toEqual(want.shape);
        const sum = tf.tidy(() => tf.sum(tf.cast(t, 'float32')).dataSync()[0]!);
        expect(sum, key).toBeCloseTo(want.sum, 4);
      }
      expect(sd['bn.num_batches_tracked']!.dataSync()[0]).toBe(7);
      tf.dispose(Object.values(sd));
    }
    expect(tf.memory().numTensors).toBe(before);
  });
});

describe('readTorchCheckpoint: the official Tag2Pix layouts', () => {
  it('reads a tag2pix_*.pkl-style checkpoint (legacy format, DataParallel keys, Adam states)', () => {
    const checkpoint = asDict(readTorchCheckpoint(fixture('tag2pix_checkpoint_legacy.pkl')));
    expect(Object.keys(checkpoint)).toEqual(['G', 'D', 'G_optimizer', 'D_optimizer', 'finish_epoch', 'result_path']);
    expect(checkpoint['finish_epoch']).toBe(60);
    expect(checkpoint['result_path']).toBe('resultsTag2pix/190410-000000');
    const groups = asDict(checkpoint['G_optimizer']!)['param_groups'] as TorchValue[];
    const group = asDict(groups[0]!);
    expect(group['lr']).toBe(2e-4);
    expect(group['betas']).toEqual([0.5, 0.999]);
    expect(group['amsgrad']).toBe(false);
    expect(group['params']).toEqual([0, 1, 2, 3, 4, 5]);
    // Integer dict keys of the optimizer state become strings; its tensors read as torch reads them.
    const state = asDict(asDict(checkpoint['G_optimizer']!)['state']!);
    const wantState = expected['tag2pix_checkpoint']!['G_optimizer_state'] as Record<string, Record<string, Expected>>;
    expect(Object.keys(state)).toEqual(Object.keys(wantState));
    for (const [param, entries] of Object.entries(wantState)) {
      for (const [name, e] of Object.entries(entries)) expectTensor(asDict(state[param]!)[name], tensorOf(e), `${param}.${name}`);
    }
    for (const net of ['G', 'D'] as const) {
      const want = expected['tag2pix_checkpoint']![net] as Record<string, Expected>;
      const got = asDict(checkpoint[net]!);
      expect(Object.keys(got)).toEqual(Object.keys(want));
      for (const [key, e] of Object.entries(want)) expectTensor(got[key], tensorOf(e), key);
    }
  });

  it('torchStateDictFrom picks G by default and strips module.; D and other entries by name', () => {
    const checkpoint = readTorchCheckpoint(fixture('tag2pix_checkpoint_legacy.pkl'));
    const wantG = Object.keys(expected['tag2pix_checkpoint']!['G']!).map((k) => k.replace(/^module\./, ''));
    const g = torchStateDictFrom(checkpoint);
    expect(Object.keys(g)).toEqual(wantG);
    expect(Object.keys(g)).toContain('bn.num_batches_tracked');
    const d = torchStateDictFrom(checkpoint, 'D');
    expect(Object.keys(d)).toEqual(['conv1.0.weight', 'conv1.0.bias', 'adv_judge.weight', 'adv_judge.bias']);
    const kept = torchStateDictFrom(checkpoint, 'D', { stripPrefix: '' });
    expect(Object.keys(kept)[0]).toBe('module.conv1.0.weight');
    tf.dispose([...Object.values(g), ...Object.values(d), ...Object.values(kept)]);

    expect(() => torchStateDictFrom(checkpoint, 'G_optimizer')).toThrow(/'G_optimizer' is not a state dict/);
    expect(() => torchStateDictFrom(checkpoint, 'X')).toThrow(/no entry 'X'.*G \(state dict, 14 tensors\)/);
    expect(() => torchStateDictFrom(checkpoint, 'G/nope')).toThrow(/'G' has no entry 'nope'/);
  });

  it("reads a CIT model.pth-style file: picks 'weight', filters the extractor's half", () => {
    const checkpoint = readTorchCheckpoint(fixture('cit_model_legacy.pth'));
    const all = torchStateDictFrom(checkpoint);
    expect(Object.keys(all)).toEqual(Object.keys(expected['cit_model']!).map((k) => k.slice('module.'.length)));
    const half = torchStateDictFrom(checkpoint, 'weight', { filter: (k) => /^(conv1|bn1|layer1|layer2)\./.test(k) });
    expect(Object.keys(half)).toEqual([
      'conv1.weight',
      'bn1.weight',
      'bn1.bias',
      'bn1.running_mean',
      'bn1.running_var',
      'bn1.num_batches_tracked',
      'layer1.0.weight',
      'layer2.0.weight',
    ]);
    const want = tensorOf(expected['cit_model']!['module.layer2.0.weight']);
    expect(Array.from(half['layer2.0.weight']!.dataSync())).toEqual(want.values.map((v) => Math.fround(v as number)));
    tf.dispose([...Object.values(all), ...Object.values(half)]);
  });

  it('matches the safetensors files that tools/export_torch_checkpoint.py wrote from the same checkpoints', () => {
    const cases: [string, string, string | undefined, ((k: string) => boolean) | undefined][] = [
      ['tag2pix_checkpoint_legacy.pkl', 'tag2pix_checkpoint_legacy.generator', 'G', undefined],
      ['tag2pix_checkpoint_legacy.pkl', 'tag2pix_checkpoint_legacy.discriminator', 'D', undefined],
      ['cit_model_legacy.pth', 'cit_model_legacy.cit', 'weight', (k) => /^(conv1|bn1|layer1|layer2)\./.test(k)],
    ];
    for (const [source, exported, entry, filter] of cases) {
      const ours = torchStateDictFrom(readTorchCheckpoint(fixture(source)), entry, { filter });
      const theirs = readSafetensors(fixture(`exported/${exported}.safetensors`));
      expect(Object.keys(theirs).sort(), exported).toEqual(Object.keys(ours).sort());
      for (const key of Object.keys(ours)) {
        expect(theirs[key]!.dtype, key).toBe(ours[key]!.dtype);
        expect(theirs[key]!.shape, key).toEqual(ours[key]!.shape);
        expect(Array.from(theirs[key]!.dataSync()), key).toEqual(Array.from(ours[key]!.dataSync()));
      }
      tf.dispose([...Object.values(ours), ...Object.values(theirs)]);
    }
  });
});

describe('the documented workflow: checkpoint → torchStateDictFrom → loadTorchStateDict', () => {
  it("loads the G entry of the official-layout checkpoint into a model, key for key", () => {
    // The G entry holds conv (Conv2d 3→4, 3×3), bn (BatchNorm2d 4) and fc (Linear 8→5); tfjs
    // Conv2D / BatchNormalization / Dense layers named alike take them.
    const image = tfl.input({ shape: [5, 5, 3] });
    const features = tfl.input({ shape: [8] });
    const conv = tfl.layers.conv2d({ name: 'conv', filters: 4, kernelSize: 3, padding: 'same' }).apply(image);
    const bn = tfl.layers.batchNormalization({ name: 'bn', epsilon: 1e-5 }).apply(conv);
    const fc = tfl.layers.dense({ name: 'fc', units: 5 }).apply(features);
    const model = tfl.model({ inputs: [image, features], outputs: [bn as tfl.SymbolicTensor, fc as tfl.SymbolicTensor] });

    const weights = torchStateDictFrom(readTorchCheckpoint(fixture('tag2pix_checkpoint_legacy.pkl')), 'G', {
      filter: (k) => /^(conv|bn|fc)\./.test(k),
    });
    const report = loadTorchStateDict(model, weights);
    expect(report.loaded.sort()).toEqual(
      ['bn.bias', 'bn.running_mean', 'bn.running_var', 'bn.weight', 'conv.bias', 'conv.weight', 'fc.bias', 'fc.weight'],
    );
    const expectedG = expected['tag2pix_checkpoint']!['G'] as Record<string, Expected>;
    const want = (key: string) => tensorOf(expectedG[`module.${key}`]);
    const w = (layer: string, i: number) => model.getLayer(layer).getWeights()[i]!;
    // Conv2d [out, in, kh, kw] → HWIO; Linear [out, in] → [in, out].
    const convWant = tf.tensor(want('conv.weight').values as number[], want('conv.weight').shape);
    expect(tf.tidy(() => tf.max(tf.abs(tf.sub(w('conv', 0), tf.transpose(convWant, [2, 3, 1, 0])))).dataSync()[0])).toBe(0);
    const fcWant = tf.tensor(want('fc.weight').values as number[], want('fc.weight').shape);
    expect(tf.tidy(() => tf.max(tf.abs(tf.sub(w('fc', 0), tf.transpose(fcWant)))).dataSync()[0])).toBe(0);
    expect(Array.from(w('bn', 2).dataSync())).toEqual((want('bn.running_mean').values as number[]).map(Math.fround));
    tf.dispose([convWant, fcWant, ...Object.values(weights)]);
    model.layers.forEach((l) => l.dispose());
  });
});

describe('readTorchCheckpoint: plain Python values and other dtypes', () => {
  for (const file of ['misc_zip_protocol4.pt', 'misc_legacy.pt']) {
    it(`maps Python values and every storage type in ${file}`, () => {
      const misc = asDict(readTorchCheckpoint(fixture(file)));
      const want = expected['misc']!;
      expect(misc['int']).toBe(7);
      expect(misc['negative']).toBe(-300000);
      expect(misc['big']).toBe(BigInt((want['big'] as { __bigint__: string }).__bigint__));
      expect(misc['float']).toBe(0.25);
      expect(misc['text']).toBe('h\u00e9llo');
      expect(misc['yes']).toBe(true);
      expect(misc['no']).toBe(false);
      expect(misc['nothing']).toBeNull();
      expect(misc['tuple']).toEqual([1, 'a']);
      expect(misc['list']).toEqual([1.5, [2, 3]]);
      expect(misc['nested']).toEqual({ a: { b: 1 } });
      expect(misc['int_keys']).toEqual({ 0: 'zero', 1: 'one' });
      expect(misc['bytes']).toEqual(new Uint8Array([0, 255, 65]));
      expect(misc['device']).toBe('cuda:0');
      for (const key of ['float64', 'int32', 'uint8', 'int8', 'int16', 'bool', 'empty', 'expanded', 'shared_a', 'shared_b']) {
        expectTensor(misc[key], tensorOf(want[key]), key);
      }
      expect((misc['shared_b'] as TorchTensor).storage).toBe((misc['shared_a'] as TorchTensor).storage);
      expect((misc['expanded'] as TorchTensor).stride).toEqual([0, 1]);
      // Reading succeeds; only materialising an out-of-int32-range int64 fails, naming it.
      const big = misc['int64_big'] as TorchTensor;
      expect(big.dtype).toBe('int64');
      expect(() => big.toTypedArray("tensor 'int64_big'")).toThrow(
        /tensor 'int64_big' \(int64\) holds 1099511627776 at flat index 0, outside the int32 range/,
      );
    });
  }

  it('disposes what it created when a tensor cannot be converted', () => {
    const misc = asDict(readTorchCheckpoint(fixture('misc_legacy.pt')));
    const before = tf.memory().numTensors;
    const mixed = { a: misc['float64']!, b: misc['int32']!, c: misc['int64_big']! } as TorchValue;
    expect(() => torchStateDictFrom(mixed)).toThrow(/tensor 'c' \(int64\).*outside the int32 range/);
    expect(tf.memory().numTensors).toBe(before);
  });
});

describe('readTorchCheckpoint: refusals and damaged files', () => {
  for (const file of ['forbidden_global_zip.pt', 'forbidden_global_legacy.pt']) {
    it(`refuses the os.system global in ${file} and names it`, () => {
      expect(() => readTorchCheckpoint(fixture(file))).toThrow(/refusing to load the Python global 'posix\.system'/);
    });
  }

  it('refuses a whole pickled nn.Module, naming its class', () => {
    expect(() => readTorchCheckpoint(fixture('whole_module_zip.pt'))).toThrow(
      /refusing to load the Python global 'torch\.nn\.modules\.linear\.Linear'.*state_dict/,
    );
  });

  it('names an unknown storage type', () => {
    const text = new TextDecoder('latin1').decode(fixture('state_dict_legacy.pt'));
    // GLOBAL names are newline-terminated text, so the name can change length.
    const patched = text.replaceAll('torch\nFloatStorage\n', 'torch\nComplexFloatStorage\n');
    const bytes = Uint8Array.from(patched, (c) => c.charCodeAt(0));
    expect(() => readTorchCheckpoint(bytes)).toThrow(/unsupported storage type torch\.ComplexFloatStorage/);
  });

  it('names an unsupported pickle protocol', () => {
    const bytes = fixture('state_dict_legacy.pt').slice();
    expect(bytes[1]).toBe(2);
    bytes[1] = 6;
    expect(() => readTorchCheckpoint(bytes)).toThrow(/pickle protocol 6 is not supported/);
  });

  it('gives a clear error for every truncation of a legacy file', () => {
    const bytes = fixture('state_dict_legacy.pt');
    for (const n of TRUNCATION_POINTS(bytes.length)) {
      expect(() => readTorchCheckpoint(bytes.subarray(0, n)), `cut at ${n}`).toThrow(/^torch checkpoint.*(truncated|corrupt)/);
    }
  });

  it('gives a clear error for every truncation of a zip file', () => {
    const bytes = fixture('state_dict_zip.pt');
    for (const n of TRUNCATION_POINTS(bytes.length).filter((n) => n >= 4)) {
      expect(() => readTorchCheckpoint(bytes.subarray(0, n)), `cut at ${n}`).toThrow(/^torch checkpoint.*(truncated|corrupt)/);
    }
  });

  it('names a corrupt storage record and a view outside its storage', () => {
    // The legacy record of the last storage (bn.num_batches_tracked, 1 int64) starts 16 bytes
    // from the end: an 8-byte count then 8 bytes of data.
    const bytes = fixture('state_dict_legacy.pt').slice();
    new DataView(bytes.buffer).setBigInt64(bytes.length - 16, 5n, true);
    expect(() => readTorchCheckpoint(bytes)).toThrow(/record says 5; the file is corrupt/);
    // A tensor whose offset points past its storage.
    const text = new TextDecoder('latin1').decode(fixture('state_dict_legacy.pt'));
    expect(text).toContain('torch\nLongStorage\n');
    const sd = asDict(readTorchCheckpoint(fixture('state_dict_legacy.pt')));
    const t = sd['bn.num_batches_tracked'] as TorchTensor;
    const shifted = new TorchTensor(t.storage, 1, [], []);
    expect(() => shifted.checkBounds()).toThrow(/reaches outside its storage/);
  });

  it('says what a file is when it is not a checkpoint', () => {
    expect(() => readTorchCheckpoint(new Uint8Array([1, 2, 3, 4, 5, 6]))).toThrow(/not a PyTorch checkpoint/);
    expect(() => readTorchCheckpoint(new Uint8Array([0x80]))).toThrow(/only 1 bytes long/);
    expect(() => readTorchCheckpoint(fixture('exported/tag2pix_checkpoint_legacy.discriminator.safetensors'))).toThrow(
      /safetensors file.*readSafetensors/,
    );
    expect(() => torchStateDictFrom(readTorchCheckpoint(fixture('misc_legacy.pt')))).toThrow(
      /no state dict found in the checkpoint \(it holds: int \(number\), negative \(number\)/,
    );
    expect(() => torchStateDictFrom([1, 2])).toThrow(/it holds: list/);
  });
});

/** Our value in the JSON shape make_fixtures.py's describe_tree gives Python values. */
function normalise(value: unknown): unknown {
  if (typeof value === 'bigint') {
    return Number.isSafeInteger(Number(value)) ? Number(value) : { __bigint__: value.toString() };
  }
  if (value instanceof Uint8Array) return { __bytes__: Array.from(value) };
  if (Array.isArray(value)) return value.map(normalise);
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, normalise(v)]));
  }
  return value;
}

describe('readPickle and the unpickler', () => {
  for (const protocol of [2, 3, 4, 5]) {
    it(`reads Python's own protocol ${protocol} pickle of plain values`, () => {
      const value = readPickle(fixture(`plain_protocol${protocol}.pkl`)) as Record<string, unknown>;
      const sets = { ...value, set: [...(value['set'] as number[])].sort(), frozen: value['frozen'] };
      expect(normalise(sets)).toEqual(expected['plain']);
      // Non-string dict keys are stored as Python's str() of the key.
      expect(Object.keys(value['keys'] as object).sort()).toEqual(["(1, 'a')", '(2,)', '7', 'False', 'None'].sort());
    });
  }

  it('refuses tensors in a plain pickle and globals as everywhere else', () => {
    // BININT1 1, BINPERSID: a storage reference, as in a checkpoint's data.pkl.
    expect(() => readPickle(new Uint8Array([0x80, 2, 0x4b, 1, 0x51, 0x2e]))).toThrow(/refers to tensor storages.*readTorchCheckpoint/);
    // GLOBAL 'os\nsystem\n' then STOP.
    const global = new Uint8Array([0x80, 2, 0x63, ...new TextEncoder().encode('os\nsystem\n'), 0x2e]);
    expect(() => readPickle(global)).toThrow(/refusing to load the Python global 'os\.system'/);
  });

  it('names corrupt pickles instead of crashing', () => {
    const cases: [number[], RegExp][] = [
      [[0x80, 2, 0x73, 0x2e], /stack is empty/], // SETITEM on an empty stack
      [[0x80, 2, 0x74, 0x2e], /expects a MARK/], // TUPLE without MARK
      [[0x80, 2, 0x68, 5, 0x2e], /memo entry 5 is read before it is written/], // BINGET of nothing
      [[0x80, 2, 0x4b, 1, 0x4b, 2, 0x2e], /unbalanced stack/], // two values, one STOP
      [[0x80, 2, 0x49, 0x31, 0x0a, 0x2e], /unsupported pickle opcode 0x49 'I' \(INT\)/], // protocol-0 INT
      [[0x80, 2, 0x58, 0xff, 0xff, 0, 0], /data ends .* truncated or corrupt/], // BINUNICODE past the end
      [[0x80, 2, 0x5d, 0x4b, 1, 0x73, 0x2e], /stack is empty|not a dict/], // SETITEM on a list
      [[0x80, 9, 0x2e], /pickle protocol 9 is not supported/],
    ];
    for (const [bytes, message] of cases) {
      expect(() => readPickle(new Uint8Array(bytes)), bytes.join(',')).toThrow(message);
    }
  });

  it('torchStateDictFrom refuses a dict that contains itself', () => {
    const looped: Record<string, TorchValue> = {};
    looped['self'] = looped;
    expect(() => torchStateDictFrom({ net: looped }, 'net')).toThrow(/contains itself at 'self'/);
  });
});
