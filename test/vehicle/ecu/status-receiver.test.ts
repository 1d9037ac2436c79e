import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { canFrame } from '../../../src/can/bus/index.ts';
import { parseVehicleConfig, standardVehicleConfig } from '../../../src/vehicle/config.ts';
import { MotionListener, vehicleConditionFor } from '../../../src/vehicle/ecu/motion-listener.ts';
import { EcuState, encodeStatusFrame, type EcuStatus } from '../../../src/vehicle/ecu/status-frame.ts';
import { StatusReceiver, acceptedFreshnessPath, secOcStatisticsPath } from '../../../src/vehicle/ecu/status-receiver.ts';
import { ecuKeysPath, loadEcuKeys, provisionVehicleKeys } from '../../../src/vehicle/keys/ecu-keys.ts';
import { statusKeyName } from '../../../src/vehicle/keys/key-plan.ts';
import { tempDir } from '../../support/temp-dir.ts';

const config = standardVehicleConfig('WCANTA10000000042');
const running: EcuStatus = { version: [1, 0, 0], state: EcuState.Running, activeBank: 'A', trialPending: false, lastBootRolledBack: false, vehicleMoving: false };

async function provisioned(t: Parameters<typeof tempDir>[0]) {
  const stateDir = await tempDir(t);
  await provisionVehicleKeys(config, stateDir);
  const edtKey = (await loadEcuKeys(config, stateDir, 'EDT')).get(statusKeyName('EDT'));
  const edt = (status: EcuStatus, freshness: bigint) => canFrame({ id: 0x530, data: encodeStatusFrame(edtKey, 0x530, status, freshness) });
  return { stateDir, edt };
}

test('the TMU verifies with its own keys.json only (another ECU\'s file may be unreadable), and keeps what it accepted across a restart', async (t) => {
  const { stateDir, edt } = await provisioned(t);
  await writeFile(ecuKeysPath(stateDir, 'EDT'), 'not for the TMU');
  await writeFile(ecuKeysPath(stateDir, 'CGW'), 'not for the TMU either');
  const tmu = await StatusReceiver.open({ config, stateDir, ecu: 'TMU', statisticsIntervalMs: 0 });
  assert.deepEqual(tmu.senders.sort(), ['CGW', 'EDT']);
  const heard: string[] = [];
  tmu.onStatus(({ ecu, status, freshness }) => heard.push(`${ecu} ${status.version.join('.')} #${freshness}`));
  const first = edt(running, 1n);
  assert.equal(tmu.receive(first)?.result, 'verified');
  assert.equal(tmu.receive(edt(running, 2n))?.result, 'verified');
  assert.equal(tmu.receive(canFrame({ id: 0x530, data: [1, 2, 3] }))?.result, 'malformed');
  assert.equal(tmu.receive(canFrame({ id: 0x530, fd: true, data: first.data }))?.result, 'malformed', 'a status frame is a classic frame');
  assert.equal(tmu.receive(canFrame({ id: 0x123, data: first.data })), null, 'not a status frame');
  assert.deepEqual(heard, ['EDT 1.0.0 #1', 'EDT 1.0.0 #2']);
  await tmu.close();
  assert.deepEqual(JSON.parse(await readFile(acceptedFreshnessPath(stateDir, 'TMU'), 'utf8')), { accepted: { 'status:EDT': '2' } });

  const again = await StatusReceiver.open({ config, stateDir, ecu: 'TMU' });
  assert.equal(again.receive(first)?.result, 'replay', 'a frame accepted before the restart is not accepted again');
  assert.equal(again.receive(edt(running, 3n))?.result, 'verified');
  await again.close();
  const statistics = JSON.parse(await readFile(secOcStatisticsPath(stateDir, 'TMU'), 'utf8')) as { senders: Record<string, { verified: number; replays: number }> };
  assert.deepEqual([statistics.senders.EDT!.verified, statistics.senders.EDT!.replays], [1, 1]);
});

test('motion: stopped only while the motion source\'s latest verified frame, at most 1 s old, says so', async (t) => {
  const { stateDir, edt } = await provisioned(t);
  let now = 0;
  const cgw = await StatusReceiver.open({ config, stateDir, ecu: 'CGW', senders: ['EDT'], statisticsIntervalMs: 0, now: () => now });
  const motion = new MotionListener(cgw, 'EDT', { now: () => now });
  assert.match(motion.drivingReason()!, /no authenticated status frame from EDT yet/);
  cgw.receive(edt(running, 1n));
  assert.equal(motion.drivingReason(), null);
  cgw.receive(edt({ ...running, vehicleMoving: true }, 2n));
  assert.equal(motion.drivingReason(), 'EDT reports the vehicle moving');
  cgw.receive(canFrame({ id: 0x530, data: [...edt(running, 3n).data.subarray(0, 5), 0, 0, 0] }));
  assert.equal(motion.drivingReason(), 'EDT reports the vehicle moving', 'a forged "stopped" changes nothing');
  cgw.receive(edt(running, 4n));
  now += 1000;
  assert.equal(motion.drivingReason(), null, 'a second old: still fresh');
  now += 1;
  assert.match(motion.drivingReason()!, /no authenticated status frame from EDT for 1001 ms/);
  motion.close();
  await cgw.close();
});

test('which condition an ECU uses: none without a motion source, its own input for the source, the source\'s frames for the others', async (t) => {
  const { stateDir } = await provisioned(t);
  const { motionSource: _none, ...rest } = config;
  assert.equal(vehicleConditionFor(parseVehicleConfig(rest), 'CGW', { receiver: null }).drivingReason(), null);
  let driving = true;
  const own = vehicleConditionFor(config, 'EDT', { receiver: null, driving: () => driving });
  assert.equal(own.drivingReason(), 'the vehicle is driving');
  driving = false;
  assert.equal(own.drivingReason(), null);
  assert.match(vehicleConditionFor(config, 'CGW', { receiver: null }).drivingReason()!, /CGW cannot verify EDT's status frames/);
  const receiver = await StatusReceiver.open({ config, stateDir, ecu: 'CGW', senders: ['EDT'], statisticsIntervalMs: 0 });
  assert.ok(vehicleConditionFor(config, 'CGW', { receiver }) instanceof MotionListener);
  await receiver.close();
});
