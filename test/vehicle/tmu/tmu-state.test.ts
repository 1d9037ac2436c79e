import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { TmuStateFile, initialTmuState, type Campaign } from '../../../src/vehicle/tmu/tmu-state.ts';
import { tempDir } from '../../support/temp-dir.ts';

test('no state file: idle; a saved state reads back as written (the directory is created)', async (t) => {
  const directory = join(await tempDir(t), 'tmu');
  const file = new TmuStateFile(directory);
  const { state, damaged } = await file.load();
  assert.equal(damaged, undefined);
  assert.deepEqual({ ...state, updatedAt: '' }, { ...initialTmuState(), updatedAt: '' });
  const saved = { ...initialTmuState(), deferred: { 'c-1': { reason: 'declined' as const, until: '2030-01-01T00:00:00.000Z' } } };
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

const campaign = (fields: Partial<Campaign> = {}): Campaign => ({
  id: 'c-0123456789abcdef', plannedAt: '2025-01-01T00:00:00.000Z', offer: null, attempts: 1, outcome: null, message: null, reportFile: null,
  targets: [{
    ecu: 'EDT', from: '1.0.0', to: '2.0.0', notes: '', manifest: null, path: '/x/edt.bin', status: 'downloaded', percent: 0,
    release: { filename: 'edt.bin', sha256: 'a'.repeat(64), mtime: 0, size: 3, ecu: 'EDT', firmwareVersion: '2.0.0', releaseId: '7', uploadedAt: '2025-01-01T00:00:00.000Z' },
  }],
  ...fields,
});

test('a state file of the single-record format reads as the union: every phase but idle with its campaign, reporting with its outcome', async (t) => {
  const directory = await tempDir(t);
  const file = new TmuStateFile(directory);
  await mkdir(directory, { recursive: true });
  const write = (state: object) => writeFile(file.path, JSON.stringify({ format: 1, deferred: {}, updatedAt: '2025-01-01T00:00:00.000Z', ...state }));

  // As written before the union: the same file, resumed as it was (no "known" field yet: empty).
  await write({ phase: 'updating', campaign: campaign() });
  let { state, damaged } = await file.load();
  assert.equal(damaged, undefined);
  assert.equal(state.phase, 'updating');
  assert.deepEqual(state.campaign, campaign());
  assert.deepEqual(state.known, {});

  // Pairs no TMU writes: idle with a campaign, a phase without one → idle, the deferrals kept.
  const deferred = { 'c-1': { reason: 'declined', until: '2030-01-01T00:00:00.000Z' } };
  for (const pair of [{ phase: 'idle', campaign: campaign() }, { phase: 'awaiting-approval', campaign: null }]) {
    await write({ ...pair, deferred });
    ({ state, damaged } = await file.load());
    assert.equal(damaged, undefined);
    assert.deepEqual([state.phase, state.campaign, state.deferred], ['idle', null, deferred]);
  }

  // Reporting without an outcome: reported as failed, as the TMU always did with one.
  await write({ phase: 'reporting', campaign: campaign({ message: 'gave up' }) });
  ({ state } = await file.load());
  assert.equal(state.phase, 'reporting');
  assert.equal(state.phase === 'reporting' && state.campaign.outcome, 'failed');
  // The file itself is left as it was until the TMU saves its next state.
  assert.equal(JSON.parse(await readFile(file.path, 'utf8')).campaign.outcome, null);
});
