import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { TmuStateFile, initialTmuState } from '../../../src/vehicle/tmu/tmu-state.ts';
import { tempDir } from '../../support/temp-dir.ts';

test('no state file: idle; a saved state reads back as written (the directory is created)', async (t) => {
  const directory = join(await tempDir(t), 'tmu');
  const file = new TmuStateFile(directory);
  const { state, damaged } = await file.load();
  assert.equal(damaged, undefined);
  assert.deepEqual({ ...state, updatedAt: '' }, { ...initialTmuState(), updatedAt: '' });
  const saved = { ...initialTmuState(), phase: 'reporting' as const, deferred: { 'c-1': { reason: 'declined' as const, until: '2030-01-01T00:00:00.000Z' } } };
  await file.save(saved);
  assert.deepEqual((await file.load()).state, saved);
  // Nothing but the state: the temp file of the atomic write is gone.
  assert.deepEqual(await readdir(directory), ['state.json']);
});

test('a file that is not a TMU state is moved aside and the TMU starts idle', async (t) => {
  const directory = await tempDir(t);
  await mkdir(directory, { recursive: true });
  const file = new TmuStateFile(directory);
  for (const text of ['{"format":1,"phase":"flying","campaign":null,"deferred":{}}', 'not json', '{"format":2}']) {
    await writeFile(file.path, text);
    const { state, damaged } = await file.load();
    assert.equal(state.phase, 'idle');
    assert.match(damaged ?? '', /was not a TMU state .*; moved to .*state\.json\.damaged-\d+$/s);
    const aside = (await readdir(directory)).filter((name) => name.startsWith('state.json.damaged-'));
    assert.ok(aside.length >= 1);
    const contents = await Promise.all(aside.map((name) => readFile(join(directory, name), 'utf8')));
    assert.ok(contents.includes(text), 'the damaged file is kept as it was');
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
});
