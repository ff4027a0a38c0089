// Grouped 3×3 convolution: candidate implementations, forward and forward+backward, per backend.
//
//   npx tsx bench/grouped_conv.ts [--backends cpu,wasm] [--runs 7] [--cases 'ch/group'] [--impls split,depthwise] [--json out.json]
//
// Each implementation is first checked against the split/conv/concat one (max abs difference),
// warmed up, then timed `runs` times round robin with the others (so that load from other
// processes hits all alike); the median is reported. The machine's load average is printed
// with the results because other processes share the cores.
import * as os from 'node:os';
import { writeFileSync } from 'node:fs';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../src/node/backend.js';
import { conv2dTorch } from '../src/ops/conv.js';

type Pad = [[number, number], [number, number], [number, number], [number, number]];
type GroupedConv = (x: tf.Tensor4D, kernel: tf.Tensor4D, stride: number, padding: number, groups: number) => tf.Tensor4D;

const padSpec = (p: number): Pad => [[0, 0], [p, p], [p, p], [0, 0]];

/** Split input and kernel by group, one conv2d each, concatenate. */
const splitConcat: GroupedConv = (x, kernel, stride, padding, groups) =>
  tf.tidy(() => {
    const xs = tf.split(x, groups, 3);
    const ks = tf.split(kernel, groups, 3);
    return tf.concat(
      xs.map((xi, g) => tf.conv2d(xi as tf.Tensor4D, ks[g] as tf.Tensor4D, stride, padSpec(padding))),
      3,
    );
  });

/** One dense conv2d whose kernel is zero outside the diagonal blocks. */
const blockDiagonal: GroupedConv = (x, kernel, stride, padding, groups) =>
  tf.tidy(() => {
    const gin = kernel.shape[2];
    const blocks = tf.split(kernel, groups, 3).map((kg, g) =>
      tf.pad(kg, [[0, 0], [0, 0], [g * gin, (groups - 1 - g) * gin], [0, 0]]),
    );
    const dense = tf.concat(blocks, 3) as tf.Tensor4D; // [kh, kw, gin·groups, out]
    return tf.conv2d(x, dense, stride, padSpec(padding));
  });

/**
 * Depthwise conv with multiplier out/groups (every input channel against every output of its
 * group), then a sum over the group's input channels.
 */
const depthwiseSum: GroupedConv = (x, kernel, stride, padding, groups) =>
  tf.tidy(() => {
    const [kh, kw, gin, out] = kernel.shape;
    const gout = out / groups;
    // filter[.., g·gin + ci, o] = kernel[.., ci, g·gout + o]
    const filter = tf.reshape(
      tf.transpose(tf.reshape(kernel, [kh, kw, gin, groups, gout]), [0, 1, 3, 2, 4]),
      [kh, kw, groups * gin, gout],
    ) as tf.Tensor4D;
    const y = tf.depthwiseConv2d(x, filter, stride, padSpec(padding)); // channel (g·gin + ci)·gout + o
    const [n, h, w] = y.shape;
    return tf.reshape(tf.sum(tf.reshape(y, [n, h, w, groups, gin, gout]), 4), [n, h, w, out]) as tf.Tensor4D;
  });

/** Rows/columns `start, start + stride, …` (count of them) of an NHWC tensor, differentiably. */
function strided(t: tf.Tensor4D, i: number, j: number, oh: number, ow: number, stride: number): tf.Tensor4D {
  const [n, , , c] = t.shape;
  if (stride === 1) return tf.slice(t, [0, i, j, 0], [n, oh, ow, c]);
  // Take an oh·stride × ow·stride window (padded at the far end when needed), fold the stride
  // into its own axes and keep phase 0 (stridedSlice has no gradient).
  const h = oh * stride;
  const w = ow * stride;
  const extraH = Math.max(0, i + h - t.shape[1]);
  const extraW = Math.max(0, j + w - t.shape[2]);
  const src = extraH || extraW ? tf.pad(t, [[0, 0], [0, extraH], [0, extraW], [0, 0]]) : t;
  const window = tf.slice(src, [0, i, j, 0], [n, h, w, c]);
  const folded = tf.reshape(window, [n, oh, stride, ow, stride, c]);
  return tf.reshape(tf.slice(folded, [0, 0, 0, 0, 0, 0], [n, oh, 1, ow, 1, c]), [n, oh, ow, c]) as tf.Tensor4D;
}

