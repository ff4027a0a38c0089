// `npm run bench`: colourisation (CIT + G forward) and one training iteration of the published
// 256 px model and a small one (64 px, decoder [2,2,2,2]), per backend, each measurement in a
// fresh process (median of ≥ 5 after warm-up, peak RSS), and the same work in PyTorch when
// /usr/bin/python3 has torch, with the ratios. Not a test: numbers go to docs/performance.md.
// With webgpu among the backends, the GPU cells of bench/plan.ts are added (256 px at batch 16
// …), and when torch.cuda.is_available() PyTorch times every such cell on CUDA in the same run.
//
// Options: --backends wasm,wasm:2,cpu,webgpu (wasm:N = N threads)  --models small,256  --tasks colourise,train  --runs 5
//          --torch-threads 1,2  --no-torch  --cpu-256-train (off by default: tens of minutes)
//          --json <file> (also write the raw results)  --cell-timeout <s> (default 1200)
//          --recompute off|on|both (training cells of our backends with gradient checkpointing; default off)
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { MODELS, type ModelName } from './models.js';
import { planJobs, skippedCells, type Task } from './plan.js';
import { fmtMs, loadNote } from './util.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.dirname(here);
const { values } = parseArgs({
  options: {
    backends: { type: 'string', default: 'wasm,wasm:2,cpu' },
    models: { type: 'string', default: 'small,256' },
    tasks: { type: 'string', default: 'colourise,train' },
    runs: { type: 'string', default: '5' },
    warmup: { type: 'string', default: '1' },
    'torch-threads': { type: 'string', default: '1,2' },
    'no-torch': { type: 'boolean', default: false },
    'cpu-256-train': { type: 'boolean', default: false },
    json: { type: 'string' },
    'cell-timeout': { type: 'string', default: '1200' },
    recompute: { type: 'string', default: 'off' },
  },
});
const list = (s: string | undefined) => (s ?? '').split(',').map((x) => x.trim()).filter(Boolean);
const backends = list(values.backends);
const models = list(values.models) as ModelName[];
const tasks = list(values.tasks) as Array<'colourise' | 'train'>;
const recomputeModes = { off: [false], on: [true], both: [false, true] }[values.recompute!];
if (!recomputeModes) throw new Error(`--recompute must be off, on or both, got '${values.recompute}'.`);
for (const m of models) if (!(m in MODELS)) throw new Error(`Unknown model '${m}'; use ${Object.keys(MODELS).join(', ')}.`);

interface Result {
  who: string;
  model: ModelName;
  task: string;
  batch?: number;
  medianMs?: number;
  runsMs?: number[];
  peakRssMB?: number;
  note?: string;
}

function runChild(cmd: string, args: string[]): Record<string, unknown> {
  const out = spawnSync(cmd, args, {
    cwd: root, encoding: 'utf8', maxBuffer: 64 << 20, timeout: Number(values['cell-timeout']) * 1000, killSignal: 'SIGKILL',
  });
  if (out.error && (out.error as NodeJS.ErrnoException).code === 'ETIMEDOUT') {
    return { error: `no result within ${values['cell-timeout']} s (stopped; the threaded wasm build hangs instead of failing when its heap is exhausted)` };
  }
  const line = out.stdout.split('\n').reverse().find((l) => l.startsWith('{'));
  if (out.status !== 0 || !line) {
    const lines = `${out.stderr}\n${out.stdout}`.split('\n').map((l) => l.trim());
    const why = lines.find((l) => /^(RuntimeError|Error|TypeError|RangeError)\b/.test(l)) ?? lines.filter(Boolean).slice(-1)[0] ?? '';
    const memory = /Aborted\(\)/.test(why) ? ' (wasm heap exhausted: 4 GB limit)' : '';
    return { error: `failed, exit ${out.status ?? out.signal}: ${why.slice(0, 160)}${memory}` };
  }
  return JSON.parse(line) as Record<string, unknown>;
}

