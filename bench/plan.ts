// Which measurements `npm run bench` makes: cells (model, task, batch) × runtimes, each a child
// process. Pure, so that the choice (GPU cells, the PyTorch CUDA twin) is tested without a GPU.
import { MODELS, type ModelName } from './models.js';

export type Task = 'colourise' | 'train';

/** One configuration to time. */
export interface Cell {
  model: ModelName;
  task: Task;
  batch: number;
}

/** One measurement: who runs which cell, and the command that prints its JSON line. */
export interface Job extends Cell {
  who: string;
  command: 'tsx' | 'python';
  args: string[];
}

export interface PlanOptions {
  backends: string[];
  models: ModelName[];
  tasks: Task[];
  runs: number;
  warmup: number;
  /** PyTorch CPU thread counts to run (when PyTorch is there). */
  torchThreads: string[];
  /** /usr/bin/python3 imports torch. */
  torch: boolean;
  /** torch.cuda.is_available() there. */
  cuda: boolean;
  recomputeModes: boolean[];
  cpu256Train: boolean;
  /** Paths of bench/model_bench.ts and bench/torch_tag2pix.py. */
  modelBench: string;
  torchTwin: string;
}

/**
 * The cells issue 13 compares against PyTorch on CUDA: colourise 256 px at batch 1 and 16,
 * train 256 px at batch 2 and 16, and 64 px at batch 4.
 */
export const GPU_CELLS: readonly Cell[] = [
  { model: '256', task: 'colourise', batch: 1 },
  { model: '256', task: 'colourise', batch: 16 },
  { model: '256', task: 'train', batch: 2 },
  { model: '256', task: 'train', batch: 16 },
  { model: 'small', task: 'train', batch: 4 },
];

/** The default cells: each model and task at the batch of bench/models.ts. */
export function defaultCells(models: ModelName[], tasks: Task[]): Cell[] {
  return models.flatMap((model) =>
    tasks.map((task) => ({ model, task, batch: task === 'train' ? MODELS[model].trainBatch : MODELS[model].colorizeBatch })),
  );
}

/** Name of the PyTorch-on-CUDA rows. */
export const TORCH_CUDA = 'PyTorch CUDA';

/** A runtime's row name: `wasm 1 thread`, `PyTorch 2 threads`; a GPU backend has no threads. */
function runtimeName(name: string, threads: string): string {
  if (name === 'webgpu') return name;
  return `${name} ${threads === '1' ? '1 thread' : `${threads} threads`}`;
}

const sameCell = (a: Cell, b: Cell) => a.model === b.model && a.task === b.task && a.batch === b.batch;

/**
 * The jobs of a run. Our backends time the default cells, plus the GPU cells when `webgpu` is
 * among them; PyTorch on the CPU times the default cells, and PyTorch on CUDA (when available)
 * every cell a GPU backend times, so that each GPU figure has its twin in the same run.
 */
export function planJobs(o: PlanOptions): Job[] {
  const wanted = (c: Cell) => o.models.includes(c.model) && o.tasks.includes(c.task);
  const base = defaultCells(o.models, o.tasks);
  const withGpu = o.backends.some((b) => b.split(':')[0] === 'webgpu');
  const gpuCells = [...base, ...(withGpu ? GPU_CELLS.filter((c) => wanted(c) && !base.some((b) => sameCell(b, c))) : [])];
  const jobs: Job[] = [];
  const common = (c: Cell) => ['--model', c.model, '--task', c.task, '--batch', String(c.batch), '--runs', String(o.runs), '--warmup', String(o.warmup)];
  for (const backend of o.backends) {
    const [name, threads = '1'] = backend.split(':');
    for (const cell of name === 'webgpu' ? gpuCells : base) {
      if (name === 'cpu' && cell.model === '256' && cell.task === 'train' && !o.cpu256Train) continue;
      for (const recompute of cell.task === 'train' ? o.recomputeModes : [false]) {
        const who = `${runtimeName(name!, threads)}${recompute ? ', recompute' : ''}`;
        const args = [o.modelBench, '--backend', name!, '--threads', threads, ...common(cell)];
        jobs.push({ ...cell, who, command: 'tsx', args: recompute ? [...args, '--recompute'] : args });
      }
    }
  }
  if (o.torch) {
    for (const cell of base) {
      for (const threads of o.torchThreads) {
        jobs.push({ ...cell, who: runtimeName('PyTorch', threads), command: 'python', args: [o.torchTwin, ...common(cell), '--threads', threads] });
      }
    }
    if (o.cuda) {
      for (const cell of gpuCells) {
        jobs.push({ ...cell, who: TORCH_CUDA, command: 'python', args: [o.torchTwin, ...common(cell), '--device', 'cuda'] });
      }
    }
  }
  // The slow pure-JS cpu backend goes last, so the other figures arrive first.
  return jobs.sort((a, b) => Number(a.who.startsWith('cpu')) - Number(b.who.startsWith('cpu')));
}

/** Cells skipped on purpose, with why (for the table). */
export function skippedCells(o: PlanOptions): Array<Cell & { who: string; note: string }> {
  if (o.cpu256Train || !o.backends.includes('cpu')) return [];
  return defaultCells(o.models, o.tasks)
    .filter((c) => c.model === '256' && c.task === 'train')
    .map((c) => ({ ...c, who: runtimeName('cpu', '1'), note: 'skipped (cpu: tens of minutes per iteration; --cpu-256-train)' }));
}
