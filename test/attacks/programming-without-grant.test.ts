import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { VirtualBus } from '../../src/can/bus/virtual.ts';
import { IsoTpChannel } from '../../src/can/isotp/index.ts';
import { NegativeResponseError, UdsClient } from '../../src/can/uds/index.ts';
import { ApprovalChannelTester } from '../../src/vehicle/cgw/approval-channel.ts';
import { ApprovalClient } from '../../src/vehicle/cgw/approval-client.ts';
import { CentralGateway } from '../../src/vehicle/cgw/central-gateway.ts';
import { PolicyHmi } from '../../src/vehicle/cgw/hmi/policy.ts';
import { Ecu } from '../../src/vehicle/ecu/ecu.ts';
import { BootloaderRoutine } from '../../src/vehicle/ecu/protocol.ts';
import { loadEcuKeys } from '../../src/vehicle/keys/ecu-keys.ts';
import { securityAccessKey } from '../../src/vehicle/keys/programming-grant.ts';
import { ecuByName, isoTpFrameOptions } from '../../src/vehicle/network.ts';
import { FlashStepError, ImageRefusedError } from '../../src/vehicle/tmu/flash-errors.ts';
import { FlashSession } from '../../src/vehicle/tmu/flash-session.ts';
import { tempDir } from '../support/temp-dir.ts';
import { twoSegments } from '../vehicle/cgw/support.ts';
import { manifestFor } from '../vehicle/ecu/support.ts';

const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');
const nrcOf = (nrc: number) => (error: unknown) => error instanceof NegativeResponseError && error.nrc === nrc;

/**
 * The CGW is the only place the driver's decision exists, and EDT takes programming only with the CGW's
 * grant. Staged with the real CGW (approval, firewall, grant routine) and the real EDT bootloader on the
 * virtual buses; the attackers are a node on CAN-B (behind the gateway, next to EDT) and a compromised TMU
 * (it holds the TMU's own keys, as a TMU taken over from the internet would).
 */
