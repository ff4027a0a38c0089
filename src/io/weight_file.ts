// A weight file's state dicts, found without decoding them: a safetensors file is one; a torch
// checkpoint may hold several (the official `tag2pix_*.pkl` holds `G` and `D`, the CIT
// `model.pth` holds `weight`). Reading a file's keys and shapes costs its bytes only; a tensor is
// decoded when asked for, so that a discriminator, an optimizer state or the CIT classifier's
// upper layers never are (docs/security.md). Browser-safe: `tag2pix/io`'s `loadColorizer` and
// `tag2pix/node`'s `readStateDicts` both read files through here.
import * as tf from '@tensorflow/tfjs-core';
import {
  FileFormatError,
  LimitError,
  OptionError,
  Tag2PixError,
  WeightsError,
  quoteValue,
  type ErrorText,
  type Tag2PixErrorOptions,
} from '../errors.js';
import type { StateDictShapes } from '../models/infer_config.js';
import { PickleError, isPickleDict } from './pickle.js';
import { readSafetensors, readSafetensorsHeader } from './safetensors.js';
import { readTorchCheckpoint, torchStateDictEntries, type TorchTensor, type TorchValue } from './torch_checkpoint.js';

/** One state dict of a weight file, known by its keys and shapes until it is decoded. */
export interface ScannedStateDict {
  /** The file's name as the caller gave it (a path, a URL's last part, a `File`'s name). */
  file: string;
  /** The torch checkpoint's entry it came from (`G`, `D`, `weight`), if any. */
  entry?: string;
  /** Keys (a DataParallel `module.` that every key has removed) and shapes. */
  shapes: StateDictShapes;
  /** A safetensors file's metadata (a training checkpoint says what it is there). */
  metadata?: Record<string, string>;
  /**
   * Decodes the tensors (all, or those whose key passes `filter`); the caller disposes them. A
   * failure leaves nothing allocated and names the file.
   */
  load(filter?: (key: string) => boolean): Record<string, tf.Tensor>;
}

/** `'file'` or `'file (G)'`: how messages and `Colorizer.sources` name a state dict. */
export function stateDictLabel(d: { file: string; entry?: string }): string {
  return d.entry ? `${d.file} (${d.entry})` : d.file;
}

/** Error classes whose constructor takes (text, options), so that one can be re-made with the file named. */
const RENAMEABLE = new Set<unknown>([Tag2PixError, FileFormatError, LimitError, OptionError, WeightsError, PickleError]);

/**
 * Re-raises an error of ours with the weight file named first (`Weight file 'x': …`), keeping its
 * class, option and hint; `shown` is how the message names it (`'x.pkl (G)'`). Other errors (bugs,
 * an abort) pass as they are.
 */
export function namingWeightFile(file: string, err: unknown, shown = file): unknown {
  if (!(err instanceof Tag2PixError) || err.file !== undefined || !RENAMEABLE.has(err.constructor)) return err;
  const Kind = err.constructor as new (text: ErrorText, options: Tag2PixErrorOptions) => Tag2PixError;
  return new Kind((name) => `Weight file ${quoteValue(shown, 200)}: ${err.messageFor(name)}`, {
    file,
    option: err.option,
    hint: err.hint,
    cause: err,
  });
}

/** Sets an own property, whatever the key (a tensor may be called `__proto__`). */
function setOwn<T>(record: Record<string, T>, key: string, value: T): void {
  Object.defineProperty(record, key, { value, enumerable: true, writable: true, configurable: true });
}

/** Removes a DataParallel `module.` prefix when every key has it. */
function withoutModule(keys: readonly string[]): (key: string) => string {
  const strip = keys.length > 0 && keys.every((k) => k.startsWith('module.'));
  return strip ? (k) => k.slice('module.'.length) : (k) => k;
}

