// The training page in headless Chromium: the library's browser-safe loop (runTraining with its
// sinks), checkpoint capture as safetensors bytes and restoreTrainer run in the browser, on wasm
// (which trains only with the kernels the page registers), and a resumed run continues bit for bit.
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startPageSession, type PageSession } from './harness.js';

let session: PageSession;

beforeAll(async () => {
  session = await startPageSession('dist-train');
});

afterAll(async () => {
  await session?.close();
});

async function open(query: string): Promise<Page> {
  const page = await session.context.newPage();
  await page.goto(`${session.url}train.html${query}`);
  await page.evaluate(() => window.tag2pixTrain.ready);
  return page;
}

describe('training page in Chromium', () => {
  it('trains with the library loop, keeps checkpoints in memory and resumes from them bit for bit', async () => {
    const page = await open('?backend=wasm');
    expect(await page.textContent('#backend-status')).toBe('Backend: wasm');
    const r = await page.evaluate(async () => {
      const t = window.tag2pixTrain;
      const whole = await t.train({ epochs: 2 });
      const first = await t.train({ epochs: 2, stopAfterEpoch: 0 });
      const second = await t.train({ epochs: 2, resumeFrom: first.checkpoint });
      const again = await t.train({ epochs: 2, stopAfterEpoch: 0 });
      const losses = (run: typeof whole) => run.steps.map((s) => [s.globalStep, s.stage, s.discriminator, s.generator]);
      return {
        reasons: [whole.reason, first.reason, second.reason],
        stages: whole.steps.map((s) => s.stage),
        straight: JSON.stringify(losses(whole)),
        resumed: JSON.stringify([...losses(first), ...losses(second)]),
        sameWeights: whole.weights.length > 0 && whole.weights.every((w, i) => w === second.weights[i]),
        checkpointBytes: first.checkpoint?.length ?? 0,
        tensors: [first.numTensors, again.numTensors],
        finite: whole.steps.every((s) => Number.isFinite(s.generator['total'])),
      };
    });
    expect(r.reasons).toEqual(['finished', 'stopAfterEpoch', 'finished']);
    // Epoch 1 is a reconstruction warm-up, epoch 2 adversarial: both halves of the trainer ran.
    expect(r.stages).toEqual([...Array(4).fill('warm-up'), ...Array(4).fill('colourisation')]);
    expect(r.finite).toBe(true);
    expect(r.resumed).toBe(r.straight);
    expect(r.sameWeights).toBe(true);
    expect(r.checkpointBytes).toBeGreaterThan(100_000);
    // A run leaves no tensor behind: the same count after two equal runs.
    expect(r.tensors[1]).toBe(r.tensors[0]);
    // The loss curve the onStep sink drew.
    expect(await page.locator('#curve svg path').count()).toBeGreaterThan(0);
    await page.close();
  });
});
