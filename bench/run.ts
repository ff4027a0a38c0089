// `npm run bench`: colourisation (CIT + G forward) and one training iteration of the published
// 256 px model and a small one (64 px, decoder [2,2,2,2]), per backend, each measurement in a
// fresh process (median of ≥ 5 after warm-up, peak RSS), and the same work in PyTorch when
// /usr/bin/python3 has torch. One table: every row against PyTorch at its best on this machine
// (the fastest of the thread counts tried; PyTorch with one thread is listed for information).
// Not a test: numbers go to docs/performance.md.
//
// Options: --backends wasm,wasm:2,cpu (wasm = 1 thread, wasm:N = N threads; default: 1 and every core)
//          --models small,256  --tasks colourise,train  --runs 5
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

const torchAvailable = (() => {
  if (values['no-torch'] || !existsSync('/usr/bin/python3')) return false;
  try {
    execFileSync('/usr/bin/python3', ['-c', 'import torch'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

const tsx = path.join(root, 'node_modules', '.bin', 'tsx');
const results: Result[] = [];
interface Job { who: string; model: ModelName; task: 'colourise' | 'train'; run: () => Record<string, unknown> }
const jobs: Job[] = [];
for (const model of models) {
  for (const task of tasks) {
    for (const backend of backends) {
      if (backend === 'cpu' && model === '256' && task === 'train' && !values['cpu-256-train']) {
        results.push({ who: backend, model, task, note: 'skipped (cpu: tens of minutes per iteration; --cpu-256-train)' });
        continue;
      }
      const [name, threads = '1'] = backend.split(':');
      // Recompute changes only the training iteration.
      for (const recompute of task === 'train' ? recomputeModes : [false]) {
        const who = `${name} ${threads === '1' ? '1 thread' : `${threads} threads`}${recompute ? ', recompute' : ''}`;
        const args = [path.join(here, 'model_bench.ts'), '--backend', name!, '--threads', threads, '--model', model, '--task', task, '--runs', values.runs!, '--warmup', values.warmup!];
        jobs.push({ who, model, task, run: () => runChild(tsx, recompute ? [...args, '--recompute'] : args) });
      }
    }
    if (torchAvailable) {
      for (const threads of list(values['torch-threads'])) {
        jobs.push({
          who: `PyTorch ${threads === '1' ? '1 thread' : `${threads} threads`}`, model, task,
          run: () => runChild('/usr/bin/python3', [path.join(here, 'torch_tag2pix.py'), '--model', model, '--task', task, '--runs', values.runs!, '--warmup', values.warmup!, '--threads', threads]),
        });
      }
    }
  }
}
// The slow pure-JS cpu backend goes last, so the other figures arrive first.
jobs.sort((a, b) => Number(a.who.startsWith('cpu')) - Number(b.who.startsWith('cpu')));
console.log(`# tag2pix benchmark — ${new Date().toISOString()}\n${loadNote()} at start; node ${process.version}`);
for (const job of jobs) {
  process.stderr.write(`running ${job.model} ${job.task} on ${job.who}… `);
  const r = job.run();
  const spec = MODELS[job.model];
  const res: Result = {
    who: job.who, model: job.model, task: job.task,
    batch: job.task === 'train' ? spec.trainBatch : spec.colorizeBatch,
    medianMs: r['medianMs'] as number | undefined,
    runsMs: r['runsMs'] as number[] | undefined,
    peakRssMB: r['peakRssMB'] as number | undefined,
    note: r['error'] as string | undefined,
  };
  // A measured cell keeps its figures; what went wrong beside them goes into the runtime column.
  const remarks = [
    r['leakedTensors'] ? `${r['leakedTensors']} tensors leaked over the runs` : undefined,
    r['threadsNote'] ? String(r['threadsNote']) : undefined,
  ].filter(Boolean);
  if (res.medianMs != null && remarks.length > 0) res.who += ` (${remarks.join('; ')})`;
  process.stderr.write(`${res.medianMs != null ? fmtMs(res.medianMs) : res.note}\n`);
  results.push(res);
}
const order = (r: Result) => models.indexOf(r.model) * 100 + tasks.indexOf(r.task as 'train') * 10;
results.sort((a, b) => order(a) - order(b));

// The table: every row against PyTorch at its best in this run (the fastest thread count tried).
const isTorch = (r: Result) => r.who.startsWith('PyTorch');
const torchBest = (model: string, task: string) =>
  results
    .filter((r) => r.model === model && r.task === task && isTorch(r) && r.medianMs != null)
    .reduce<Result | undefined>((a, b) => (a == null || b.medianMs! < a.medianMs! ? b : a), undefined);
const ratio = (a?: number, b?: number) => (a != null && b != null ? `${(a / b).toFixed(2)}×` : '–');
console.log(`\n${loadNote()} at end\n`);
console.log('| model | task | batch | runtime | median | peak RSS | × PyTorch at its best (time / memory) |');
console.log('|---|---|---|---|---|---|---|');
for (const r of results) {
  const best = torchBest(r.model, r.task);
  let who = r.who;
  let against = `${ratio(r.medianMs, best?.medianMs)} / ${ratio(r.peakRssMB, best?.peakRssMB)}`;
  if (isTorch(r)) {
    who = r === best ? `**${r.who}: baseline**` : `${r.who} (information)`;
    against = r === best ? '1× / 1×' : against;
  }
  const median = r.medianMs != null ? fmtMs(r.medianMs) : (r.note ?? '');
  console.log(
    `| ${r.model === '256' ? '256 px [12,8,5,5]' : '64 px [2,2,2,2]'} | ${r.task === 'train' ? 'training iteration' : 'colourise'} | ${r.batch ?? ''} | ${who} | ${median} | ${r.peakRssMB != null ? `${r.peakRssMB.toFixed(0)} MB` : ''} | ${r.medianMs != null ? against : '–'} |`,
  );
}
if (!torchAvailable) console.log('\nPyTorch not measured (/usr/bin/python3 without torch, or --no-torch).');
if (values.json) writeFileSync(values.json, JSON.stringify({ date: new Date().toISOString(), results }, null, 2));
