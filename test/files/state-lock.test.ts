import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { StateDirLockedError, StateLock } from '../../src/files/state-lock.ts';
import { tempDir } from '../support/temp-dir.ts';

test('one holder at a time; a lock left by a dead process is taken over', async (t) => {
  const dir = await tempDir(t);
  const first = new StateLock(dir);
  await first.acquire();
  await first.acquire();
  assert.equal((await readFile(first.path, 'utf8')).trim(), String(process.pid));

  // A live process (another pid) holds it: refused.
  const sleeper = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 30000)']);
  t.after(() => sleeper.kill('SIGKILL'));
  await first.release();
  await writeFile(first.path, `${sleeper.pid}\n`);
  await assert.rejects(new StateLock(dir).acquire(), (error) => error instanceof StateDirLockedError && error.code === 'STATE_DIR_LOCKED');

  // Killed (kill -9 leaves the file behind): the next client takes over.
  sleeper.kill('SIGKILL');
  await once(sleeper, 'exit');
  const next = new StateLock(dir);
  await next.acquire();
  assert.equal((await readFile(next.path, 'utf8')).trim(), String(process.pid));
  await next.release();
  assert.deepEqual(await readdir(dir), []);
});
