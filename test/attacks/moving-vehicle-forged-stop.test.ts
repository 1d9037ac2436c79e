import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { Writable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { VirtualBus, canFrame, type CanFrame } from '../../src/can/bus/index.ts';
import { IsoTpChannel } from '../../src/can/isotp/index.ts';
import { NegativeResponseError, UdsClient } from '../../src/can/uds/index.ts';
import { CentralGateway } from '../../src/vehicle/cgw/central-gateway.ts';
import { PolicyHmi } from '../../src/vehicle/cgw/hmi/policy.ts';
import { Ecu } from '../../src/vehicle/ecu/ecu.ts';
import { EcuState, encodeStatusPayload } from '../../src/vehicle/ecu/status-frame.ts';
import { ecuByName, isoTpFrameOptions } from '../../src/vehicle/network.ts';
import { tempDir } from '../support/temp-dir.ts';
import { eventually, twoSegments } from '../vehicle/cgw/support.ts';

/**
 * A reset or a programming session must never reach an ECU of a moving car. The CGW learns the motion
 * from EDT's authenticated status frames; the attacker, a node on CAN-B, recorded EDT's genuine "stopped"
 * frames while the car stood, and while it drives replays them and forges "stopped" ones, to get the CGW
 * into its programming session. Real CGW and EDT on the virtual buses; the tester is a plain UDS client.
 */
test('forged and replayed "stopped" frames while EDT drives do not open the CGW\'s programming session', async (t) => {
  const stateDir = await tempDir(t);
  const { config, network, gatewayBuses, tmu, edt } = twoSegments(t);
  const quiet = new Writable({ write: (_chunk, _encoding, done) => done() });
  const cgw = await CentralGateway.start({ config, hmi: new PolicyHmi('auto', { warn: quiet }), stateDir, buses: gatewayBuses });
  let driving = false;
  const edtEcu = await Ecu.start({ config, name: 'EDT', stateDir, bus: edt, statusIntervalMs: 50, driving: () => driving });
  const attacker = new VirtualBus({ channel: 'canb', network });
  const cgwConfig = ecuByName(config, 'CGW');
  const channel = new IsoTpChannel(tmu, { txId: cgwConfig.requestId, rxId: cgwConfig.responseId, ...isoTpFrameOptions(config.buses.cant!) });
  const client = new UdsClient(channel, { p2Ms: 300, testerPresentIntervalMs: 0 });
  t.after(async () => {
    client.close();
    channel.close();
    await attacker.close();
    await edtEcu.close();
    await cgw.close();
  });
  const condition = cgw.ecu.vehicleCondition;

  // Standing still: the attacker records EDT's genuine "stopped" frames.
  await eventually(() => condition.drivingReason() === null, 'the CGW to hear EDT stopped');
  const recorded: CanFrame[] = [];
  const stopRecording = attacker.onFrame((frame) => recorded.push(frame), [{ id: 0x530, mask: 0x7ff }]);
  await eventually(() => recorded.length >= 8, 'genuine "stopped" frames to record');
  stopRecording();

  driving = true;
  await eventually(() => condition.drivingReason() === 'EDT reports the vehicle moving', 'the CGW to hear EDT moving');
  const stopped = encodeStatusPayload({ version: [1, 0, 0], state: EcuState.Running, activeBank: 'A', trialPending: false, lastBootRolledBack: false, vehicleMoving: false });
  let replayed = 0;
  const attack = () => {
    void attacker.send(recorded[replayed++ % recorded.length]!);
    void attacker.send(canFrame({ id: 0x530, data: Buffer.concat([stopped, randomBytes(4)]) }));
  };
  // After every genuine "moving" frame at once, and in between.
  const stopAnswering = attacker.onFrame(attack, [{ id: 0x530, mask: 0x7ff }]);
  const flood = setInterval(attack, 2);
  t.after(() => clearInterval(flood));
  t.after(stopAnswering);

  const deadline = performance.now() + 1500;
  let refusals = 0;
  while (performance.now() < deadline) {
    assert.notEqual(condition.drivingReason(), null, 'the CGW never believed the car stopped');
    await assert.rejects(client.diagnosticSessionControl(0x02), (error: unknown) => error instanceof NegativeResponseError && error.nrc === 0x22);
    refusals += 1;
    await sleep(20);
  }
  assert.ok(refusals >= 10);
  const counters = cgw.ecu.statusReceiver!.statistics().senders.EDT!;
  assert.ok(counters.macFailures >= 100 && counters.replays >= 20, JSON.stringify(counters));

  // The genuine signal still gets through the attack: once EDT stops, the CGW may be programmed.
  driving = false;
  await eventually(() => condition.drivingReason() === null, 'the CGW to hear EDT stopped, under attack');
  await client.diagnosticSessionControl(0x02);

  // EDT silent (switched off, or its frames suppressed): not known to be stopped within a second.
  clearInterval(flood);
  stopAnswering();
  await edtEcu.close();
  await eventually(() => /no authenticated status frame from EDT for \d+ ms/.test(condition.drivingReason() ?? ''), 'fail closed without EDT', 3000);
});
