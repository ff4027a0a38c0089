import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { FileFormatError, LimitError, Tag2PixError } from '../../src/errors.js';
import { MAX_PICKLE_OPCODES } from '../../src/io/pickle.js';
import { readPickle, readTorchCheckpoint, torchStateDictFrom } from '../../src/io/torch_checkpoint.js';
import { MiB, withPeakMemory } from '../helpers/memory.js';
import { concat, legacyTorchFile, pickle, zipTorchFile, type Py, type TorchTensorSpec } from '../helpers/torch_files.js';

// torch.save files built by the test itself (test/helpers/torch_files.ts), in both layouts.

const layouts = [
  ['legacy', legacyTorchFile],
  ['zip', zipTorchFile],
] as const;

describe('no code runs from a hostile pickle', () => {
  const attacks: Array<[string, Py]> = [
    ['os.system', { call: [{ global: ['os', 'system'] }, ['touch /tmp/tag2pix-pwned']] }],
    ['posix.system', { call: [{ global: ['posix', 'system'] }, ['touch /tmp/tag2pix-pwned']] }],
    ['builtins.eval', { call: [{ global: ['builtins', 'eval'] }, ["__import__('os').system('id')"]] }],
    ['builtins.exec', { call: [{ global: ['__builtin__', 'exec'] }, ['import os']] }],
    ['subprocess.Popen', { call: [{ global: ['subprocess', 'Popen'] }, [['sh', '-c', 'id']]] }],
    ['torch.nn.modules.linear.Linear', { build: [{ call: [{ global: ['torch.nn.modules.linear', 'Linear'] }, []] }, { dict: [] }] }],
  ];
  for (const [layout, write] of layouts) {
    for (const [name, payload] of attacks) {
      it(`refuses ${name} in a ${layout} file, naming it`, () => {
        const file = write({ w: { values: [1], shape: [1] } }, { wrap: (sd) => ({ dict: [['G', sd], ['payload', payload]] }) });
        let error: unknown;
        try {
          readTorchCheckpoint(file);
        } catch (e) {
          error = e;
        }
        expect(error).toBeInstanceOf(FileFormatError);
        const shown = name === 'builtins.exec' ? 'builtins.exec' : name;
        expect((error as Error).message).toContain(`refusing to load the Python global '${shown}'`);
        expect((error as Error).message).toMatch(/nothing in the file is ever executed/);
      });
    }
  }

  it('refuses a pickled module as a persistent id, saying how to save a state dict', () => {
    const body = pickle({ persid: ['module', { global: ['torch.nn.modules.linear', 'Linear'] }, 'source'] });
    const file = legacyTorchFile({}, { body });
    expect(() => readTorchCheckpoint(file)).toThrow(/refusing to load the Python global 'torch\.nn\.modules\.linear\.Linear'/);
    const persidOnly = legacyTorchFile({}, { body: pickle({ persid: ['module', 'x', 'y'] }) });
    expect(() => readTorchCheckpoint(persidOnly)).toThrow(/whole pickled nn\.Module.*state_dict\(\)/);
  });
});

describe('tensor views are bounded by what their storage holds (issue 17, item 2)', () => {
  // The file: a 1-element storage viewed as 20000 × 20000 with strides 0, 0.
  const expanded = (side: number): Record<string, TorchTensorSpec> => ({ 'conv1.weight': { values: [0.5], shape: [side, side], stride: [0, 0] } });

  for (const [layout, write] of layouts) {
    it(`refuses a ${layout} 20000×20000 stride-0 view of one element before allocating it`, async () => {
      const file = write(expanded(20000));
      expect(file.length).toBeLessThan(1000);
      const before = tf.memory().numTensors;
      const { error, peakGrowth } = await withPeakMemory(() => torchStateDictFrom(readTorchCheckpoint(file)));
      expect(error).toBeInstanceOf(LimitError);
      expect((error as Error).message).toMatch(
        /'conv1\.weight' has shape \[20000, 20000\] \(strides \[0, 0\]\) but its storage '0' holds 1 elements.*tensor\.clone\(\)/,
      );
      expect(peakGrowth).toBeLessThan(32 * MiB);
      expect(tf.memory().numTensors).toBe(before);
    });
  }

  it('names 70000² too (no "Invalid typed array length")', () => {
    expect(() => torchStateDictFrom(readTorchCheckpoint(legacyTorchFile(expanded(70000))))).toThrow(LimitError);
    // Shapes whose product passes 2^53 are refused as they grow, never multiplied out.
    const absurd = legacyTorchFile({ w: { values: [1], shape: [2 ** 40, 2 ** 40, 2 ** 40], stride: [0, 0, 0] } });
    expect(() => torchStateDictFrom(readTorchCheckpoint(absurd))).toThrow(/holds 1 elements/);
  });

  it('still reads small expanded views and ordinary strided ones', () => {
    const file = legacyTorchFile({
      small: { values: [7], shape: [3, 4], stride: [0, 0] },
      transposed: { values: [1, 2, 3, 4, 5, 6], shape: [3, 2], stride: [1, 3] },
    });
    const sd = torchStateDictFrom(readTorchCheckpoint(file));
    expect(Array.from(sd['small']!.dataSync())).toEqual(new Array(12).fill(7));
    expect(Array.from(sd['transposed']!.dataSync())).toEqual([1, 4, 2, 5, 3, 6]);
    tf.dispose(Object.values(sd));
  });
});

