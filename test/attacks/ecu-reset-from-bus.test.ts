import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { VirtualBus } from '../../src/can/bus/index.ts';
import { IsoTpChannel } from '../../src/can/isotp/index.ts';
import { NegativeResponseError, UdsClient } from '../../src/can/uds/index.ts';
import { CentralGateway } from '../../src/vehicle/cgw/central-gateway.ts';
import { PolicyHmi } from '../../src/vehicle/cgw/hmi/policy.ts';
import { Ecu } from '../../src/vehicle/ecu/ecu.ts';
import type { VehicleCondition } from '../../src/vehicle/ecu/vehicle-condition.ts';
import { ecuByName, isoTpFrameOptions } from '../../src/vehicle/network.ts';
import { FlashSession } from '../../src/vehicle/tmu/flash-session.ts';
import { tempDir } from '../support/temp-dir.ts';
import { twoSegments } from '../vehicle/cgw/support.ts';
import { TestCgw } from '../vehicle/support/test-cgw.ts';

const hex = (text: string) => Uint8Array.from(Buffer.from(text.replace(/\s/g, ''), 'hex'));
const show = (bytes: Uint8Array) => Buffer.from(bytes).toString('hex');

/** The NRC `client` gets for `request`; fails the test on a positive answer. */
async function nrcOf(client: UdsClient, request: string): Promise<number> {
  try {
    await client.exchange(hex(request));
  } catch (error) {
    if (error instanceof NegativeResponseError) return error.nrc;
    throw error;
  }
  assert.fail(`${request} was answered positively`);
}

/**
 * Attack (issue 10): any node on the bus sends ECUReset `11 01` to the CGW and EDT — physically and on the
 * functional id 0x7DF, in the default session and after opening the extended session, which needs no
 * security — to reboot them (a car that loses its gateway or drive train while driving) and, before the
 * lockout was persisted, to clear a security-access lockout with every reboot. Real CGW and EDT on the
 * virtual CAN-T and CAN-B; the attacker is a plain node on each segment.
 */
