import * as tf from '@tensorflow/tfjs-core';
import { expect } from 'vitest';
import { registerFastKernels, unregisterFastKernels } from '../../src/kernels/register.js';
import { initBackend } from '../../src/node/backend.js';
import { probeWebGPU } from '../../src/kernels/webgpu/dispatch_probe.js';

/**
 * Starts the webgpu backend for a test file (any adapter: lavapipe on a machine without a GPU),
 * or fails saying how to get one. `.ci/run` installs lavapipe.
 */
export async function startWebGPUForTests(): Promise<void> {
  try {
    await initBackend('webgpu');
  } catch (err) {
    throw new Error(
      `${(err as Error).message}\nThe webgpu tests need a WebGPU adapter; without a GPU, install Mesa's lavapipe ` +
        '25 from bookworm-backports as .ci/run does (apt-get install -t bookworm-backports mesa-vulkan-drivers).',
    );
  }
}

/** Runs `f` with this library's WebGPU programs removed, so the ops take their compositions. */
export async function withComposites<T>(f: () => T | Promise<T>): Promise<T> {
  unregisterFastKernels(['webgpu']);
  try {
    return await f();
  } finally {
    registerFastKernels(['webgpu']);
  }
}

/** Dispatches `f` makes on webgpu; fails if any of them falls back to the CPU. */
export async function dispatchesOf(f: () => unknown): Promise<number> {
  const probe = await probeWebGPU(() => {
    const out = f();
    tf.dispose(out as tf.Tensor | tf.Tensor[]);
  });
  expect(probe.cpuFallbacks).toEqual([]);
  return probe.dispatches;
}

export { relativeDiff } from './roundtrip.js';
