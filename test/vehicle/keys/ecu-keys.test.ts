import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, rm, stat, writeFile } from 'node:fs/promises';
import { standardVehicleConfig } from '../../../src/vehicle/config.ts';
import { EcuKeysError, ecuKeysPath, loadEcuKeys, provisionVehicleKeys } from '../../../src/vehicle/keys/ecu-keys.ts';
import { keysHeldBy, vehicleKeyPlan } from '../../../src/vehicle/keys/key-plan.ts';
import { tempDir } from '../../support/temp-dir.ts';

const config = standardVehicleConfig('WCANTAKEYS0000001');
const readKeys = async (stateDir: string, ecu: string) =>
  (JSON.parse(await readFile(ecuKeysPath(stateDir, ecu), 'utf8')) as { keys: Record<string, string> }).keys;

test('each ECU gets exactly the keys of its relationships, in its own 0600 file; the TMU holds no other ECU\'s grant key', async (t) => {
  const stateDir = await tempDir(t);
  assert.deepEqual((await provisionVehicleKeys(config, stateDir)).sort(), ['CGW', 'EDT', 'TMU']);
  const tmu = await readKeys(stateDir, 'TMU');
  const cgw = await readKeys(stateDir, 'CGW');
  const edt = await readKeys(stateDir, 'EDT');
  assert.deepEqual(Object.keys(tmu).sort(), ['approval', 'grant:TMU', 'status:CGW', 'status:EDT', 'status:TMU']);
  assert.deepEqual(Object.keys(cgw).sort(), ['approval', 'grant:CGW', 'grant:EDT', 'grant:TMU', 'status:CGW', 'status:EDT', 'status:TMU']);
  assert.deepEqual(Object.keys(edt).sort(), ['grant:EDT', 'status:EDT']);
  // Shared keys are the same at both ends; keys of different relationships differ.
  assert.equal(tmu.approval, cgw.approval);
  assert.equal(edt['grant:EDT'], cgw['grant:EDT']);
  assert.equal(tmu['grant:TMU'], cgw['grant:TMU']);
  assert.equal(new Set([cgw.approval, cgw['grant:CGW'], cgw['grant:EDT'], cgw['grant:TMU'], cgw['status:EDT']]).size, 5);
  for (const ecu of ['TMU', 'CGW', 'EDT']) assert.equal((await stat(ecuKeysPath(stateDir, ecu))).mode & 0o777, 0o600, ecu);
  const loaded = await loadEcuKeys(config, stateDir, 'TMU');
  assert.deepEqual(loaded.names.sort(), keysHeldBy(vehicleKeyPlan(config), 'TMU').sort());
  assert.throws(() => loaded.get('grant:EDT'), /TMU holds no key "grant:EDT"/);
});

test('provisioning is idempotent and completes a partial run with the keys other holders already have', async (t) => {
  const stateDir = await tempDir(t);
  await provisionVehicleKeys(config, stateDir);
  const before = await readKeys(stateDir, 'TMU');
  assert.deepEqual(await provisionVehicleKeys(config, stateDir), [], 'nothing to write');
  // A crash left the TMU without its file: it gets the keys the CGW and EDT still hold.
  await rm(ecuKeysPath(stateDir, 'TMU'));
  assert.deepEqual(await provisionVehicleKeys(config, stateDir), ['TMU']);
  assert.deepEqual(await readKeys(stateDir, 'TMU'), before);
});

test('ECUs starting at once (in one process and in several) agree on one set of keys', async (t) => {
  const stateDir = await tempDir(t);
  const loads = await Promise.all(Array.from({ length: 6 }, (_, i) => loadEcuKeys(config, stateDir, ['TMU', 'CGW', 'EDT'][i % 3]!)));
  const approval = new Set(loads.filter((keys) => keys.has('approval')).map((keys) => Buffer.from(keys.get('approval')).toString('hex')));
  assert.equal(approval.size, 1);
  const edtGrant = new Set(loads.filter((keys) => keys.has('grant:EDT')).map((keys) => Buffer.from(keys.get('grant:EDT')).toString('hex')));
  assert.equal(edtGrant.size, 1);
});

test('keys that disagree between holders, or a damaged file, stop the ECU with the file named', async (t) => {
  const stateDir = await tempDir(t);
  await provisionVehicleKeys(config, stateDir);
  const edt = JSON.parse(await readFile(ecuKeysPath(stateDir, 'EDT'), 'utf8')) as { ecu: string; keys: Record<string, string> };
  edt.keys['grant:EDT'] = 'ab'.repeat(32);
  delete (edt.keys as Record<string, string | undefined>)['status:EDT'];
  await writeFile(ecuKeysPath(stateDir, 'EDT'), JSON.stringify(edt));
  await assert.rejects(loadEcuKeys(config, stateDir, 'EDT'), (error: unknown) =>
    error instanceof EcuKeysError && /key "grant:EDT" differs between CGW and EDT/.test(error.message));
  await writeFile(ecuKeysPath(stateDir, 'TMU'), '{"ecu": "TMU", "keys": {"approval": "short"}}');
  await assert.rejects(loadEcuKeys(config, stateDir, 'TMU'), (error: unknown) =>
    error instanceof EcuKeysError && error.message.includes(ecuKeysPath(stateDir, 'TMU')) && /64 lowercase hex/.test(error.message));
  await writeFile(ecuKeysPath(stateDir, 'TMU'), JSON.stringify({ ecu: 'CGW', keys: {} }));
  await assert.rejects(loadEcuKeys(config, stateDir, 'TMU'), /holds the keys of CGW, not TMU/);
});
