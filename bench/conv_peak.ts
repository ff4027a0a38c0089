// The convolution throughput ceiling, wasm against PyTorch on the same machine: one large 3×3
// convolution (64×64×256 → 256, 4.8 GFLOP), best and median of 9, interleaved rounds of wasm on
// 1 thread, PyTorch on 1 thread, wasm on 2, PyTorch on 2. docs/performance.md, "Summary".
// Usage: tsx bench/conv_peak.ts [--rounds 3]   (one round per child process pair)
import { execFileSync } from 'node:child_process';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../src/node/backend.js';
import { loadNote } from './util.js';

const { values } = parseArgs({ options: { rounds: { type: 'string', default: '3' }, child: { type: 'string' } } });
const FLOP = 2 * 64 * 64 * 256 * 256 * 9;
const gflops = (ms: number) => (FLOP / ms / 1e6).toFixed(1);

if (values.child != null) {
  await initBackend('wasm', { wasmThreads: Number(values.child) });
  const x = tf.randomNormal([1, 64, 64, 256]) as tf.Tensor4D;
  const w = tf.randomNormal([3, 3, 256, 256]) as tf.Tensor4D;
  const t: number[] = [];
  for (let r = 0; r < 9; r++) {
    const start = performance.now();
    const y = tf.conv2d(x, w, 1, 'same');
    y.dataSync();
    y.dispose();
    t.push(performance.now() - start);
  }
  t.sort((a, b) => a - b);
  console.log(`wasm ${values.child} thread(s): best ${gflops(t[0]!)} GFLOP/s, median ${gflops(t[4]!)}`);
} else {
  const here = path.dirname(fileURLToPath(import.meta.url));
  const tsx = path.join(here, '..', 'node_modules', '.bin', 'tsx');
  const torch = `
import sys, time, torch
torch.set_num_threads(int(sys.argv[1]))
x = torch.randn(1, 256, 64, 64); conv = torch.nn.Conv2d(256, 256, 3, 1, 1, bias=False); t = []
with torch.no_grad():
    for _ in range(9):
        s = time.perf_counter(); conv(x); t.append((time.perf_counter() - s) * 1000)
t.sort(); f = ${FLOP}
print('PyTorch %s thread(s): best %.1f GFLOP/s, median %.1f' % (sys.argv[1], f / t[0] / 1e6, f / t[4] / 1e6))`;
  console.log(`${loadNote()} at start`);
  for (let round = 1; round <= Number(values.rounds); round++) {
    for (const threads of ['1', '2']) {
      process.stdout.write(execFileSync(tsx, [fileURLToPath(import.meta.url), '--child', threads], { encoding: 'utf8' }));
      process.stdout.write(execFileSync('/usr/bin/python3', ['-c', torch, threads], { encoding: 'utf8' }));
    }
  }
  console.log(`${loadNote()} at end`);
}
