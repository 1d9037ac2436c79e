import assert from 'node:assert/strict';
import { test } from 'node:test';
import { TransferFormat } from '../../../src/vehicle/ecu/protocol.ts';
import { ecuByName } from '../../../src/vehicle/network.ts';
import { FlashSession } from '../../../src/vehicle/tmu/flash-session.ts';
import { manifestFor, sha256 } from '../ecu/support.ts';
import { compressibleImage } from '../ecu/compressible-image.ts';
import { edtBehindGateway, edtOffer } from './support.ts';

test('through the CGW, a compressed image crosses the gateway in a fraction of the frames, and EDT boots exactly the approved image', async (t) => {
  const { config, cgw, edtEcu, approval, client } = await edtBehindGateway(t, 'canota-cgw-compressed-');
  const edtConfig = ecuByName(config, 'EDT');
  assert.deepEqual(edtConfig.transfer, { compression: ['xz', 'deflate'], window: 32 * 1024, delta: 'vcdiff' }, 'the default: xz, then deflate, with a 32 KiB window, deltas applied');
  const session = new FlashSession({ client, ecu: edtConfig, authority: approval, rebootTimeoutMs: 5000, compression: { window: edtConfig.transfer.window } });

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