test('ECUReset from an attacker node reboots nothing; the tester with security is refused while the car moves', async (t) => {
  const stateDir = await tempDir(t);
  const { config, network, gatewayBuses, edt } = twoSegments(t);
  let driving: string | null = null;
  const vehicleCondition: VehicleCondition = { drivingReason: () => driving };
  const quiet = new Writable({ write: (_chunk, _encoding, done) => done() });
  const cgw = await CentralGateway.start({
    config, hmi: new PolicyHmi('auto', { warn: quiet }), stateDir, buses: gatewayBuses, vehicleCondition, ecu: { rebootMs: 20, statusIntervalMs: 0 },
  });
  const edtEcu = await Ecu.start({ config, name: 'EDT', stateDir, bus: edt, vehicleCondition, rebootMs: 20, statusIntervalMs: 0 });
  const attackerT = new VirtualBus({ channel: 'cant', network });
  const attackerB = new VirtualBus({ channel: 'canb', network });
  const physical = (bus: VirtualBus, ecu: string) => {
    const { requestId, responseId, bus: segment } = ecuByName(config, ecu);
    const channel = new IsoTpChannel(bus, { txId: requestId, rxId: responseId, ...isoTpFrameOptions(config.buses[segment]!) });
    return { channel, client: new UdsClient(channel, { p2Ms: 300, testerPresentIntervalMs: 0 }) };
  };
  const toCgw = physical(attackerT, 'CGW');
  const toEdt = physical(attackerB, 'EDT');
  const functional = (bus: VirtualBus, segment: string) =>
    new IsoTpChannel(bus, { txId: config.functionalRequestId, rxId: 0x7de, functional: true, ...isoTpFrameOptions(config.buses[segment]!) });
  const functionalT = functional(attackerT, 'cant');
  const functionalB = functional(attackerB, 'canb');
  t.after(async () => {
    for (const { client, channel } of [toCgw, toEdt]) {
      client.close();
      channel.close();
    }
    functionalT.close();
    functionalB.close();
    await edtEcu.close();
    await cgw.close();
    await Promise.all([attackerT.close(), attackerB.close()]);
  });
  const boots = () => ({ CGW: cgw.ecu.bootRecord.bootCount, EDT: edtEcu.bootRecord.bootCount });
  const before = boots();
  /** Sends `request` functionally on both segments; what each ECU answered on its response id (null: nothing). */
  const broadcast = async (request: string) => {
    toCgw.channel.discardReceived();
    toEdt.channel.discardReceived();
    await Promise.all([functionalT.send(hex(request)), functionalB.send(hex(request))]);
    const answer = (channel: IsoTpChannel) => channel.receive({ timeoutMs: 300 }).then(show, () => null);
    return { CGW: await answer(toCgw.channel), EDT: await answer(toEdt.channel) };
  };

  await t.test('physically, in the default session: 0x7F (not in this session)', async () => {
    assert.equal(await nrcOf(toCgw.client, '11 01'), 0x7f);
    assert.equal(await nrcOf(toEdt.client, '11 01'), 0x7f);
    assert.equal(await nrcOf(toEdt.client, '11 03'), 0x7f, 'a soft reset neither');
  });

  await t.test('functionally (0x7DF), in the default session: no ECU answers (0x7F is suppressed) and none resets', async () => {
    assert.deepEqual(await broadcast('11 01'), { CGW: null, EDT: null });
  });

  await t.test('in the extended session, which needs no key: 0x33 (security access denied), physically and functionally', async () => {
    assert.deepEqual(await broadcast('10 03'), { CGW: '5003003201f4', EDT: '5003003201f4' });
    assert.deepEqual(await broadcast('11 01'), { CGW: '7f1133', EDT: '7f1133' });
    await toCgw.client.diagnosticSessionControl(0x03);
    await toEdt.client.diagnosticSessionControl(0x03);
    assert.equal(await nrcOf(toCgw.client, '11 01'), 0x33);
    assert.equal(await nrcOf(toEdt.client, '11 01'), 0x33);
    // Guessing keys does not help: a wrong key is no unlock (and counts towards the lockout).
    await toEdt.client.requestSeed(1);
    assert.equal(await nrcOf(toEdt.client, '27 02 00112233445566778899AABBCCDDEEFF'), 0x35);
    assert.equal(await nrcOf(toEdt.client, '11 01'), 0x33);
  });

  await t.test('nothing rebooted', () => {
    assert.deepEqual(boots(), before);
    assert.equal(cgw.ecu.available && edtEcu.available, true);
  });

  await t.test('the tester with the CGW\'s keys and security access is refused 0x22 while the vehicle moves, and resets once it stops', async () => {
    // The legitimate tester: programming session and security access with keys only the CGW makes.
    const authority = await TestCgw.open(config, stateDir);
    authority.approve('CGW', new Uint8Array(16)).approve('EDT', new Uint8Array(16));
    const sessions = [
      new FlashSession({ client: toCgw.client, ecu: { name: 'CGW' }, authority, rebootTimeoutMs: 3000, pollIntervalMs: 10 }),
      new FlashSession({ client: toEdt.client, ecu: { name: 'EDT' }, authority, rebootTimeoutMs: 3000, pollIntervalMs: 10 }),
    ];
    for (const session of sessions) await session.openProgrammingSession();
    driving = 'vehicle moving at 50 km/h';
    assert.equal(await nrcOf(toCgw.client, '11 01'), 0x22);
    assert.equal(await nrcOf(toEdt.client, '11 01'), 0x22);
    assert.deepEqual(boots(), before);
    // Nor can a programming session be opened while driving.
    await toEdt.client.diagnosticSessionControl(0x01);
    assert.equal(await nrcOf(toEdt.client, '10 02'), 0x22);

    driving = null;
    for (const session of sessions) assert.equal((await session.activate()).bootState.bootCount, 2, `${session.ecu} restarted`);
    assert.deepEqual(boots(), { CGW: before.CGW + 1, EDT: before.EDT + 1 });
  });
});
