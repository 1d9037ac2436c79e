import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startServer } from '../../src/server/start.ts';
import { createFirstAdmin } from '../../src/server/first-admin.ts';
import { UnauthorizedError } from '../../src/server/errors.ts';
import { createLogger } from '../../src/logging/logger.ts';
import { tempDir } from '../support/temp-dir.ts';
import { WebClient } from './support/web-client.ts';
import { image } from './support/images.ts';

test('identifyDownloader: a pluggable "who is downloading" for nonces and downloads (vehicle tokens later)', async (t) => {
  const dataDir = await tempDir(t);
  const first = await createFirstAdmin({ dataDir });
  const server = await startServer({
    dataDir, port: 0, logger: createLogger({ name: 'server', level: 'silent' }),
    identifyDownloader: async (request) => {
      const header = request.headers.authorization;
      if (header === undefined) return null;
      if (header === 'Bearer good-token') return 'VIN-TEST-1';
      throw new UnauthorizedError('unknown vehicle token');
    },
  });
  t.after(() => server.close());
  const admin = new WebClient(server.url);
  const vehicle = new WebClient(server.url);
  t.after(() => Promise.all([admin.close(), vehicle.close()]));
  await admin.login('admin', first!.password);
  assert.equal((await admin.upload('v.bin', image('vehicle firmware'))).status, 200);

  const auth = { authorization: 'Bearer good-token' };
  const { nonce } = (await vehicle.fetch('/get_nonce', { headers: auth })).json<{ nonce: string }>();
  const download = await vehicle.fetch(`/ota_download/v.bin?nonce=${nonce}`, { headers: auth });
  assert.deepEqual(download.body, image('vehicle firmware'));
  const uses = await server.ctx.audit.list({ event: 'nonce.use', limit: 10 });
  assert.equal(uses[0]?.actor, 'VIN-TEST-1', 'the nonce use is audited under the vehicle');
  // The download's own entry is written once the response has ended: give it a moment.
  let downloads = await server.ctx.audit.list({ event: 'download', limit: 10 });
  for (let i = 0; i < 50 && downloads.length === 0; i++) {
    await new Promise((resolve) => setTimeout(resolve, 20));
    downloads = await server.ctx.audit.list({ event: 'download', limit: 10 });
  }
  assert.equal(downloads[0]?.actor, 'VIN-TEST-1', 'the download is audited under the vehicle');

  const refused = await vehicle.fetch('/get_nonce', { headers: { authorization: 'Bearer stolen' } });
  assert.equal(refused.status, 401);
  assert.deepEqual(refused.json(), { error: 'unknown vehicle token' });

  const anonymous = (await vehicle.fetch('/get_nonce')).json<{ nonce: string }>();
  assert.equal((await vehicle.fetch(`/ota_download/v.bin?nonce=${anonymous.nonce}`)).status, 200, 'anonymous (seed) clients still work');
});
