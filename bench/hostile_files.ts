// `npx tsx bench/hostile_files.ts`: the hostile files of issue 17, made here, each read in a fresh
// process: wall time, peak RSS above a process that only imports the library, and the outcome.
// Not a test: the figures go to docs/security.md.
//
// Options: --src <folder>  read with the library's sources in another folder (e.g. a copy of an
//                          older src/ placed inside this repository, for a before/after table)
//          --cases a,b     only these cases (zip-bomb, expanded-view, png-bomb, nested-dicts, unknown-tags)
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { createDeflateRaw } from 'node:zlib';
import { concat, legacyTorchFile, pngChunk, zipTorchFile } from '../test/helpers/torch_files.js';
import { loadNote } from './util.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.dirname(here);
const { values } = parseArgs({
  options: {
    src: { type: 'string', default: path.join(root, 'src') },
    cases: { type: 'string', default: 'zip-bomb,expanded-view,png-bomb,nested-dicts,unknown-tags' },
    child: { type: 'string' },
    file: { type: 'string' },
  },
});
const src = path.resolve(values.src);
const lib = (p: string) => import(pathToFileURL(path.join(src, p)).href);

// ------------------------------------------------------------------------------------------------
// In the child: read one file, report time, peak RSS and outcome as JSON.
// ------------------------------------------------------------------------------------------------

if (values.child) {
  const io = await lib('io/torch_checkpoint.ts');
  const image = await lib('node/image.ts');
  const tags = await lib('data/tags.ts');
  const tf = await import('@tensorflow/tfjs-core');
  await import('@tensorflow/tfjs-backend-cpu');
  await tf.setBackend('cpu');
  const file = values.file!;
  const started = performance.now();
  let outcome: string;
  try {
    switch (values.child) {
      case 'baseline':
        outcome = 'imports only';
        break;
      case 'zip-bomb':
      case 'expanded-view': {
        const { readFileSync } = await import('node:fs');
        const sd = io.torchStateDictFrom(io.readTorchCheckpoint(new Uint8Array(readFileSync(file))));
        outcome = `loaded ${Object.keys(sd).length} tensor(s)`;
        break;
      }
      case 'nested-dicts': {
        const { readFileSync } = await import('node:fs');
        io.torchStateDictFrom(io.readTorchCheckpoint(new Uint8Array(readFileSync(file))), 'a');
        outcome = 'loaded';
        break;
      }
      case 'png-bomb': {
        // What colorize does for a 256 px model: the line art, grey, fitted to 256 px.
        const r = await image.readImage(file, { channels: 1, size: 256 });
        outcome = `decoded to ${r.width}×${r.height}`;
        break;
      }
      case 'unknown-tags': {
        tags.defaultVocabulary().parseTags(Array.from({ length: 10_000 }, (_, i) => `nosuchtag${i}`).join(','));
        outcome = 'parsed';
        break;
      }
      default:
        throw new Error(`unknown case ${values.child}`);
    }
  } catch (e) {
    const message = String((e as Error).message);
    outcome = `${(e as Error).name}: ${message.split('\n')[0]!.slice(0, 110)}${message.length > 110 ? '…' : ''} (${message.length} chars)`;
  }
  const ms = performance.now() - started;
  console.log(JSON.stringify({ ms, maxRssKiB: process.resourceUsage().maxRSS, outcome }));
  process.exit(0);
}

// ------------------------------------------------------------------------------------------------
// In the parent: make the files, run each case in its own process.
// ------------------------------------------------------------------------------------------------

/** A raw deflate stream of `bytes` zeros, written through a 1 MiB buffer (never all in memory). */
async function deflatedZeros(bytes: number): Promise<Uint8Array> {
  const chunks: Buffer[] = [];
  const stream = createDeflateRaw({ level: 9 });
  stream.on('data', (c: Buffer) => chunks.push(c));
  const done = new Promise((resolve) => stream.on('end', resolve));
  const zero = Buffer.alloc(1 << 20);
  for (let written = 0; written < bytes; written += zero.length) {
    if (!stream.write(zero)) await new Promise((r) => stream.once('drain', r));
  }
  stream.end();
  await done;
  return new Uint8Array(Buffer.concat(chunks));
}

