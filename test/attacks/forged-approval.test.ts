import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { VirtualBus, VirtualNetwork } from '../../src/can/bus/virtual.ts';
import { IsoTpChannel } from '../../src/can/isotp/index.ts';
import { standardVehicleConfig } from '../../src/vehicle/config.ts';
import { isoTpFrameOptions } from '../../src/vehicle/network.ts';
import { readVehicleStatus } from '../../src/vehicle/status.ts';
import { startOtaServer } from '../support/ota-server.ts';
import { eventually, eventuallyAsync } from '../vehicle/cgw/support.ts';
import { ScriptedDriver, messages, startCar } from '../vehicle/support/car-rig.ts';

const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString('hex');

/**
 * The attack the issue staged: a node on CAN-T answers the TMU's "approval result" request (`31 03 F0 01`)
 * with "approved" before the CGW can, while the driver has not decided. Before the approval channel was
 * authenticated, the TMU installed the CGW's and its own images. Now: the whole car in this process against a
 * real OTA server, the attacker a node on the car's CAN-T answering every approval poll "approved" and every
 * progress "ok", and afterwards replaying every request it recorded.
 */
test('a forged "approved" on 0x718 installs nothing; replayed approval requests are dropped and counted', async (t) => {
  const server = await startOtaServer(t);
  await server.upload('edt-2.0.0.bin', randomBytes(20_000), { ecu: 'EDT', firmware_version: '2.0.0' });
  await server.upload('cgw-1.1.0.bin', randomBytes(20_000), { ecu: 'CGW', firmware_version: '1.1.0' });
  let approve: (() => void) | undefined;
  const driver = new ScriptedDriver(() => new Promise((resolve) => { approve = () => resolve({ decision: 'approve' }); }));
  const network = new VirtualNetwork();
  const { car, stateDir, logs, reports } = await startCar(t, server, driver, { virtualNetwork: network });

  const cant = standardVehicleConfig('WCANTACAR00000001').buses.cant!;
  const attackerBus = new VirtualBus({ channel: 'cant', network });
  // Listens on the CGW's request id and answers on its response id, like the CGW, only faster.
  const attacker = new IsoTpChannel(attackerBus, { txId: 0x718, rxId: 0x710, ...isoTpFrameOptions(cant) });
  const recorded: Uint8Array[] = [];
  let forged = 0;
  const forging = (async () => {
    for await (const request of attacker) {
      recorded.push(request);
      const head = hex(request.subarray(0, 4));
      if (head === '3103f001') await attacker.send(Uint8Array.of(0x71, 0x03, 0xf0, 0x01, 0x01)).then(() => { forged += 1; });
      if (head === '3101f002') await attacker.send(Uint8Array.of(0x71, 0x01, 0xf0, 0x02, 0x00)).then(() => { forged += 1; });
    }
  })();
  t.after(async () => {
    attacker.close();
    await forging;
    await attackerBus.close();
  });

  await eventually(() => driver.offers.length === 1, 'the offer on the HMI', 10_000);
  await eventually(() => forged >= 5, 'five forged "approved" answers', 10_000);
  await eventually(() => messages(logs, /not authenticated by the CGW/).length >= 2, 'the TMU noticing the forgeries', 10_000);
  // Nothing believed: the driver is still being asked, the firewall never opened, nothing was flashed.
  assert.equal(car.cgw.approval.phase, 'pending');
  assert.equal(car.cgw.gateway.firewall.open, false);
  let status = await readVehicleStatus({ stateDir });
  assert.deepEqual(['EDT', 'CGW', 'TMU'].map((ecu) => `${status.ecus[ecu]!.version}@${status.ecus[ecu]!.active_bank}`), ['1.0.0@A', '1.0.0@A', '1.0.0@A']);
  assert.equal(reports.length, 0);

  // Replaying what was recorded: every request is refused (0x33) and counted as a replay.
  const before = { ...car.cgw.channel.counters };
  // The polls: single frames, so a replay cannot be cut short by the TMU's own requests on the same id (a
  // multi-frame replay interleaved with one of them is dropped by ISO-TP before the CGW sees it, uncounted).
  const sample = recorded.filter((request) => hex(request.subarray(0, 4)) === '3103f001').slice(0, 5);
  assert.ok(sample.length >= 3, 'recorded the TMU\'s approval polls');
  const replayer = new IsoTpChannel(attackerBus, { txId: 0x710, rxId: 0x718, ...isoTpFrameOptions(cant) });
  t.after(() => replayer.close());
  // One at a time, again if need be: a UDS server serves one request at a time, and one that arrives while it
  // answers the TMU's own poll is turned away (0x21) before any check; the attacker simply sends it again.
  for (const [index, request] of sample.entries()) {
    for (let attempt = 0; car.cgw.channel.counters.replays - before.replays <= index; attempt += 1) {
      assert.ok(attempt < 20, `replay ${index + 1} reached the CGW's check`);
      await replayer.send(request);
      await eventually(() => car.cgw.channel.counters.replays - before.replays > index, 'the replay counted', 300).catch(() => undefined);
    }
  }
  assert.ok(car.cgw.channel.counters.replays - before.replays >= sample.length, 'every replay counted');
  assert.equal(car.cgw.approval.phase, 'pending', 'no replayed request changed the approval');
  // Reported: `canota vehicle status` shows them (the CGW's firewall.json).
  await eventuallyAsync(async () => ((await readVehicleStatus({ stateDir })).gateway?.approvalChannel?.replays ?? 0) >= sample.length,
    'the replays in vehicle status', 6000);

  // The attacker leaves; the driver approves: the update goes through (the forgeries were all that stopped it).
  attacker.close();
  await forging;
  approve!();
  await eventually(() => reports.length === 1, 'the report', 30_000);
  assert.equal(reports[0]!.outcome, 'success', reports[0]!.message);
  status = await readVehicleStatus({ stateDir });
  assert.deepEqual(['EDT', 'CGW'].map((ecu) => status.ecus[ecu]!.version), ['2.0.0', '1.1.0']);
});