/** im2col: gather the k×k patches once, then one batched matmul over the groups. */
const im2colMatmul: GroupedConv = (x, kernel, stride, padding, groups) =>
  tf.tidy(() => {
    const [kh, kw, gin, out] = kernel.shape;
    const gout = out / groups;
    const [n, h, w] = x.shape;
    const oh = Math.floor((h + 2 * padding - kh) / stride) + 1;
    const ow = Math.floor((w + 2 * padding - kw) / stride) + 1;
    const padded = padding > 0 ? tf.pad(x, padSpec(padding)) : x;
    const taps: tf.Tensor[] = [];
    for (let i = 0; i < kh; i++) for (let j = 0; j < kw; j++) taps.push(strided(padded, i, j, oh, ow, stride));
    const m = n * oh * ow;
    // [m, k·k, groups, gin] → [groups, m, k·k·gin]
    const patches = tf.transpose(tf.reshape(tf.stack(taps, 3), [m, kh * kw, groups, gin]), [2, 0, 1, 3]);
    const cols = tf.reshape(patches, [groups, m, kh * kw * gin]) as tf.Tensor3D;
    // kernel [kh, kw, gin, groups·gout] → [groups, kh·kw·gin, gout]
    const weights = tf.transpose(tf.reshape(kernel, [kh * kw * gin, groups, gout]), [1, 0, 2]) as tf.Tensor3D;
    const y = tf.matMul(cols, weights); // [groups, m, gout]
    return tf.reshape(tf.transpose(y, [1, 0, 2]), [n, oh, ow, out]) as tf.Tensor4D;
  });

const IMPLEMENTATIONS: Record<string, GroupedConv> = {
  'split/conv/concat': splitConcat,
  'block-diagonal dense': blockDiagonal,
  'depthwise-then-sum': depthwiseSum,
  'im2col batched matmul': im2colMatmul,
  'conv2dTorch (library)': (x, kernel, stride, padding, groups) => conv2dTorch(x, kernel, { stride, padding, groups }),
};

/** Grouped 3×3 convs of the Tag2Pix bottlenecks (width, spatial size, 16 groups). */
// At 256 px: deconv1..4 of the generator run 256/128/64/32-wide 3×3s at 16/32/64/128 px; the
// discriminator's are 16…128 wide (16 ch/group down to 1).
const CASES = [
  { label: '[1,16,16,256]→256 g16 (16 ch/group)', x: [1, 16, 16, 256], out: 256, groups: 16, stride: 1 },
  { label: '[1,32,32,128]→128 g16 (8 ch/group)', x: [1, 32, 32, 128], out: 128, groups: 16, stride: 1 },
  { label: '[1,64,64,64]→64 g16 (4 ch/group)', x: [1, 64, 64, 64], out: 64, groups: 16, stride: 1 },
  { label: '[1,128,128,32]→32 g16 (2 ch/group)', x: [1, 128, 128, 32], out: 32, groups: 16, stride: 1 },
  { label: '[2,32,32,32]→32 g16 s2 (2 ch/group)', x: [2, 32, 32, 32], out: 32, groups: 16, stride: 2 },
];

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

/** Milliseconds of one call, waiting for the results' data. */
async function timeOnce(fn: () => tf.Tensor | tf.Tensor[]): Promise<number> {
  const start = performance.now();
  const out = fn();
  const outs = Array.isArray(out) ? out : [out];
  await Promise.all(outs.map((t) => t.data()));
  const ms = performance.now() - start;
  tf.dispose(outs);
  return ms;
}

