import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic, writeFileExclusive } from '../../src/files/atomic-write.ts';
import { tempDir } from '../support/temp-dir.ts';

test('writeFileExclusive: of several creators at once exactly one wins, the others keep its file', async (t) => {
  const dir = await tempDir(t);
  const path = join(dir, 'audit-chain.key');
  const results = await Promise.all(Array.from({ length: 8 }, (_, i) => writeFileExclusive(path, `key ${i}\n`, { mode: 0o600 })));
  assert.equal(results.filter(Boolean).length, 1);
  const winner = results.indexOf(true);
  assert.equal(await readFile(path, 'utf8'), `key ${winner}\n`);
  assert.equal((await stat(path)).mode & 0o777, 0o600);
  assert.deepEqual(await readdir(dir), ['audit-chain.key'], 'no temp file is left behind');
});

test('writeFileExclusive never replaces an existing file; writeFileAtomic does', async (t) => {
  const dir = await tempDir(t);
  const path = join(dir, 'vehicle.json');
  await writeFile(path, 'first');
  assert.equal(await writeFileExclusive(path, 'second', { mode: 0o600 }), false);
  assert.equal(await readFile(path, 'utf8'), 'first');
  await writeFileAtomic(path, 'third');
  assert.equal(await readFile(path, 'utf8'), 'third');
  assert.deepEqual(await readdir(dir), ['vehicle.json']);
});

test('writeFileExclusive into a folder that does not exist fails and creates nothing', async (t) => {
  const dir = await tempDir(t);
  await assert.rejects(writeFileExclusive(join(dir, 'missing', 'file'), 'x', { mode: 0o600 }), { code: 'ENOENT' });
  assert.deepEqual(await readdir(dir), []);
});
