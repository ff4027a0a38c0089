// `npm run bench`: colourisation (CIT + G forward) and one training iteration of the published
// 256 px model and a small one (64 px, decoder [2,2,2,2]), per backend, each measurement in a
// fresh process (median of ≥ 5 after warm-up, peak RSS), and the same work in PyTorch when
// /usr/bin/python3 has torch. One table: every row against PyTorch at its best on this machine's
// CPU (the fastest of the thread counts tried; PyTorch with one thread is listed for information)
// and, where measured, against PyTorch on CUDA. Not a test: numbers go to docs/performance.md.
// With webgpu among the backends, the GPU cells of bench/plan.ts are added (256 px at batch 16
// …), and when torch.cuda.is_available() PyTorch times every such cell on CUDA in the same run.
//
// Options: --backends wasm,wasm:2,cpu,webgpu (wasm = 1 thread, wasm:N = N threads; default: wasm with
//          1 thread and every core, cpu)  --models small,256  --tasks colourise,train  --runs 5
//          --torch-threads 1,2 (default: 1 and every core)  --no-torch  --cpu-256-train (off by default: tens of minutes)
//          --json <file> (also write the raw results)  --cell-timeout <s> (default 1200)
//          --recompute off|on|both (training cells of our backends with gradient checkpointing; default off)
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { MODELS, type ModelName } from './models.js';
import { TORCH_CUDA, planJobs, skippedCells, type Task } from './plan.js';
import { fmtMs, loadNote } from './util.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.dirname(here);
const cores = os.cpus().length;
const { values } = parseArgs({
  options: {
    backends: { type: 'string', default: cores > 1 ? `wasm,wasm:${cores},cpu` : 'wasm,cpu' },
    models: { type: 'string', default: 'small,256' },
    tasks: { type: 'string', default: 'colourise,train' },
    runs: { type: 'string', default: '5' },
    warmup: { type: 'string', default: '1' },
    'torch-threads': { type: 'string', default: [...new Set([1, cores])].join(',') },
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
    return { error: `no result within ${values['cell-timeout']} s (stopped)` };
  }
  const line = out.stdout.split('\n').reverse().find((l) => l.startsWith('{'));
  if (line) return JSON.parse(line) as Record<string, unknown>;
  // model_bench reports its own failures as JSON; anything else is a crash.
  const lines = `${out.stderr}\n${out.stdout}`.split('\n').map((l) => l.trim());
  const why = lines.find((l) => /^(RuntimeError|Error|TypeError|RangeError)\b/.test(l)) ?? lines.filter(Boolean).slice(-1)[0] ?? '';
  return { error: `failed, exit ${out.status ?? out.signal}: ${why.slice(0, 200)}` };
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
  // A measured cell keeps its figures; what went wrong beside them, and the device, go into the
  // runtime column.
  const remarks = [
    r['leakedTensors'] ? `${r['leakedTensors']} tensors leaked over the runs` : undefined,
    r['threadsNote'] ? String(r['threadsNote']) : undefined,
    r['adapter'] ? `adapter: ${r['adapter']}` : undefined,
    r['gpu'] ? `${r['gpu']}, peak ${Number(r['peakGpuMB']).toFixed(0)} MB on the GPU` : undefined,
  ].filter(Boolean);
  if (res.medianMs != null && remarks.length > 0) res.who += ` (${remarks.join('; ')})`;
  process.stderr.write(`${res.medianMs != null ? fmtMs(res.medianMs) : res.note}\n`);
  results.push(res);
}
const order = (r: Result) => models.indexOf(r.model) * 10000 + tasks.indexOf(r.task as 'train') * 1000 + (r.batch ?? 0);
results.sort((a, b) => order(a) - order(b));

// The table: every row against PyTorch at its best on the CPU in this run (the fastest thread
// count tried), and against PyTorch on CUDA; always the same cell (model, task, batch).
const isTorch = (r: Result) => r.who.startsWith('PyTorch');
const isCuda = (r: Result) => r.who.startsWith(TORCH_CUDA);
const sameCell = (a: Result, b: Result) => a.model === b.model && a.task === b.task && a.batch === b.batch;
const torchBest = (cell: Result) =>
  results
    .filter((r) => sameCell(r, cell) && isTorch(r) && !isCuda(r) && r.medianMs != null)
    .reduce<Result | undefined>((a, b) => (a == null || b.medianMs! < a.medianMs! ? b : a), undefined);
const torchCuda = (cell: Result) => results.find((r) => sameCell(r, cell) && isCuda(r) && r.medianMs != null);
const ratio = (a?: number, b?: number) => (a != null && b != null ? `${(a / b).toFixed(2)}×` : '–');
console.log(`\n${loadNote()} at end\n`);
console.log('| model | task | batch | runtime | median | peak RSS | × PyTorch at its best on the CPU (time / memory) | × PyTorch CUDA (time) |');
console.log('|---|---|---|---|---|---|---|---|');
for (const r of results) {
  const best = torchBest(r);
  const cuda = torchCuda(r);
  let who = r.who;
  let against = `${ratio(r.medianMs, best?.medianMs)} / ${ratio(r.peakRssMB, best?.peakRssMB)}`;
  let againstCuda = ratio(r.medianMs, cuda?.medianMs);
  if (isTorch(r)) {
    who = r === best || r === cuda ? `**${r.who}: baseline**` : `${r.who} (information)`;
    against = r === best ? '1× / 1×' : against;
    againstCuda = r === cuda ? '1×' : '–';
  }
  const median = r.medianMs != null ? fmtMs(r.medianMs) : (r.note ?? '');
  console.log(
    `| ${r.model === '256' ? '256 px [12,8,5,5]' : '64 px [2,2,2,2]'} | ${r.task === 'train' ? 'training iteration' : 'colourise'} | ${r.batch ?? ''} | ${who} | ${median} | ${r.peakRssMB != null ? `${r.peakRssMB.toFixed(0)} MB` : ''} | ${r.medianMs != null ? against : '–'} | ${r.medianMs != null ? againstCuda : '–'} |`,
  );
}
if (torchAvailable && !cudaAvailable) console.log('\nPyTorch on CUDA not measured: torch.cuda.is_available() is false here.');
if (!torchAvailable) console.log('\nPyTorch not measured (/usr/bin/python3 without torch, or --no-torch).');
if (values.json) writeFileSync(values.json, JSON.stringify({ date: new Date().toISOString(), results }, null, 2));
