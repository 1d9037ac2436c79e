import { test } from 'node:test';
import assert from 'node:assert/strict';
import Database from 'better-sqlite3';
import { runCanota } from '../../support/canota-process.ts';
import { admin, employee, loggedIn, startTestServer } from '../support/server.ts';

test('audit log: /audit page with filters, JSON lines, verify, and tampering detected', async (t) => {
  const server = await startTestServer(t);
  const boss = await loggedIn(server, admin);
  await boss.upload('one.bin', Buffer.from([0]));
  await server.client().login(employee.username, 'not-the-password');
  const { nonce } = (await server.client().fetch('/get_nonce')).json<{ nonce: string }>();
  await server.client().fetch(`/ota_download/one.bin?nonce=${nonce}`);

  await t.test('admins see the log, newest first, and can filter it', async () => {
    const page = await boss.fetch('/audit');
    assert.equal(page.status, 200);
    assert.match(page.text, /<td>upload<\/td><td>ok<\/td>/);
    assert.match(page.text, /<td>login<\/td><td>failed<\/td>/);
    const logins = await boss.fetch('/audit?event=login&outcome=failed');
    assert.match(logins.text, /<td>login<\/td><td>failed<\/td>\s*<td>erin<\/td>/);
    assert.doesNotMatch(logins.text, /<td>upload<\/td>/);
    const byActor = await boss.fetch(`/audit?actor=${admin.username}`);
    assert.doesNotMatch(byActor.text, /<td>erin<\/td>/);
    assert.equal((await boss.fetch('/audit?event=bogus')).status, 400);
  });

  await t.test('each entry is also a JSON log line with its hash chain', async () => {
    const lines = (await server.auditLines());
    assert.ok(lines.length >= 5);
    for (let i = 1; i < lines.length; i++) assert.equal(lines[i]!.prev_hash, lines[i - 1]!.hash);
  });

  await t.test('canota audit verify: exit 0 on the intact log', async () => {
    const result = await runCanota(['audit', 'verify', '--data-dir', server.dataDir]);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /audit log intact: \d+ entries/);
  });

  await t.test('canota audit list prints entries, filterable, as text or JSON lines', async () => {
    const result = await runCanota(['audit', 'list', '--data-dir', server.dataDir, '--event', 'upload', '--json']);
    assert.equal(result.code, 0, result.stderr);
    const entries = result.stdout.trim().split('\n').map((l) => JSON.parse(l) as { event: string; subject: string; details: { size: number } });
    assert.deepEqual(entries.map((e) => [e.event, e.subject, e.details.size]), [['upload', 'one.bin', 1]]);
    assert.equal((await runCanota(['audit', 'list', '--data-dir', server.dataDir, '--event', 'nope'])).code, 2);
  });

  await t.test('editing an entry in the database makes verify fail naming it', async () => {
    await server.process.stop();
    const db = new Database(server.databaseFile);
    const target = db.prepare("select id from audit_log where event = 'upload'").get() as { id: number };
    const edit = () => db.prepare("update audit_log set actor = 'someone-else' where id = ?").run(target.id);
    assert.throws(edit, /append-only/, 'the database itself refuses');
    // An attacker with the database file drops the guards first.
    db.exec('drop trigger audit_log_no_update; drop trigger audit_log_no_delete');
    edit();
    db.close();
    const result = await runCanota(['audit', 'verify', '--data-dir', server.dataDir]);
    assert.equal(result.code, 1);
    assert.match(result.stderr, new RegExp(`first bad entry #${target.id}: hash does not match`));
  });

  await t.test('deleting an entry (even with its hash recomputed elsewhere) breaks the chain at the next one', async () => {
    const db = new Database(server.databaseFile);
    db.prepare("update audit_log set actor = ? where event = 'upload'").run(admin.username);
    const rows = db.prepare('select id from audit_log order by id').all() as Array<{ id: number }>;
    const victim = rows[2]!.id;
    db.prepare('delete from audit_log where id = ?').run(victim);
    db.close();
    const result = await runCanota(['audit', 'verify', '--data-dir', server.dataDir]);
    assert.equal(result.code, 1);
    assert.match(result.stderr, new RegExp(`first bad entry #${rows[3]!.id}: prev_hash does not match`));
  });
});
