import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { runCanota } from '../../support/canota-process.ts';
import { tempDir } from '../../support/temp-dir.ts';
import { admin, loggedIn, startTestServer } from '../support/server.ts';
import { postgresMissing, startPostgres } from '../support/postgres.ts';

test('two canota servers on one PostgreSQL database and data dir act as one', { skip: postgresMissing }, async (t) => {
  const postgres = await startPostgres(t);
  const databaseUrl = await postgres.createDatabase();
  const dataDir = await tempDir(t, 'canota-shared-');
  const first = await startTestServer(t, { dataDir, databaseUrl });
  const second = await startTestServer(t, { dataDir, databaseUrl, users: [] });
  try {
    const health = (await second.client().fetch('/healthz')).json();
    assert.deepEqual(health, { status: 'ok', database: 'postgres' });

    const boss = await loggedIn(first, admin);
    const firmware = randomBytes(100_000);
    assert.equal((await boss.upload('shared.bin', firmware, { ecu: 'EDT', firmware_version: '1.0.0' })).status, 200);
    const latest = (await second.client().fetch('/latest_version')).json();
    assert.equal(latest.sha256, createHash('sha256').update(firmware).digest('hex'), 'the other instance sees the upload');

    const onSecond = second.client();
    onSecond.cookies.set('canota_session', boss.cookies.get('canota_session')!);
    assert.equal((await onSecond.fetch('/')).status, 200, 'a session from one instance works on the other');

    for (let round = 0; round < 5; round++) {
      const { nonce } = (await first.client().fetch('/get_nonce')).json<{ nonce: string }>();
      const results = await Promise.all([first.client(), second.client()].map((c) => c.fetch(`/ota_download/shared.bin?nonce=${nonce}`)));
      assert.deepEqual(results.map((r) => r.status).sort(), [200, 403], 'one nonce, one download, across instances');
      assert.deepEqual(results.find((r) => r.status === 200)!.body, firmware);
    }
  } finally {
    await Promise.all([first.process.stop(), second.process.stop()]);
  }
  const verify = await runCanota(['audit', 'verify', '--data-dir', dataDir, '--database-url', databaseUrl]);
  assert.equal(verify.code, 0, verify.stderr);
  assert.match(verify.stdout, /intact: \d+ entries/);
});