/** PNG rows of zeros (filter byte 0 + `width` zero bytes), deflated as zlib, streamed. */
async function pngOfZeros(width: number, height: number): Promise<Uint8Array> {
  const { createDeflate } = await import('node:zlib');
  const chunks: Buffer[] = [];
  const stream = createDeflate({ level: 9 });
  stream.on('data', (c: Buffer) => chunks.push(c));
  const done = new Promise((resolve) => stream.on('end', resolve));
  const rows = Buffer.alloc((width + 1) * 64);
  for (let y = 0; y < height; y += 64) {
    if (!stream.write(rows)) await new Promise((r) => stream.once('drain', r));
  }
  stream.end();
  await done;
  const ihdr = new Uint8Array(13);
  new DataView(ihdr.buffer).setUint32(0, width);
  new DataView(ihdr.buffer).setUint32(4, height);
  ihdr[8] = 8;
  return concat([
    Uint8Array.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    pngChunk('IHDR', ihdr),
    pngChunk('IDAT', new Uint8Array(Buffer.concat(chunks))),
    pngChunk('IEND', new Uint8Array(0)),
  ]);
}

const dir = mkdtempSync(path.join(os.tmpdir(), 'tag2pix-hostile-bench-'));
try {
  const cases = values.cases.split(',');
  const files: Record<string, string> = {};
  const write = (name: string, bytes: Uint8Array) => {
    files[name] = path.join(dir, name);
    writeFileSync(files[name]!, bytes);
  };
  if (cases.includes('zip-bomb')) {
    // A 2 MB state dict and, beside it, an entry of 2 GiB of zeros that nothing references.
    const weights = new Float32Array(512 * 1024).map((_, i) => Math.sin(i));
    const zeros = await deflatedZeros(2 ** 31);
    write(
      'zip-bomb',
      zipTorchFile(
        { 'conv.weight': { values: Array.from(weights), shape: [512, 1024] } },
        { extra: [{ name: 'archive/extra/zeros.bin', method: 8, raw: zeros, size: 2 ** 31, crc: 0 }] },
      ),
    );
  }
  if (cases.includes('expanded-view')) {
    write('expanded-view', legacyTorchFile({ 'conv1.weight': { values: [0.5], shape: [20000, 20000], stride: [0, 0] } }));
  }
  if (cases.includes('png-bomb')) write('png-bomb', await pngOfZeros(16000, 16000));
  if (cases.includes('nested-dicts')) {
    const depth = 100_000;
    const open = new Uint8Array(depth * 4 + 1);
    open[0] = 0x7d;
    for (let i = 0; i < depth; i++) open.set([0x8c, 1, 0x61, 0x7d], 1 + i * 4);
    write('nested-dicts', legacyTorchFile({}, { body: concat([Uint8Array.from([0x80, 2]), open, new Uint8Array(depth).fill(0x73), Uint8Array.from([0x2e])]) }));
  }
  if (cases.includes('unknown-tags')) write('unknown-tags', new Uint8Array(0));

  const run = (name: string, file = '') =>
    JSON.parse(
      execFileSync(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url), '--src', src, '--child', name, '--file', file], {
        cwd: root,
        encoding: 'utf8',
        maxBuffer: 1 << 20,
      }).trim().split('\n').pop()!,
    ) as { ms: number; maxRssKiB: number; outcome: string };
  const baseline = run('baseline');
  console.log(`sources: ${path.relative(root, src) || '.'}; ${loadNote()}`);
  console.log('| case | file | time | peak RSS above imports | outcome |');
  console.log('|---|---|---|---|---|');
  for (const name of cases) {
    const r = run(name, files[name]);
    const size = name === 'unknown-tags' ? '10,000 names' : `${(statSync(files[name]!).size / 1024).toFixed(1)} KiB`;
    const mib = Math.max(0, (r.maxRssKiB - baseline.maxRssKiB) / 1024);
    console.log(`| ${name} | ${size} | ${r.ms < 1000 ? `${r.ms.toFixed(0)} ms` : `${(r.ms / 1000).toFixed(1)} s`} | ${mib.toFixed(0)} MiB | ${r.outcome} |`);
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
