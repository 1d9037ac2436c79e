import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { runCanota, startCanota } from '../../support/canota-process.ts';
import { Uploader } from '../../support/ota-server.ts';
import { tempDir } from '../../support/temp-dir.ts';

const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

test('canota demo (npm start): server + admin + vehicle; an EDT release uploaded and deployed ends up flashed and reported', async (t) => {
  const dir = await tempDir(t, 'canota-demo-');
  const demo = await startCanota(['demo', '--dir', dir, '--port', '0', '--approve', 'auto', '--interval', '1'], {
    ready: /OTA server \(admin UI\)\s+(http:\/\/\S+?)\/?$/, timeoutMs: 90_000,
  });
  t.after(() => demo.stop(15_000));
  const [, username, password] = (await demo.waitFor(/log in as\s+(\S+) \/ (\S+)/))!;
  assert.equal(username, 'admin');
  assert.ok(password!.length >= 16, 'a random password, not a fixed default');
  await demo.waitFor(/Stop with Ctrl-C/);

  // A second demo on the same dir refuses before touching anything: the first one's admin password and its
  // car's token (used below by the upload and the car's report) stay as they are.
  const second = await runCanota(['demo', '--dir', dir, '--port', '0', '--approve', 'auto']);
  assert.equal(second.code, 1, second.stderr);
  assert.match(second.stderr, /another canota demo is running on .+: stop it first, or give this one its own --dir/);
  assert.doesNotMatch(second.stdout, /log in as/);

  const image = await readFile(join(dir, 'firmware', 'edt-2.0.0.bin'));
  const uploader = new Uploader(demo.url!, { name: username!, password: password! });
  t.after(() => uploader.close());
  const uploaded = await uploader.upload('edt-2.0.0.bin', image, { ecu: 'EDT', firmware_version: '2.0.0' });
  // The demo car is a registered vehicle: it installs what a deployment assigns it.
  await uploader.post('/api/v1/deployments', {
    name: 'EDT 2.0.0', release_ids: [(uploaded.release as { id: number }).id], target: { all: true },
  }, 201);

  await demo.waitFor(/\[vehicle\] EDT: activated 2\.0\.0/, 90_000);
  await demo.waitFor(/\[vehicle\] report sent/, 30_000);
  const status = await runCanota(['vehicle', 'status', '--state-dir', join(dir, 'vehicle'), '--json']);
  assert.equal(status.code, 0, status.stderr);
  const edt = (JSON.parse(status.stdout) as { ecus: Record<string, { version: string; sha256: string }> }).ecus.EDT!;
  assert.equal(edt.version, '2.0.0');
  assert.equal(edt.sha256, sha256(image));
  const vehicles = await uploader.json<{ vehicles: { vin: string }[] }>('/api/v1/vehicles');
  assert.ok(JSON.stringify(vehicles).includes('WCANDEM0VEHC00001'), 'the server knows the reporting vehicle');

  assert.equal(await demo.stop(15_000), 0);
  assert.ok(demo.output.some((line) => /canota demo stopped/.test(line)));

  // A second start: same car (EDT stays on 2.0.0), a new admin password.
  const again = await startCanota(['demo', '--dir', dir, '--port', '0', '--approve', 'auto'], { ready: /Stop with Ctrl-C/, timeoutMs: 90_000 });
  t.after(() => again.stop(15_000));
  const [, , secondPassword] = (await again.waitFor(/log in as\s+(\S+) \/ (\S+)/))!;
  assert.notEqual(secondPassword, password);
  assert.equal(await again.stop(15_000), 0);
});