describe('deep nesting and huge pickles (issue 17, item 15)', () => {
  /** 100k dicts, each the only value of the one before: `{'a': {'a': {…}}}`, built iteratively. */
  function nestedDicts(depth: number): Uint8Array {
    const key = [0x8c, 1, 0x61]; // SHORT_BINUNICODE 'a'
    const open = new Uint8Array(depth * 4 + 1);
    open[0] = 0x7d;
    for (let i = 0; i < depth; i++) open.set([...key, 0x7d], 1 + i * 4);
    const close = new Uint8Array(depth).fill(0x73); // SETITEM
    return concat([Uint8Array.from([0x80, 2]), open, close, Uint8Array.from([0x2e])]);
  }

  it('says that 100k nested dicts are no state dict (no "Maximum call stack size exceeded")', () => {
    const file = legacyTorchFile({}, { body: nestedDicts(100_000) });
    const checkpoint = readTorchCheckpoint(file);
    expect(() => torchStateDictFrom(checkpoint)).toThrow(/no state dict found in the checkpoint \(it holds: a \(dict\)\)/);
    expect(() => torchStateDictFrom(checkpoint, 'a')).toThrow(FileFormatError);
    expect(() => torchStateDictFrom(checkpoint, 'a')).toThrow(/'a' nests dicts more than 64 deep/);
    const zip = zipTorchFile({}, { body: nestedDicts(100_000) });
    expect(() => torchStateDictFrom(readTorchCheckpoint(zip), ['a', 'a'])).toThrow(/nests dicts more than 64 deep/);
  });

  it('names a deeply nested tuple used as a dict key, and a self-containing one', () => {
    // ((((...),),),) 100k deep as the key of a dict.
    const depth = 100_000;
    const bytes = concat([
      Uint8Array.from([0x80, 2, 0x7d]),
      Uint8Array.from([0x29]), // EMPTY_TUPLE
      new Uint8Array(depth).fill(0x85), // TUPLE1
      Uint8Array.from([0x4b, 1, 0x73, 0x2e]), // value 1, SETITEM
    ]);
    expect(() => readPickle(bytes)).toThrow(/a dict key nests tuples more than 32 deep/);
  });

  it(`refuses a pickle of more than ${MAX_PICKLE_OPCODES} opcodes before its objects fill the memory`, async () => {
    const many = concat([Uint8Array.from([0x80, 2, 0x5d]), new Uint8Array(MAX_PICKLE_OPCODES + 10).fill(0x4e), Uint8Array.from([0x2e])]);
    const { error, peakGrowth } = await withPeakMemory(() => readPickle(many));
    expect(error).toBeInstanceOf(LimitError);
    expect((error as Error).message).toMatch(/more than 1048576 opcodes/);
    expect(peakGrowth).toBeLessThan(128 * MiB);
  });

  it('faults the fuzz suite found stay fixed', () => {
    // APPENDS closing a MARK run of 200,000 items (a spread of them overflowed the call stack).
    const long = concat([Uint8Array.from([0x80, 2, 0x5d, 0x28]), new Uint8Array(200_000).fill(0x4e), Uint8Array.from([0x65, 0x2e])]);
    expect((readPickle(long) as unknown[]).length).toBe(200_000);
    // A persistent id whose kind is a tuple nested 100,000 deep (String() of it overflowed).
    const deep = concat([Uint8Array.from([0x80, 2, 0x29]), new Uint8Array(100_000).fill(0x85), Uint8Array.from([0x85, 0x51, 0x2e])]);
    expect(() => readTorchCheckpoint(legacyTorchFile({}, { body: deep }))).toThrow(/unsupported persistent id 'a tuple\/list'; only storages are supported/);
    // A storage id whose view metadata is not a tuple (a TypeError before).
    const view = pickle({
      call: [
        { global: ['torch._utils', '_rebuild_tensor_v2'] },
        [{ persid: ['storage', { global: ['torch', 'FloatStorage'] }, '0', 'cpu', 1, 5] }, 0, [1], [1], false, null],
      ],
    });
    expect(() => readTorchCheckpoint(legacyTorchFile({}, { body: view }))).toThrow(/storage '0' has view metadata that is number, not a tuple/);
  });

  it('every error of a damaged file is one of ours, with a message', () => {
    const good = legacyTorchFile({ w: { values: [1, 2], shape: [2] } });
    for (let cut = 0; cut < good.length; cut += 7) {
      try {
        torchStateDictFrom(readTorchCheckpoint(good.subarray(0, cut)));
      } catch (e) {
        expect(e, `cut at ${cut}`).toBeInstanceOf(Tag2PixError);
        expect((e as Error).message.length).toBeGreaterThan(10);
      }
    }
  });
});
