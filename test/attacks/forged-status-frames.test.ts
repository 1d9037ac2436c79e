import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { VirtualBus, VirtualNetwork, canFrame, type CanFrame } from '../../src/can/bus/index.ts';
import { EcuState, encodeStatusPayload } from '../../src/vehicle/ecu/status-frame.ts';
import { readVehicleStatus } from '../../src/vehicle/status.ts';
import { runCanota } from '../support/canota-process.ts';
import { startOtaServer } from '../support/ota-server.ts';
import { eventually, eventuallyAsync } from '../vehicle/cgw/support.ts';
import { ScriptedDriver, messages, startCar } from '../vehicle/support/car-rig.ts';

/**
 * The attack of issue 10: a node on CAN-B (next to EDT, behind the gateway, which forwards EDT_Status to
 * the TMU at all times) sends EDT_Status frames claiming EDT runs 9.9.9, so that the TMU sees the 2.0.0
 * release as a downgrade and never offers it, and replays genuine frames it recorded. Before issue 10 a
 * CRC-8 was all a frame carried, and the TMU believed it. The whole car runs in this process against a real
 * OTA server; the attacker is a plain bus node that holds no key.
 */
test('forged and replayed EDT_Status frames change nothing the TMU believes, and are counted', async (t) => {
  const server = await startOtaServer(t);
  const network = new VirtualNetwork();
  const driver = new ScriptedDriver(() => ({ decision: 'decline' }));
  const { car, stateDir, logs } = await startCar(t, server, driver, { virtualNetwork: network });
  const attacker = new VirtualBus({ channel: 'canb', network });
  t.after(() => attacker.close());

  // Recorded genuine frames, replayed later (each was accepted once already by the time it comes back).
  const recorded: CanFrame[] = [];
  const stopRecording = attacker.onFrame((frame) => recorded.push(frame), [{ id: 0x530, mask: 0x7ff }]);
  await eventually(() => recorded.length >= 6, 'genuine EDT_Status frames to record', 5000);
  stopRecording();

  const forged = encodeStatusPayload({ version: [9, 9, 9], state: EcuState.Running, activeBank: 'A', trialPending: false, lastBootRolledBack: false, vehicleMoving: false });
  const sent = { forged: 0, replayed: 0 };
  // A forged frame: the claimed status, any freshness, a random MAC (the attacker has no key).
  const forge = () => {
    sent.forged += 1;
    void attacker.send(canFrame({ id: 0x530, data: Buffer.concat([forged, randomBytes(4)]) }));
  };
  const replay = () => {
    void attacker.send(recorded[sent.replayed % recorded.length]!);
    sent.replayed += 1;
  };
  // The strongest attacker the bus allows: right after every genuine frame a replay and a forgery, so the
  // forged claim is always the last word; and a flood of forgeries in between.
  const stopAnswering = attacker.onFrame(() => {
    replay();
    forge();
  }, [{ id: 0x530, mask: 0x7ff }]);
  t.after(stopAnswering);
  const flood = setInterval(forge, 2);
  t.after(() => clearInterval(flood));
  await eventually(() => sent.forged >= 200, 'the attack under way', 5000);

  // What the TMU believes shows in what it offers: from 9.9.9, a 2.0.0 release would be a downgrade.
  await server.upload('edt-2.0.0.bin', randomBytes(20_000), { ecu: 'EDT', firmware_version: '2.0.0' });
  await eventually(() => driver.offers.length === 1, 'the offer', 15_000);
  assert.deepEqual(driver.offers[0]!.ecus.map((ecu) => `${ecu.name} ${ecu.from}→${ecu.to}`), ['EDT 1.0.0→2.0.0']);
  clearInterval(flood);
  stopAnswering();

  // Counted by the TMU (through the gateway) and by the CGW (on CAN-B), written to their secoc.json.
  const counted = await eventuallyAsync(async () => {
    const status = await readVehicleStatus({ stateDir });
    const tmu = status.ecus.TMU!.secoc?.senders.EDT;
    const cgw = status.ecus.CGW!.secoc?.senders.EDT;
    return tmu && cgw && tmu.macFailures >= 100 && tmu.replays >= 10 && cgw.macFailures >= 100 && cgw.replays >= 10 && { tmu, cgw };
  }, 'the attempts counted in secoc.json', 10_000);
  assert.ok(counted.tmu.verified > 0, 'genuine frames still verify under attack');
  assert.equal(counted.tmu.malformed, 0);
  assert.ok(['mac-failure', 'replay'].includes(counted.tmu.lastRejection!.result));

  // Logged, rate-limited: the first rejection per receiver, not one line per frame.
  const rejections = messages(logs, /status frames? of EDT rejected/);
  assert.ok(rejections.length >= 2 && rejections.length <= 6, `${rejections.length} log lines for ${sent.forged + sent.replayed} rejected frames`);

  // And visible to the owner: canota vehicle status, as a table and as JSON.
  const table = await runCanota(['vehicle', 'status', '--state-dir', stateDir]);
  assert.equal(table.code, 0, table.stderr);
  assert.match(table.stdout, /^TMU status frames received: .*EDT \d+ verified, \d+ MAC failures, \d+ replays dropped/m);
  assert.match(table.stdout, /^CGW status frames received: EDT \d+ verified, \d+ MAC failures, \d+ replays dropped/m);
  const json = JSON.parse((await runCanota(['vehicle', 'status', '--state-dir', stateDir, '--json'])).stdout) as {
    ecus: Record<string, { version: string; secoc: { senders: Record<string, { macFailures: number; replays: number }> } | null }>;
  };
  assert.ok(json.ecus.TMU!.secoc!.senders.EDT!.macFailures >= 100);
  assert.equal(json.ecus.EDT!.version, '1.0.0');
  assert.equal(car.cgw.gateway.firewall.open, false, 'declined: nothing was opened');
});
