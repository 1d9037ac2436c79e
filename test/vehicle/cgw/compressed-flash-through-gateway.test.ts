import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { test } from 'node:test';
import { IsoTpChannel } from '../../../src/can/isotp/index.ts';
import { UdsClient } from '../../../src/can/uds/index.ts';
import { Ecu } from '../../../src/vehicle/ecu/ecu.ts';
import { TransferFormat } from '../../../src/vehicle/ecu/protocol.ts';
import { ecuByName, isoTpFrameOptions } from '../../../src/vehicle/network.ts';
import { FlashSession } from '../../../src/vehicle/tmu/flash-session.ts';
import { ApprovalClient } from '../../../src/vehicle/cgw/approval-client.ts';
import { ApprovalChannelTester } from '../../../src/vehicle/cgw/approval-channel.ts';
import { CentralGateway } from '../../../src/vehicle/cgw/central-gateway.ts';
import { PolicyHmi } from '../../../src/vehicle/cgw/hmi/policy.ts';
import { manifestFor, sha256 } from '../ecu/support.ts';
import { compressibleImage } from '../ecu/compressible-image.ts';
import { edtOffer, twoSegments } from './support.ts';

test('through the CGW, a compressed image crosses the gateway in a fraction of the frames, and EDT boots exactly the approved image', async (t) => {
  const stateDir = await mkdtemp(join(tmpdir(), 'canota-cgw-compressed-'));
  const { config, gatewayBuses, tmu, edt } = twoSegments(t);
  const warn = new Writable({ write: (_chunk, _encoding, done) => done() });
  const cgw = await CentralGateway.start({ config, hmi: new PolicyHmi('auto', { warn }), stateDir, buses: gatewayBuses });
  const edtEcu = await Ecu.start({ config, name: 'EDT', stateDir, bus: edt, statusIntervalMs: 50, rebootMs: 50 });
  const approval = ApprovalClient.forVehicle(tmu, config, await ApprovalChannelTester.forTester(config, stateDir));
  const channel = new IsoTpChannel(tmu, { txId: 0x730, rxId: 0x738, ...isoTpFrameOptions(config.buses.canb!) });
  const client = new UdsClient(channel);
  const edtConfig = ecuByName(config, 'EDT');
  assert.deepEqual(edtConfig.transfer, { compression: 'deflate', window: 32 * 1024 }, 'the default: deflate with a 32 KiB window');
  const session = new FlashSession({ client, ecu: edtConfig, authority: approval, rebootTimeoutMs: 5000, compression: { window: edtConfig.transfer.window } });
  t.after(async () => {
    client.close();
    channel.close();
    await approval.close();
    await edtEcu.close();
    await cgw.close();
    await rm(stateDir, { recursive: true, force: true });
  });

  const image = compressibleImage(256 * 1024);
  await approval.offer(edtOffer({ ecus: [{ name: 'EDT', from: '1.0.0', to: '2.0.0', size: image.length, sha256: sha256(image) }] }));
  assert.deepEqual(await approval.waitForDecision({ intervalMs: 20 }), { state: 'approved' });
  await session.program(image, manifestFor(image, null));
  const transfer = edtEcu.transferStatistics();
  assert.equal(transfer?.dataFormat, TransferFormat.Deflate);
  assert.equal(transfer.imageBytes, image.length);
  const frames = cgw.statistics().segments.cant!.forwarded['0x730']!;
  // 64-byte FD frames: the plain image alone would be 4096+ consecutive frames.
  assert.ok(frames < image.length / 64 / 2, `${frames} frames forwarded for a ${image.length}-byte image (${transfer.transferred} bytes compressed)`);
  const boot = await session.activate();
  assert.equal(boot.switched, true);
  assert.equal(boot.sha256, sha256(image));
  await approval.finish({ outcome: 'success', ecus: { EDT: { outcome: 'success', version: '2.0.0' } } });
});