const python = (code: string) => {
  try {
    execFileSync('/usr/bin/python3', ['-c', code], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
};
const torchAvailable = !values['no-torch'] && existsSync('/usr/bin/python3') && python('import torch');
const cudaAvailable = torchAvailable && python('import sys, torch; sys.exit(0 if torch.cuda.is_available() else 1)');

const tsx = path.join(root, 'node_modules', '.bin', 'tsx');
const planOptions = {
  backends, models, tasks: tasks as Task[], runs: Number(values.runs), warmup: Number(values.warmup),
  torchThreads: list(values['torch-threads']), torch: torchAvailable, cuda: cudaAvailable, recomputeModes: recomputeModes!,
  cpu256Train: values['cpu-256-train']!, modelBench: path.join(here, 'model_bench.ts'), torchTwin: path.join(here, 'torch_tag2pix.py'),
};
const results: Result[] = skippedCells(planOptions);
const jobs = planJobs(planOptions);
console.log(`# tag2pix benchmark — ${new Date().toISOString()}\n${loadNote()} at start; node ${process.version}`);
for (const job of jobs) {
  process.stderr.write(`running ${job.model} ${job.task} batch ${job.batch} on ${job.who}… `);
  const r = runChild(job.command === 'tsx' ? tsx : '/usr/bin/python3', job.args);
  const res: Result = {
    who: job.who, model: job.model, task: job.task, batch: job.batch,
    medianMs: r['medianMs'] as number | undefined,
    runsMs: r['runsMs'] as number[] | undefined,
    peakRssMB: r['peakRssMB'] as number | undefined,
    note: r['error'] as string | undefined,
  };
  if (r['leakedTensors']) res.note = `${r['leakedTensors']} tensors leaked over the runs`;
  if (r['threadsNote']) res.note = String(r['threadsNote']);
  if (r['adapter']) res.note = `adapter: ${r['adapter']}`;
  if (r['gpu']) res.note = `${r['gpu']}, peak ${Number(r['peakGpuMB']).toFixed(0)} MB on the GPU`;
  process.stderr.write(`${res.medianMs != null ? fmtMs(res.medianMs) : res.note}\n`);
  results.push(res);
}
const order = (r: Result) => models.indexOf(r.model) * 10000 + tasks.indexOf(r.task as 'train') * 1000 + (r.batch ?? 0);
results.sort((a, b) => order(a) - order(b));

// The table: every row against PyTorch with the same thread count as our backends (1), against
// PyTorch's best on this machine's CPU, and against PyTorch on CUDA; same cell (model, task, batch).
const torchRows = (r: Result) => results.filter((t) => t.model === r.model && t.task === r.task && t.batch === r.batch && t.who.startsWith('pytorch') && t.medianMs != null);
console.log(`\n${loadNote()} at end\n`);
console.log('| model | task | batch | runtime | median | peak RSS | × PyTorch 1 thread (time / memory) | × PyTorch best CPU (time) | × PyTorch CUDA (time) | note |');
console.log('|---|---|---|---|---|---|---|---|---|---|');
for (const r of results) {
  const torch = torchRows(r);
  const one = torch.find((t) => t.who === 'pytorch 1t');
  const cpu = torch.filter((t) => t.who !== 'pytorch cuda');
  const best = cpu.reduce<Result | undefined>((a, b) => (a == null || b.medianMs! < a.medianMs! ? b : a), undefined);
  const cuda = torch.find((t) => t.who === 'pytorch cuda');
  const ratio = (a?: number, b?: number) => (a != null && b != null ? `${(a / b).toFixed(2)}×` : '–');
  const isTorch = r.who.startsWith('pytorch');
  console.log(
    `| ${r.model === '256' ? '256 px [12,8,5,5]' : '64 px [2,2,2,2]'} | ${r.task === 'train' ? 'training iteration' : 'colourise'} | ${r.batch ?? ''} | ${r.who} | ${r.medianMs != null ? fmtMs(r.medianMs) : ''} | ${r.peakRssMB != null ? `${r.peakRssMB.toFixed(0)} MB` : ''} | ${isTorch ? '' : `${ratio(r.medianMs, one?.medianMs)} / ${ratio(r.peakRssMB, one?.peakRssMB)}`} | ${isTorch ? '' : ratio(r.medianMs, best?.medianMs)} | ${isTorch ? '' : ratio(r.medianMs, cuda?.medianMs)} | ${r.note ?? ''} |`,
  );
}
if (torchAvailable && !cudaAvailable) console.log('\nPyTorch on CUDA not measured: torch.cuda.is_available() is false here.');
if (!torchAvailable) console.log('\nPyTorch not measured (/usr/bin/python3 without torch, or --no-torch).');
if (values.json) writeFileSync(values.json, JSON.stringify({ date: new Date().toISOString(), results }, null, 2));
