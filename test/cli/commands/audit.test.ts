import { test } from 'node:test';
import assert from 'node:assert/strict';
import Database from 'better-sqlite3';
import { join } from 'node:path';
import { runCanota } from '../../support/canota-process.ts';
import { tempDir } from '../../support/temp-dir.ts';

test('canota audit verify: 0 on an empty or intact log, 1 naming the first bad entry', async (t) => {
  const dataDir = await tempDir(t);
  const data = ['--data-dir', dataDir];
  const empty = await runCanota(['audit', 'verify', ...data]);
  assert.equal(empty.code, 0, empty.stderr);
  assert.match(empty.stdout, /intact: 0 entries/);

  for (const name of ['a', 'b', 'c']) await runCanota(['user', 'add', name, '--role', 'employee', ...data]);
  // The first command to write makes the audit key, and its first entry says so (audit.key): 1 + 3 entries.
  assert.match((await runCanota(['audit', 'verify', ...data])).stdout, /intact: 4 entries/);

  const db = new Database(join(dataDir, 'canota.db'));
  db.exec('drop trigger audit_log_no_update');
  db.prepare("update audit_log set details = '{\"role\":\"admin\"}' where subject = 'b'").run();
  const id = (db.prepare("select id from audit_log where subject = 'b'").get() as { id: number }).id;
  db.close();
  const broken = await runCanota(['audit', 'verify', ...data]);
  assert.equal(broken.code, 1);
  assert.match(broken.stderr, new RegExp(`first bad entry #${id}`));

  const text = await runCanota(['audit', 'list', '--limit', '2', ...data]);
  assert.equal(text.stdout.trim().split('\n').length, 2);
  assert.match(text.stdout, /^\d+\t\S+Z\tuser\.add\tok\tcli\t-\tc\t/m);
});
