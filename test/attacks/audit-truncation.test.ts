import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { listeningPattern, runCanota, startCanota } from '../support/canota-process.ts';
import { tempDir } from '../support/temp-dir.ts';
import { admin, employee, loggedIn, startTestServer } from '../server/support/server.ts';
import { entryMac } from '../../src/server/audit/chain.ts';
import type { AuditRecord } from '../../src/server/storage/audit-entries.ts';
import { image } from '../server/support/images.ts';

/**
 * Attack: removing the newest audit entries leaves a shorter chain that is still valid, and an attacker who
 * also stole the HMAC key can re-chain the whole log. A signed checkpoint kept elsewhere catches both:
 * `canota audit verify --checkpoint FILE` exits 1 unless the checkpointed entry is still there, unchanged,
 * at the same position. The checkpoint's signature can be checked without the data dir.
 */
test('signed checkpoints catch removed newest entries and a re-chained log', async (t) => {
  const server = await startTestServer(t);
  const elsewhere = await tempDir(t, 'canota-checkpoints-');
  const checkpoint = join(elsewhere, 'checkpoint.json');
  const boss = await loggedIn(server, admin);
  assert.equal((await boss.upload('one.bin', image('1'))).status, 200);
  await server.client().login(employee.username, 'wrong-password-1');
  await server.client().login(employee.username, 'wrong-password-2');

  const made = await runCanota(['audit', 'checkpoint', '--data-dir', server.dataDir, '-o', checkpoint]);
  assert.equal(made.code, 0, made.stderr);
  const signed = (JSON.parse(await readFile(checkpoint, 'utf8')) as { signed: { entry_id: number; entries: number; hash: string } }).signed;
  const shown = await runCanota(['audit', 'checkpoint', '--data-dir', server.dataDir, '--show-key']);
  const publicKey = shown.stdout.trim();
  assert.match(publicKey, /^ed25519:[A-Za-z0-9+/]{43}=$/);

  // The server goes on writing after the checkpoint.
  assert.equal((await boss.upload('two.bin', image('2'))).status, 200);
  await server.process.stop();
  const verify = (...args: string[]) => runCanota(['audit', 'verify', '--data-dir', server.dataDir, ...args]);
  const db = () => new Database(server.databaseFile);

  await t.test('the checkpoint is signed, checkable without the data dir, and still a prefix of the log', async () => {
    const checked = await runCanota(['audit', 'check-checkpoint', checkpoint, '--key', publicKey]);
    assert.equal(checked.code, 0, checked.stderr);
    assert.match(checked.stdout, new RegExp(`entry #${signed.entry_id}, ${signed.entries} entries`));
    const ok = await verify('--checkpoint', checkpoint);
    assert.equal(ok.code, 0, ok.stderr);
    assert.match(ok.stdout, /1 checkpoint hold/);
  });

  await t.test('a checkpoint edited after signing is refused', async () => {
    const edited = join(elsewhere, 'edited.json');
    const file = JSON.parse(await readFile(checkpoint, 'utf8')) as { signed: { entries: number } };
    file.signed.entries -= 2;
    await writeFile(edited, JSON.stringify(file));
    const result = await verify('--checkpoint', edited, '--checkpoint-key', publicKey);
    assert.equal(result.code, 1);
    assert.match(result.stderr, /signature does not match/);
    assert.equal((await runCanota(['audit', 'check-checkpoint', edited, '--key', publicKey])).code, 1);
  });

  await t.test('the newest entries removed, the checkpointed one with them', async () => {
    const handle = db();
    handle.exec('drop trigger if exists audit_log_no_delete; drop trigger if exists audit_log_no_update');
    handle.prepare('delete from audit_log where id >= ?').run(signed.entry_id);
    handle.close();
    const plain = await verify();
    assert.equal(plain.code, 0, 'the chain alone cannot tell: what is left is a valid shorter chain');
    const result = await verify('--checkpoint', checkpoint);
    assert.equal(result.code, 1, result.stdout);
    assert.match(result.stderr, new RegExp(`checkpoint .*checkpoint\\.json: entry #${signed.entry_id} is no longer in the log`));
  });

  await t.test('the log re-chained by someone who has the HMAC key (two failed logins removed)', async () => {
    // Start again from a log that matches the checkpoint, then rewrite it with the stolen key.
    const dataDir = await tempDir(t, 'canota-rechain-');
    const fresh = await startTestServer(t, { dataDir });
    const freshBoss = await loggedIn(fresh, admin);
    await fresh.client().login(employee.username, 'wrong-password-1');
    await fresh.client().login(employee.username, 'wrong-password-2');
    assert.equal((await freshBoss.upload('one.bin', image('1'))).status, 200);
    await fresh.process.stop();
    const point = join(elsewhere, 'fresh.json');
    assert.equal((await runCanota(['audit', 'checkpoint', '--data-dir', dataDir, '-o', point])).code, 0);

    const key = Buffer.from((await readFile(join(dataDir, 'keys', 'audit-chain.key'), 'utf8')).trim(), 'hex');
    const handle = new Database(join(dataDir, 'canota.db'));
    handle.exec('drop trigger if exists audit_log_no_delete; drop trigger if exists audit_log_no_update');
    const rows = handle.prepare('select * from audit_log order by id').all() as AuditRecord[];
    handle.prepare("delete from audit_log where event = 'login' and outcome = 'failed'").run();
    let prev: string | undefined;
    for (const row of rows.filter((r) => !(r.event === 'login' && r.outcome === 'failed'))) {
      const rewritten = { ...row, prev_hash: prev ?? row.prev_hash };
      rewritten.hash = entryMac(key, rewritten);
      handle.prepare('update audit_log set prev_hash = ?, hash = ? where id = ?').run(rewritten.prev_hash, rewritten.hash, row.id);
      prev = rewritten.hash;
    }
    handle.close();
    const plain = await runCanota(['audit', 'verify', '--data-dir', dataDir]);
    assert.equal(plain.code, 0, 'with the key stolen, the chain alone cannot tell');
    const result = await runCanota(['audit', 'verify', '--data-dir', dataDir, '--checkpoint', point]);
    assert.equal(result.code, 1, result.stdout);
    assert.match(result.stderr, /is not the one the checkpoint signed/);
  });

  await t.test('a verifier never makes up a missing audit key', async () => {
    const dir = await tempDir(t, 'canota-nokey-');
    const server2 = await startCanota(['server', '--port', '0', '--data-dir', dir], { ready: listeningPattern });
    await server2.stop();
    await rm(join(dir, 'keys', 'audit-chain.key'));
    const result = await runCanota(['audit', 'verify', '--data-dir', dir]);
    assert.equal(result.code, 1);
    assert.match(result.stderr, /no audit key at/);
  });
});
