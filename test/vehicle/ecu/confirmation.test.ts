import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { FlashSession } from '../../../src/vehicle/tmu/flash-session.ts';
import { FlashStepError } from '../../../src/vehicle/tmu/flash-errors.ts';
import { ecuBench, manifestFor, nrcOf, type Bench } from './support.ts';

/**
 * Confirmation (0xFF03) and the anti-rollback floor over UDS (issue 10): an activated image runs on trial
 * and may be rolled back until the tester confirms it; after that only an authenticated order may, and never
 * below the newest version ever confirmed.
 */


async function update(bench: Bench, version: string): Promise<void> {
  const image = randomBytes(3000);
  await bench.session.program(image, manifestFor(image, null, { firmware_version: version }));
  assert.equal((await bench.session.activate()).version, version);
}

test('0xFF03 confirms the running image: 0xF1A0 says so, the floor rises, 0xFF02 is refused from then on', async (t) => {
  const bench = await ecuBench(t);
  let state = await bench.session.readBootState();
  assert.deepEqual([state.confirmed, state.floor], [true, '1.0.0'], 'the factory image is confirmed');
  assert.equal(await nrcOf(bench, '31 01 FF03'), 0x31, 'not in the default session');
  await bench.client.diagnosticSessionControl(0x02);
  assert.equal(await nrcOf(bench, '31 01 FF03'), 0x33, 'not while locked');

  await update(bench, '2.0.0');
  state = await bench.session.readBootState();
  assert.deepEqual([state.version, state.confirmed, state.floor], ['2.0.0', false, '1.0.0'], 'on trial after the activation');
  await bench.session.confirm();
  state = await bench.session.readBootState();
  assert.deepEqual([state.confirmed, state.floor, state.state], [true, '2.0.0', 'Running'], 'confirmed, and back in the default session');
  const record = await readFile(join(bench.stateDir, 'ecus', 'EDT', 'boot-record.json'), 'utf8');
  await bench.session.confirm();
  assert.equal(await readFile(join(bench.stateDir, 'ecus', 'EDT', 'boot-record.json'), 'utf8'), record, 'idempotent');

  await assert.rejects(bench.session.rollback(), (error: unknown) => error instanceof FlashStepError && error.step === 'rollback' && error.nrc === 0x22);
  state = await bench.session.readBootState();
  assert.deepEqual([state.version, state.active, state.trialPending, state.banks.A.version], ['2.0.0', 'B', false, '1.0.0'],
    'nothing armed; the old image is still there');
});

test('a confirmed image at the floor is rolled back only when authorizeRollback accepts the order in 0xFF02', async (t) => {
  let accept = false;
  const orders: number[] = [];
  const bench = await ecuBench(t, {
    ecu: { authorizeRollback: (order) => { orders.push(order.length); return accept; } },
  });
  await update(bench, '2.0.0');
  // Unconfirmed: a rollback needs no order, and the hook is not asked.
  const back = await bench.session.rollback();
  assert.equal(back.version, '1.0.0');
  assert.deepEqual(orders, []);

  await update(bench, '2.0.0');
  await bench.session.confirm();
  await update(bench, '2.0.0'); // a rebuilt 2.0.0: the previous image is at the floor
  await bench.session.confirm();
  await assert.rejects(bench.session.rollback(), (error: unknown) => error instanceof FlashStepError && error.nrc === 0x22);
  assert.ok(orders.length > 0, 'the order was shown to the hook');
  accept = true;
  const rolledBack = await bench.session.rollback();
  assert.equal(rolledBack.switched, true);
  assert.equal(rolledBack.version, '2.0.0');
  assert.deepEqual([rolledBack.bootState.confirmed, rolledBack.bootState.floor], [true, '2.0.0']);
});

test('by default only the CGW\'s rollback grant is an order: a forged order or another grant is not', async (t) => {
  const bench = await ecuBench(t);
  await update(bench, '2.0.0');
  await bench.session.confirm();
  await update(bench, '2.0.0'); // a rebuilt 2.0.0: the previous image is at the floor
  await bench.session.confirm();
  // The FlashSession asks the CGW for an 'access' grant instead: no order, refused.
  const tester = new FlashSession({
    client: bench.client, ecu: { name: 'EDT' }, rebootTimeoutMs: 3000, pollIntervalMs: 10,
    authority: { authorize: (request) => bench.cgw.authorize({ ...request, purpose: 'access' }) },
  });
  await assert.rejects(tester.rollback(), (error: unknown) => error instanceof FlashStepError && error.nrc === 0x22);
  // The CGW's real rollback grant (what FlashSession.rollback() asks for) is an order.
  const rolledBack = await bench.session.rollback();
  assert.deepEqual([rolledBack.switched, rolledBack.version], [true, '2.0.0']);
});

test('0xFF01 refuses an image below the floor even when the ECU fell back to an older one', async (t) => {
  const bench = await ecuBench(t);
  await update(bench, '2.0.0');
  await bench.session.confirm();
  // Bank B wears out: the ECU falls back to 1.0.0 at its next boot.
  await bench.ecu.close();
  await writeFile(join(bench.stateDir, 'ecus', 'EDT', 'bank-B.img'), 'worn');
  await bench.restartEcu();
  const state = await bench.session.readBootState();
  assert.deepEqual([state.version, state.floor, state.lastBoot?.outcome], ['1.0.0', '2.0.0', 'fell-back']);
  const image = randomBytes(2000);
  await assert.rejects(bench.session.program(image, manifestFor(image, null, { firmware_version: '1.5.0' })),
    /version 1\.5\.0 is below the anti-rollback floor 2\.0\.0 \(the newest version this ECU confirmed\)/);
  await bench.session.program(image, manifestFor(image, null, { firmware_version: '2.0.0' }));
});
