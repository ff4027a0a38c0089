// What `npm run bench` measures (bench/plan.ts): the GPU cells with webgpu, and a PyTorch CUDA
// twin for each of them only when CUDA is available. No GPU or PyTorch needed to check it.
import { describe, expect, it } from 'vitest';
import { GPU_CELLS, planJobs, skippedCells, type PlanOptions } from '../../bench/plan.js';

const base: PlanOptions = {
  backends: ['webgpu'], models: ['small', '256'], tasks: ['colourise', 'train'], runs: 5, warmup: 1,
  torchThreads: ['1', '2'], torch: true, cuda: false, recomputeModes: [false], cpu256Train: false,
  modelBench: 'bench/model_bench.ts', torchTwin: 'bench/torch_tag2pix.py',
};
const cells = (jobs: ReturnType<typeof planJobs>, who: string) =>
  jobs.filter((j) => j.who === who).map((j) => `${j.model} ${j.task} ${j.batch}`).sort();

describe('bench plan', () => {
  it('times webgpu on the default cells and every GPU cell of the issue', () => {
    const jobs = planJobs(base);
    expect(cells(jobs, 'webgpu')).toEqual(
      ['256 colourise 1', '256 colourise 16', '256 train 16', '256 train 2', 'small colourise 4', 'small train 4'],
    );
    expect(GPU_CELLS.length).toBe(5);
    const batch16 = jobs.find((j) => j.who === 'webgpu' && j.model === '256' && j.task === 'train' && j.batch === 16)!;
    expect(batch16.command).toBe('tsx');
    expect(batch16.args).toEqual([
      'bench/model_bench.ts', '--backend', 'webgpu', '--threads', '1',
      '--model', '256', '--task', 'train', '--batch', '16', '--runs', '5', '--warmup', '1',
    ]);
  });

  it('adds the PyTorch CUDA twin on the same cells only when CUDA is available', () => {
    expect(cells(planJobs(base), 'PyTorch CUDA')).toEqual([]);
    const withCuda = planJobs({ ...base, cuda: true });
    expect(cells(withCuda, 'PyTorch CUDA')).toEqual(cells(withCuda, 'webgpu'));
    const twin = withCuda.find((j) => j.who === 'PyTorch CUDA' && j.model === '256' && j.batch === 16 && j.task === 'colourise')!;
    expect(twin.command).toBe('python');
    expect(twin.args).toEqual([
      'bench/torch_tag2pix.py', '--model', '256', '--task', 'colourise', '--batch', '16', '--runs', '5', '--warmup', '1', '--device', 'cuda',
    ]);
    // No torch at all: no twin, whatever CUDA.
    expect(planJobs({ ...base, torch: false, cuda: true }).filter((j) => j.command === 'python')).toEqual([]);
  });

  it('keeps the CPU runtimes on the default cells, the filters applying to GPU cells too', () => {
    const jobs = planJobs({ ...base, backends: ['wasm', 'cpu', 'webgpu'], models: ['small'], tasks: ['train'] });
    expect(cells(jobs, 'wasm 1 thread')).toEqual(['small train 4']);
    expect(cells(jobs, 'webgpu')).toEqual(['small train 4']);
    expect(cells(jobs, 'PyTorch 1 thread')).toEqual(['small train 4']);
    expect(jobs[jobs.length - 1]!.who).toBe('cpu 1 thread');
    expect(skippedCells({ ...base, backends: ['cpu'] }).map((c) => `${c.model} ${c.task}`)).toEqual(['256 train']);
  });
});