interface Row {
  backend: string;
  case: string;
  impl: string;
  forwardMs: number | null;
  backwardMs: number | null;
  maxAbsDiff: number | null;
  note?: string;
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const opt = (name: string, fallback: string) => {
    const i = args.indexOf(`--${name}`);
    return i >= 0 ? args[i + 1] : fallback;
  };
  const backends = opt('backends', 'cpu,wasm').split(',');
  const runs = Number(opt('runs', '7'));
  const jsonPath = opt('json', '');
  // Substring filters, comma-separated: --cases "2 ch/group" --impls split,depthwise
  const caseFilter = opt('cases', '').split(',').filter(Boolean);
  const implFilter = opt('impls', '').split(',').filter(Boolean);
  const pick = (name: string, filter: string[]) => filter.length === 0 || filter.some((f) => name.includes(f));
  const rows: Row[] = [];
  console.log(`load average at start: ${os.loadavg().map((l) => l.toFixed(2)).join(' ')} (${os.cpus().length} cores)`);
  for (const backend of backends) {
    await initBackend(backend);
    console.log(`\n== ${tf.getBackend()} ==`);
    for (const c of CASES.filter((k) => pick(k.label, caseFilter))) {
      const x = tf.randomUniform(c.x as [number, number, number, number], -1, 1) as tf.Tensor4D;
      const kernel = tf.randomUniform([3, 3, c.x[3] / c.groups, c.out], -0.2, 0.2) as tf.Tensor4D;
      const reference = splitConcat(x, kernel, c.stride, 1, c.groups);
      const caseRows: Row[] = [];
      const calls: Array<{ row: Row; forward: () => tf.Tensor; backward: () => tf.Tensor[]; fwd: number[]; bwd: number[] }> = [];
      for (const [name, impl] of Object.entries(IMPLEMENTATIONS).filter(([k]) => pick(k, implFilter))) {
        const row: Row = { backend, case: c.label, impl: name, forwardMs: null, backwardMs: null, maxAbsDiff: null };
        caseRows.push(row);
        const forward = () => impl(x, kernel, c.stride, 1, c.groups);
        const grad = tf.grads((a: tf.Tensor, b: tf.Tensor) => impl(a as tf.Tensor4D, b as tf.Tensor4D, c.stride, 1, c.groups));
        const backward = () => grad([x, kernel]);
        try {
          const y = forward();
          row.maxAbsDiff = tf.tidy(() => tf.max(tf.abs(tf.sub(y, reference))).dataSync()[0]);
          y.dispose();
          await timeOnce(forward); // warm-up
        } catch (e) {
          row.note = `forward: ${String((e as Error).message).split('\n')[0].slice(0, 100)}`;
          continue;
        }
        try {
          await timeOnce(backward); // warm-up
          calls.push({ row, forward, backward, fwd: [], bwd: [] });
        } catch (e) {
          row.note = `no gradient: ${String((e as Error).message).split('\n')[0].slice(0, 100)}`;
          calls.push({ row, forward, backward: () => [], fwd: [], bwd: [] });
        }
      }
      // Round robin, so that load from other processes hits every implementation alike.
      for (let r = 0; r < runs; r++) {
        for (const call of calls) {
          call.fwd.push(await timeOnce(call.forward));
          if (!call.row.note) call.bwd.push(await timeOnce(call.backward));
        }
      }
      for (const call of calls) {
        call.row.forwardMs = median(call.fwd);
        call.row.backwardMs = call.bwd.length ? median(call.bwd) : null;
      }
      for (const row of caseRows) {
        rows.push(row);
        const fmt = (v: number | null) => (v == null ? '    —  ' : v.toFixed(1).padStart(7));
        console.log(
          `${c.label.padEnd(40)} ${row.impl.padEnd(22)} fwd ${fmt(row.forwardMs)} ms  fwd+bwd ${fmt(row.backwardMs)} ms` +
            `  diff ${row.maxAbsDiff == null ? '—' : row.maxAbsDiff.toExponential(1)}${row.note ? `  (${row.note})` : ''}`,
        );
      }
      console.log(`  load average now: ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}`);
      tf.dispose([x, kernel, reference]);
    }
  }
  console.log(`\nload average at end: ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}`);
  if (jsonPath) writeFileSync(jsonPath, JSON.stringify({ loadavg: os.loadavg(), runs, rows }, null, 1));
}

await main();