test('no one programs EDT without the CGW\'s grant for exactly the image the driver approved', async (t) => {
  const stateDir = await tempDir(t);
  const { config, network, gatewayBuses, tmu, edt } = twoSegments(t);
  const quiet = new Writable({ write: (_chunk, _encoding, done) => done() });
  const cgw = await CentralGateway.start({ config, hmi: new PolicyHmi('auto', { warn: quiet }), stateDir, buses: gatewayBuses });
  const edtEcu = await Ecu.start({ config, name: 'EDT', stateDir, bus: edt, statusIntervalMs: 0, rebootMs: 20 });
  const edtConfig = ecuByName(config, 'EDT');
  const isoTp = isoTpFrameOptions(config.buses.canb!);

  // A node plugged into CAN-B, talking to EDT directly (no firewall in between).
  const attackerBus = new VirtualBus({ channel: 'canb', network });
  const attackerChannel = new IsoTpChannel(attackerBus, { txId: edtConfig.requestId, rxId: edtConfig.responseId, ...isoTp });
  const attacker = new UdsClient(attackerChannel, { testerPresentIntervalMs: 0 });
  // The compromised TMU on CAN-T, with the TMU's real keys (the approval key, its own grant key, no other).
  const tmuKeys = await loadEcuKeys(config, stateDir, 'TMU');
  assert.equal(tmuKeys.has('grant:EDT'), false, 'the TMU does not hold EDT\'s grant key');
  const approval = ApprovalClient.forVehicle(tmu, config, await ApprovalChannelTester.open(tmuKeys, stateDir));
  const tmuChannel = new IsoTpChannel(tmu, { txId: edtConfig.requestId, rxId: edtConfig.responseId, ...isoTp });
  const tmuClient = new UdsClient(tmuChannel);
  t.after(async () => {
    attacker.close();
    attackerChannel.close();
    await attackerBus.close();
    tmuClient.close();
    tmuChannel.close();
    await approval.close();
    await edtEcu.close();
    await cgw.close();
  });
  const bootRecord = async () => JSON.parse(await readFile(join(stateDir, 'ecus', 'EDT', 'boot-record.json'), 'utf8')) as {
    active: string; banks: Record<'A' | 'B', { state: string; version: string | null }>;
  };

  // 1. Nothing approved: the CGW grants nothing, to anyone.
  await approval.connect();
  await assert.rejects(approval.authorize({ ecu: 'EDT', purpose: 'program', seed: new Uint8Array(randomBytes(16)) }), nrcOf(0x24));

  // 2. The driver approves image X; the compromised TMU gets a real grant, but flashes image Y of the same size.
  const approved = randomBytes(20_000);
  const evil = randomBytes(20_000);
  await approval.offer({ campaign_id: 'x', ecus: [{ name: 'EDT', from: '1.0.0', to: '2.0.0', size: approved.length, sha256: sha256(approved) }] });
  assert.deepEqual(await approval.waitForDecision({ intervalMs: 20 }), { state: 'approved' });
  const session = new FlashSession({ client: tmuClient, ecu: edtConfig, authority: approval, rebootTimeoutMs: 3000, pollIntervalMs: 10 });
  await assert.rejects(session.program(evil, manifestFor(evil, null)), (error: unknown) =>
    error instanceof ImageRefusedError && /not the one the driver approved/.test(error.message));
  // A grant only ever names the approved image: one of another size is refused at the download already.
  await assert.rejects(session.program(randomBytes(1000), manifestFor(randomBytes(1000), null)), (error: unknown) =>
    error instanceof FlashStepError && error.step === 'download' && error.nrc === 0x31);
  let record = await bootRecord();
  assert.deepEqual([record.active, record.banks.A.version], ['A', '1.0.0']);
  assert.notEqual(record.banks.B.state, 'verified', 'the evil image never became bootable');

  // 3. A grant seen on the bus is worthless in another session: it is bound to the seed of the session it was made for.
  let sniffed: Uint8Array | null = null;
  const sniffing = new FlashSession({
    client: tmuClient, ecu: edtConfig, rebootTimeoutMs: 3000, pollIntervalMs: 10,
    authority: { authorize: async (request) => { const answer = await approval.authorize(request); sniffed = answer.grant; return answer; } },
  });
  await sniffing.openProgrammingSession('program');
  assert.ok(sniffed);
  await attacker.diagnosticSessionControl(0x02);
  const seed = await attacker.requestSeed(0x01);
  await assert.rejects(attacker.sendKey(0x01, new Uint8Array(randomBytes(16))), nrcOf(0x35), 'no key without grant:EDT');
  await assert.rejects(attacker.startRoutine(BootloaderRoutine.EraseMemory, sniffed), nrcOf(0x33), 'locked: no erase at all');

  // 4. Guessing keys locks EDT out (and the lockout is on disk: it survives a reset or a power loss).
  for (let attempt = 0; attempt < 2; attempt += 1) {
    await attacker.requestSeed(0x01);
    await assert.rejects(attacker.sendKey(0x01, new Uint8Array(randomBytes(16))), (error: unknown) => error instanceof NegativeResponseError);
  }
  await assert.rejects(attacker.requestSeed(0x01), nrcOf(0x37));
  record = await bootRecord();
  assert.deepEqual([record.active, record.banks.A.version], ['A', '1.0.0'], 'EDT still runs its old image');

  // The key the attacker lacked: made from grant:EDT, which only the CGW and EDT hold. With it, EDT unlocks.
  const cgwKeys = await loadEcuKeys(config, stateDir, 'CGW');
  assert.notDeepEqual(securityAccessKey(cgwKeys.get('grant:EDT'), 'EDT', seed), securityAccessKey(tmuKeys.get('grant:TMU'), 'EDT', seed));
});
