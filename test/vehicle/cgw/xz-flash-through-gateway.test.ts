import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { test } from 'node:test';
import { compressionMethods, standardVehicleConfig } from '../../../src/vehicle/config.ts';
import { TransferFormat } from '../../../src/vehicle/ecu/protocol.ts';
import { ecuByName } from '../../../src/vehicle/network.ts';
import { FlashSession } from '../../../src/vehicle/tmu/flash-session.ts';
import { VIN, manifestFor, sha256 } from '../ecu/support.ts';
import { compressibleImage } from '../ecu/compressible-image.ts';
import { edtBehindGateway, edtOffer } from './support.ts';

test('through the CGW, an xz image (ARM-Thumb + LZMA2) crosses the gateway in under two thirds of the frames, and EDT boots exactly the approved image', async (t) => {
  const vehicle = standardVehicleConfig(VIN);
  ecuByName(vehicle, 'EDT').transfer = { compression: ['xz', 'deflate'], window: 32 * 1024, delta: 'vcdiff' };
  const { config, cgw, edtEcu, approval, client } = await edtBehindGateway(t, 'canota-cgw-xz-', vehicle);
  const edtConfig = ecuByName(config, 'EDT');
  // What the TMU passes for this ECU (src/vehicle/tmu/vehicle-ecus.ts).
  const session = new FlashSession({
    client, ecu: edtConfig, authority: approval, rebootTimeoutMs: 5000,
    compression: { window: edtConfig.transfer.window, methods: compressionMethods(edtConfig.transfer) },
  });

  const image = new Uint8Array(existsSync('corpus/edt-2.0.0.bin') ? await readFile('corpus/edt-2.0.0.bin') : compressibleImage(256 * 1024));
  await approval.offer(edtOffer({ ecus: [{ name: 'EDT', from: '1.0.0', to: '2.0.0', size: image.length, sha256: sha256(image) }] }));
  assert.deepEqual(await approval.waitForDecision({ intervalMs: 20 }), { state: 'approved' });
  await session.program(image, manifestFor(image, null));
  const transfer = edtEcu.transferStatistics();
  assert.equal(transfer?.dataFormat, TransferFormat.Xz);
  assert.equal(transfer.imageBytes, image.length);
  const frames = cgw.statistics().segments.cant!.forwarded['0x730']!;
  // 64-byte FD frames carry 63 bytes each: the plain image alone would be image.length / 63 consecutive frames.
  assert.ok(frames * 1.5 < image.length / 63, `${frames} frames forwarded for a ${image.length}-byte image (${transfer.transferred} bytes compressed)`);
  const boot = await session.activate();
  assert.equal(boot.switched, true);
  assert.equal(boot.sha256, sha256(image));
  await approval.finish({ outcome: 'success', ecus: { EDT: { outcome: 'success', version: '2.0.0' } } });
});
