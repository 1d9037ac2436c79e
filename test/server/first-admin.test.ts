import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createFirstAdmin } from '../../src/server/first-admin.ts';
import { startServer } from '../../src/server/start.ts';
import { createLogger } from '../../src/logging/logger.ts';
import { tempDir } from '../support/temp-dir.ts';
import { WebClient } from './support/web-client.ts';

test('createFirstAdmin makes a random-password admin once; startServer runs in-process', async (t) => {
  const dataDir = await tempDir(t);
  const first = await createFirstAdmin({ dataDir });
  assert.equal(first?.username, 'admin');
  assert.match(first!.password, /^\S{20}$/);
  assert.equal(await createFirstAdmin({ dataDir }), undefined, 'never reset');

  const server = await startServer({ dataDir, port: 0, logger: createLogger({ name: 'server', level: 'silent' }) });
  t.after(() => server.close());
  assert.match(server.url, /^http:\/\/127\.0\.0\.1:\d+$/);
  const client = new WebClient(server.url);
  t.after(() => client.close());
  assert.equal((await client.login('admin', first!.password)).status, 302);
});
