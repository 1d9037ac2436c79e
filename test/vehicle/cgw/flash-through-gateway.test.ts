import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { test } from 'node:test';
import { IsoTpChannel } from '../../../src/can/isotp/index.ts';
import { UdsClient } from '../../../src/can/uds/index.ts';
import { Ecu } from '../../../src/vehicle/ecu/ecu.ts';
import { ecuByName, isoTpFrameOptions } from '../../../src/vehicle/network.ts';
import { FlashSession } from '../../../src/vehicle/tmu/flash-session.ts';
import { ApprovalClient } from '../../../src/vehicle/cgw/approval-client.ts';
import { CentralGateway } from '../../../src/vehicle/cgw/central-gateway.ts';
import { PolicyHmi } from '../../../src/vehicle/cgw/hmi/policy.ts';
import { manifestFor, sha256 } from '../ecu/support.ts';
import { edtBehindGateway, edtOffer, eventually, recorder, twoSegments } from './support.ts';
import { ApprovalChannelTester } from '../../../src/vehicle/cgw/approval-channel.ts';

test('the TMU flashes the real EDT through the CGW only while the driver approved it', async (t) => {
  const { config, cgw, approval, client, tmu } = await edtBehindGateway(t);
  const session = new FlashSession({ client, ecu: ecuByName(config, 'EDT'), authority: approval, rebootTimeoutMs: 5000 });
  const statusFrames = recorder(tmu);

  // EDT's status frame is a configured route: the TMU sees it at all times; its diagnostics it does not.
  await eventually(() => statusFrames.some((frame) => frame.id === 0x530), 'EDT_Status on CAN-T');
  await assert.rejects(session.identify());

  const image = randomBytes(48 * 1024);
  await approval.offer(edtOffer({ ecus: [{ name: 'EDT', from: '1.0.0', to: '2.0.0', size: image.length, sha256: sha256(image) }] }));
  assert.deepEqual(await approval.waitForDecision({ intervalMs: 20 }), { state: 'approved' });
  assert.equal((await session.identify()).version, '1.0.0');
  await session.program(image, manifestFor(image, null));
  await approval.progress({ ecu: 'EDT', phase: 'resetting', percent: 100 });
  const boot = await session.activate();
  assert.equal(boot.switched, true);
  assert.equal(boot.version, '2.0.0');
  assert.equal(boot.sha256, sha256(image));
  await approval.finish({ outcome: 'success', ecus: { EDT: { outcome: 'success', version: '2.0.0' } } });

  assert.equal(cgw.gateway.firewall.open, false);
  await assert.rejects(session.identify(), 'closed again after the stop');
  const { segments } = cgw.statistics();
  assert.ok(segments.cant!.forwarded['0x730']! > image.length / 64, 'the image crossed the gateway');
  assert.ok(segments.canb!.forwarded['0x738']! > 10);
  assert.ok(segments.canb!.forwarded['0x530']! > 0);
  assert.ok(segments.cant!.dropped['0x730']! >= 1, 'the requests before the approval were dropped');
});

test('the CGW itself is updated with EDT: progress on the same connection during its programming session, then its reset', async (t) => {
  const stateDir = await mkdtemp(join(tmpdir(), 'canota-cgw-flash-'));
  const { config, gatewayBuses, tmu, edt } = twoSegments(t);
  const warn = new Writable({ write: (_chunk, _encoding, done) => done() });
  const cgw = await CentralGateway.start({ config, hmi: new PolicyHmi('auto', { warn }), stateDir, buses: gatewayBuses, ecu: { rebootMs: 50 } });
  // EDT's authenticated status frames (motion source: not driving) let the CGW take its programming session and reset.
  const edtEcu = await Ecu.start({ config, name: 'EDT', stateDir, bus: edt, statusIntervalMs: 100, rebootMs: 50 });
  const cgwConfig = ecuByName(config, 'CGW');
  // One UDS client to the CGW serves both the approval and the CGW's own flashing (one channel per id pair).
  const cgwChannel = new IsoTpChannel(tmu, { txId: cgwConfig.requestId, rxId: cgwConfig.responseId, ...isoTpFrameOptions(config.buses.cant!) });
  const cgwClient = new UdsClient(cgwChannel);
  const approval = new ApprovalClient(cgwClient, await ApprovalChannelTester.forTester(config, stateDir));
  const edtChannel = new IsoTpChannel(tmu, { txId: 0x730, rxId: 0x738, ...isoTpFrameOptions(config.buses.canb!) });
  const edtClient = new UdsClient(edtChannel);
  t.after(async () => {
    edtClient.close();
    edtChannel.close();
    await approval.close();
    cgwChannel.close();
    await edtEcu.close();
    await cgw.close();
    await rm(stateDir, { recursive: true, force: true });
  });
  const cgwSession = new FlashSession({ client: cgwClient, ecu: cgwConfig, authority: approval, rebootTimeoutMs: 5000 });
  const edtSession = new FlashSession({ client: edtClient, ecu: ecuByName(config, 'EDT'), authority: approval, rebootTimeoutMs: 5000 });

  const cgwImage = randomBytes(24 * 1024);
  const edtImage = randomBytes(24 * 1024);
  await approval.offer({
    campaign_id: 'cgw-and-edt',
    ecus: [
      { name: 'CGW', from: '1.0.0', to: '2.0.0', size: cgwImage.length, sha256: sha256(cgwImage) },
      { name: 'EDT', from: '1.0.0', to: '2.0.0', size: edtImage.length, sha256: sha256(edtImage) },
    ],
  });
  assert.deepEqual(await approval.waitForDecision({ intervalMs: 20 }), { state: 'approved' });
  assert.deepEqual(cgw.gateway.firewall.ecus, ['EDT'], 'the CGW is flashed on its own segment, not through the firewall');

  await cgwSession.program(cgwImage, manifestFor(cgwImage, null, { ecu: 'CGW', filename: 'cgw.bin' }));
  await approval.progress({ ecu: 'CGW', phase: 'checking', percent: 100 });
  // The CGW is still in its programming session; polling there needs the way back through default.
  assert.deepEqual(await approval.poll(), { state: 'approved' });
  await cgwSession.program(cgwImage, manifestFor(cgwImage, null, { ecu: 'CGW', filename: 'cgw.bin' }));
  await edtSession.program(edtImage, manifestFor(edtImage, null));
  await approval.progress({ ecu: 'EDT', phase: 'checking', percent: 100 });
  assert.equal((await edtSession.activate()).version, '2.0.0');
  const cgwBoot = await cgwSession.activate();
  assert.equal(cgwBoot.switched, true);
  assert.equal(cgwBoot.version, '2.0.0');
  assert.equal(cgw.approval.phase, 'approved', 'the approval survived the CGW reset');

  await approval.finish({ outcome: 'success', ecus: { CGW: { version: '2.0.0' }, EDT: { version: '2.0.0' } } });
  assert.equal(cgw.approval.phase, 'finished');
  assert.equal(cgw.gateway.firewall.open, false);
  assert.equal(cgw.approval.snapshot().progress.CGW!.phase, 'checking');
});
