import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { ProgressFile } from '../../src/client/progress-file.ts';
import { StateFiles, type Progress } from '../../src/client/state-files.ts';
import { tempDir } from '../support/temp-dir.ts';

/** The real state files, counting the writes that reach the disk. */
class CountedStateFiles extends StateFiles {
  written: Progress[] = [];

  override async writeProgress(progress: Progress): Promise<void> {
    this.written.push(progress);
    await super.writeProgress(progress);
  }
}

test('progress.txt changes at most once per percent and ends with the last value reported', async (t) => {
  const dir = await tempDir(t);
  await fc.assert(fc.asyncProperty(fc.array(fc.integer({ min: 0, max: 100 }), { minLength: 1, maxLength: 300 }), async (reports) => {
    const state = new CountedStateFiles(dir);
    const file = new ProgressFile(state);
    const sorted = [...reports].sort((a, b) => a - b);
    for (const percent of sorted) file.report(percent);
    await file.settle();
    const distinct = [...new Set(sorted)];
    assert.ok(state.written.length <= distinct.length, `${state.written.length} writes for ${distinct.length} values`);
    assert.deepEqual(state.written, [...new Set(state.written)], 'never the same value twice in a row');
    assert.equal(await state.readProgress(), sorted.at(-1));
    await file.settle('ERROR');
    assert.equal(await state.readProgress(), 'ERROR');
  }), { numRuns: 20 });
});
