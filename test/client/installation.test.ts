import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { moveIntoPlace, sweepTemporaryFiles } from '../../src/client/installation.ts';
import { temporaryPathFor } from '../../src/files/atomic-write.ts';
import { tempDir } from '../support/temp-dir.ts';

test('moveIntoPlace renames within a filesystem and replaces an older file of the same name', async (t) => {
  const dir = await tempDir(t);
  await writeFile(join(dir, 'part'), 'new bytes');
  await writeFile(join(dir, 'fw.bin'), 'old');
  const target = await moveIntoPlace(join(dir, 'part'), dir, 'fw.bin');
  assert.equal(target, join(dir, 'fw.bin'));
  assert.equal(await readFile(target, 'utf8'), 'new bytes');
  assert.deepEqual(await readdir(dir), ['fw.bin']);
});

test('moveIntoPlace copies across filesystems (EXDEV) through a temp file, then removes the source', async (t) => {
  const shm = await stat('/dev/shm').catch(() => undefined);
  if (!shm?.isDirectory()) {
    t.skip('no /dev/shm: no second filesystem to move across');
    return;
  }
  const state = await tempDir(t);
  const downloads = await mkdtemp('/dev/shm/canota-client-');
  t.after(() => rm(downloads, { recursive: true, force: true }));
  const bytes = Buffer.alloc(3 * 1024 * 1024 + 7, 0x5a);
  await writeFile(join(state, 'download.part'), bytes);
  const target = await moveIntoPlace(join(state, 'download.part'), downloads, 'fw.bin');
  assert.ok((await readFile(target)).equals(bytes));
  assert.deepEqual(await readdir(state), []);
  assert.deepEqual(await readdir(downloads), ['fw.bin']);
});

test('sweepTemporaryFiles removes only our own temp names', async (t) => {
  const dir = await tempDir(t);
  const ours = temporaryPathFor(join(dir, 'progress.txt'));
  for (const name of [ours, join(dir, 'progress.txt'), join(dir, '.hidden.tmp'), join(dir, 'fw.bin.tmp'), join(dir, '.x.12.zzzzzzzz.tmp')]) {
    await writeFile(name, '');
  }
  assert.deepEqual(await sweepTemporaryFiles(dir), [ours.slice(dir.length + 1)]);
  assert.deepEqual((await readdir(dir)).sort(), ['.hidden.tmp', '.x.12.zzzzzzzz.tmp', 'fw.bin.tmp', 'progress.txt']);
});