/** What a file that is no weights file looks like, for the error. */
function looksLike(b: Uint8Array): string | undefined {
  if (b[0] === 0x89 && b[1] === 0x50 && b[2] === 0x4e && b[3] === 0x47) return 'a PNG image';
  if (b[0] === 0xff && b[1] === 0xd8) return 'a JPEG image';
  if (b[0] === 0x3c) return 'a text or HTML file (an error page instead of the file?)';
  return undefined;
}

function scanSafetensors(file: string, bytes: Uint8Array): ScannedStateDict {
  const header = readSafetensorsHeader(bytes);
  const names = Object.keys(header.tensors);
  const short = withoutModule(names);
  const shapes: Record<string, { readonly shape: readonly number[] }> = {};
  for (const n of names) setOwn(shapes, short(n), header.tensors[n]!);
  return {
    file,
    shapes,
    metadata: header.metadata,
    load: (filter) => {
      let tensors: Record<string, tf.Tensor>;
      try {
        tensors = readSafetensors(bytes, { filter: (n) => !filter || filter(short(n)) });
      } catch (e) {
        throw namingWeightFile(file, e);
      }
      const out: Record<string, tf.Tensor> = {};
      for (const [n, t] of Object.entries(tensors)) setOwn(out, short(n), t);
      return out;
    },
  };
}

function scanTorchEntry(file: string, checkpoint: TorchValue, entry?: string): ScannedStateDict {
  const label = stateDictLabel({ file, entry });
  let pairs: Array<[string, TorchTensor]>;
  try {
    pairs = torchStateDictEntries(checkpoint, entry);
  } catch (e) {
    throw namingWeightFile(file, e, label);
  }
  const shapes: Record<string, TorchTensor> = {};
  for (const [k, t] of pairs) setOwn(shapes, k, t);
  return {
    file,
    ...(entry !== undefined ? { entry } : {}),
    shapes,
    load: (filter) => {
      const out: Record<string, tf.Tensor> = {};
      try {
        for (const [k, t] of pairs) if (!filter || filter(k)) setOwn(out, k, t.toTensor(`tensor ${quoteValue(k)}`));
      } catch (e) {
        tf.dispose(Object.values(out));
        throw namingWeightFile(file, e, label);
      }
      return out;
    },
  };
}

/**
 * The state dicts of a weight file's bytes, not yet decoded. Safetensors is told by its name
 * (`.safetensors`) or its header; a torch checkpoint by its zip or pickle signature; anything else
 * is a {@link FileFormatError} saying what it looks like. Every error names the file.
 */
export function scanWeightFile(file: string, bytes: Uint8Array): ScannedStateDict[] {
  const isSafetensors = file.toLowerCase().endsWith('.safetensors') || (bytes.length >= 9 && bytes[8] === 0x7b);
  const isTorch = (bytes[0] === 0x50 && bytes[1] === 0x4b) || bytes[0] === 0x80;
  if (!isSafetensors && !isTorch) {
    const what = looksLike(bytes);
    throw new FileFormatError(
      `${quoteValue(file, 200)} is ${what ?? 'not a weights file'}${what ? ', not a weights file' : ''}: give a .safetensors file or ` +
        'an official PyTorch checkpoint (.pth zip or .pkl pickle).',
      { file, option: 'sources' },
    );
  }
  if (isSafetensors) {
    try {
      return [scanSafetensors(file, bytes)];
    } catch (e) {
      throw namingWeightFile(file, e);
    }
  }
  let checkpoint: TorchValue;
  try {
    checkpoint = readTorchCheckpoint(bytes);
  } catch (e) {
    throw namingWeightFile(file, e);
  }
  // The official files: tag2pix_*.pkl holds G (and D, optimizers); the CIT model.pth holds weight.
  const entries = isPickleDict(checkpoint) ? ['G', 'D', 'weight'].filter((k) => Object.prototype.hasOwnProperty.call(checkpoint, k)) : [];
  return entries.length === 0 ? [scanTorchEntry(file, checkpoint)] : entries.map((entry) => scanTorchEntry(file, checkpoint, entry));
}
