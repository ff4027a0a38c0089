import { appendFileSync } from 'node:fs';
import type { Reporter, TestModule } from 'vitest/node';

// Prints one plain "N passed, N failed" line per run, and appends the counts to the file named by
// TAG2PIX_TEST_TALLY so .ci/run can total several runs (cpu suite, wasm layer suite, system-package tests).
export default class SummaryReporter implements Reporter {
  onTestRunEnd(testModules: ReadonlyArray<TestModule>): void {
    let passed = 0;
    let failed = 0;
    let skipped = 0;
    for (const module of testModules) {
      for (const test of module.children.allTests()) {
        const state = test.result().state;
        if (state === 'passed') passed++;
        else if (state === 'failed') failed++;
        else skipped++;
      }
      if (module.state() === 'failed' && module.children.size === 0) failed++;
    }
    // Named by the backend, or by the projects when the run is of the system-package projects.
    const projects = [...new Set(testModules.map((m) => m.project.name))].sort();
    const backend = projects.length > 0 && !projects.includes('node') ? projects.join(' + ') : process.env['TAG2PIX_BACKEND'] || 'cpu';
    console.log(`\n${backend}: ${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`);
    const tally = process.env['TAG2PIX_TEST_TALLY'];
    if (tally) appendFileSync(tally, JSON.stringify({ backend, passed, failed, skipped }) + '\n');
  }
}
