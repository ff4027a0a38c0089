import { Worker } from 'node:worker_threads';
import * as tf from '@tensorflow/tfjs-core';
import { expect } from 'vitest';

// Peak memory of the process while a function runs. A worker thread samples the process's RSS
// every millisecond, so the peak of synchronous work on the main thread (which blocks timers)
// is seen too; transient allocations freed before the function returns are counted.

const SAMPLER = `
const { parentPort } = require('node:worker_threads');
let peak = process.memoryUsage.rss();
const timer = setInterval(() => { const r = process.memoryUsage.rss(); if (r > peak) peak = r; }, 1);
parentPort.on('message', () => { clearInterval(timer); const r = process.memoryUsage.rss(); parentPort.postMessage(Math.max(peak, r)); });
parentPort.postMessage('ready');
`;

/** Runs `fn` and returns its result with the process's peak RSS growth over it, in bytes. */
export async function withPeakMemory<T>(fn: () => T | Promise<T>): Promise<{ value?: T; error?: unknown; peakGrowth: number }> {
  const worker = new Worker(SAMPLER, { eval: true });
  await new Promise<void>((resolve) => worker.once('message', () => resolve()));
  const before = process.memoryUsage.rss();
  let value: T | undefined;
  let error: unknown;
  try {
    value = await fn();
  } catch (e) {
    error = e;
  }
  const peak = await new Promise<number>((resolve) => {
    worker.once('message', (p: number) => resolve(p));
    worker.postMessage('stop');
  });
  await worker.terminate();
  return { value, error, peakGrowth: Math.max(0, peak - before) };
}

export const MiB = 1024 * 1024;

/**
 * The leak check every layer test makes: after one warm-up call (which may create weights),
 * three more calls of `run` leave `tf.memory().numTensors` where it was.
 */
export function expectNoTensorLeak(run: () => void): void {
  run();
  const before = tf.memory().numTensors;
  for (let i = 0; i < 3; i++) run();
  expect(tf.memory().numTensors).toBe(before);
}
