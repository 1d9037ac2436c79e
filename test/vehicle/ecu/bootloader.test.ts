import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { IsoTpChannel } from '../../../src/can/isotp/index.ts';
import { generateSigningKey } from '../../../src/crypto/ed25519.ts';
import { Ecu } from '../../../src/vehicle/ecu/ecu.ts';
import { factoryImage } from '../../../src/vehicle/ecu/factory-image.ts';
import { readStatusFrame } from '../../../src/vehicle/ecu/status-frame.ts';
import { SecOcReceiver, STATUS_FRAME_PROFILE } from '../../../src/can/secoc/index.ts';
import { statusKeyName } from '../../../src/vehicle/keys/key-plan.ts';
import { ecuByName } from '../../../src/vehicle/network.ts';
import { BootloaderDid, asciiText } from '../../../src/vehicle/ecu/protocol.ts';
import { ImageRefusedError, FlashStepError } from '../../../src/vehicle/tmu/flash-errors.ts';
import { type FlashProgress } from '../../../src/vehicle/tmu/flash-session.ts';
import { ApprovingFlashSession, ecuBench, manifestFor, sha256, VIN, hex, nrcOf, type Bench } from './support.ts';


async function bankFile(bench: Bench, bank: 'A' | 'B'): Promise<Buffer> {
  return readFile(join(bench.stateDir, 'ecus', 'EDT', `bank-${bank}.img`));
}

test('a new ECU runs its factory image and identifies itself over UDS', async (t) => {
  const bench = await ecuBench(t);
  const id = await bench.session.identify();
  assert.equal(id.name, 'EDT');
  assert.equal(id.version, '1.0.0');
  assert.equal(id.hardwareId, 'EDT-HW-A1');
  assert.equal(id.vin, VIN);
  assert.equal(id.bootState.active, 'A');
  assert.equal(id.bootState.state, 'Running');
  assert.equal(id.bootState.sha256, sha256(factoryImage('EDT', '1.0.0')));
  assert.deepEqual(await bankFile(bench, 'A'), Buffer.from(factoryImage('EDT', '1.0.0')));
  assert.equal(Buffer.from(await bench.client.readDataByIdentifier(BootloaderDid.ImageSha256)).toString('hex'), id.bootState.sha256);
  // An extended diagnostic session (what the CGW's approval uses) is not reported as programming.
  await bench.client.diagnosticSessionControl(0x03);
  assert.equal((await bench.session.readBootState()).state, 'ExtendedSession');
});

test('a signed image is flashed to the inactive bank, checked, and runs after the reset', async (t) => {
  const bench = await ecuBench(t, { signed: true });
  const image = randomBytes(50_000 + Math.floor(Math.random() * 5000));
  const progress: FlashProgress[] = [];
  const session = new ApprovingFlashSession(bench.cgw, {
    client: bench.client, ecu: ecuByName(bench.config, 'EDT'), authority: bench.cgw, onProgress: (p) => progress.push(p), pollIntervalMs: 10,
  });
  await session.program(image, manifestFor(image, bench.key));
  assert.deepEqual(await bankFile(bench, 'B'), image, 'the inactive bank holds exactly the image');
  const before = await session.readBootState();
  assert.equal(before.active, 'A', 'nothing switches before the reset');
  assert.equal(before.version, '1.0.0');
  assert.equal(before.banks.B.state, 'verified');
  assert.equal(before.state, 'ProgrammingSession');

  const boot = await session.activate();
  assert.equal(boot.switched, true);
  assert.equal(boot.outcome, 'booted');
  assert.equal(boot.activeBank, 'B');
  assert.equal(boot.version, '2.0.0');
  assert.equal(boot.sha256, sha256(image));
  assert.equal(boot.bootState.state, 'Running', 'the ECU is back in the default session');
  assert.equal(asciiText(await bench.client.readDataByIdentifier(BootloaderDid.SoftwareVersion)), '2.0.0');
  assert.equal(bench.ecu.bootRecord.previous, 'A');

  const phases = [...new Set(progress.map((p) => p.phase))];
  assert.deepEqual(phases, ['erase', 'download', 'check', 'reset']);
  const downloads = progress.filter((p) => p.phase === 'download');
  assert.equal(downloads.at(-1)?.bytes, image.length);
  assert.equal(downloads.at(-1)?.percent, 100);
  assert.ok(downloads.length > 10, 'progress per block');
});

test('an image streamed from a file on a classic CAN bus arrives intact', async (t) => {
  const bench = await ecuBench(t, { fd: false });
  const image = randomBytes(20_000);
  const path = join(bench.stateDir, 'edt-2.0.0.bin');
  await writeFile(path, image);
  await bench.session.program({ path }, manifestFor(image, null));
  const boot = await bench.session.activate();
  assert.equal(boot.version, '2.0.0');
  assert.deepEqual(await bankFile(bench, 'B'), image);
});

test('the ECU refuses what it must not run, with its reason, and keeps the running image', async (t) => {
  const bench = await ecuBench(t, { signed: true });
  const image = randomBytes(3000);
  const stranger = generateSigningKey();
  const signedThenAltered = manifestFor(image, bench.key);
  signedThenAltered.signed.firmware_version = '9.9.9';
  const corrupted = Buffer.from(image);
  corrupted[1234] = corrupted[1234]! ^ 0x01;
  const cases: [string, Uint8Array, ReturnType<typeof manifestFor>, RegExp][] = [
    ['unsigned', image, manifestFor(image, null), /unsigned/],
    ['signed by an unknown key', image, manifestFor(image, stranger), /no valid signature by a trusted key/],
    ['altered after signing', image, signedThenAltered, /no valid signature/],
    ['corrupted bytes', corrupted, manifestFor(image, bench.key), /SHA-256 [0-9a-f]{64} does not match/],
    ['wrong length', image.subarray(0, 2999), manifestFor(image, bench.key), /2999 bytes, expected 3000/],
    ['for another ECU', image, manifestFor(image, bench.key, { ecu: 'CGW' }), /for ECU CGW, this is EDT/],
    ['for other hardware', image, manifestFor(image, bench.key, { hardware_id: 'EDT-HW-B2' }), /hardware EDT-HW-B2, this ECU is EDT-HW-A1/],
    ['a downgrade', image, manifestFor(image, bench.key, { firmware_version: '0.9.0' }), /0\.9\.0 is older than the running 1\.0\.0/],
  ];
  for (const [what, bytes, manifest, reason] of cases) {
    await assert.rejects(bench.session.program(bytes, manifest), (error: unknown) => {
      assert.ok(error instanceof ImageRefusedError, `${what}: ${String(error)}`);
      assert.equal(error.ecu, 'EDT');
      assert.equal(error.step, 'check');
      assert.match(error.reason, reason, what);
      return true;
    });
    const state = await bench.session.readBootState();
    assert.equal(state.banks.B.state, 'invalid', what);
    assert.equal(state.state, 'Error', what);
    // Asking again does not turn a refused bank into a good one.
    assert.deepEqual(await bench.session.check(manifestFor(image, bench.key)), { ok: false, reason: `bank B is invalid: ${state.banks.B.reason}` });
    const boot = await bench.session.activate();
    assert.equal(boot.switched, false, what);
    assert.equal(boot.version, '1.0.0', what);
    assert.equal(boot.activeBank, 'A', what);
  }
  // The same image with a good manifest goes in.
  await bench.session.program(image, manifestFor(image, bench.key, { hardware_id: 'EDT-HW-A1' }));
  assert.equal((await bench.session.activate()).version, '2.0.0');
  // …and now 1.5.0 is a downgrade, while reinstalling 2.0.0 is fine.
  await assert.rejects(bench.session.program(image, manifestFor(image, bench.key, { firmware_version: '1.5.0' })), /older than the running 2\.0\.0/);
  await bench.session.program(image, manifestFor(image, bench.key));
});

test('a car without trusted keys accepts unsigned manifests (and still checks the bytes)', async (t) => {
  const bench = await ecuBench(t);
  const image = randomBytes(1000);
  await assert.rejects(bench.session.program(image, manifestFor(randomBytes(1000), null)), /does not match/);
  await bench.session.program(image, manifestFor(image, null));
  assert.equal((await bench.session.activate()).version, '2.0.0');
});

test('services out of order get the NRCs of ISO 14229 and docs/vehicle-protocol.md', async (t) => {
  const bench = await ecuBench(t);
  // Default session: flashing services are not there.
  assert.equal(await nrcOf(bench, '31 01 FF00'), 0x31, 'routine not available in the default session');
  assert.equal(await nrcOf(bench, '34 00 44 00000000 00000010'), 0x7f, 'download only in the programming session');
  assert.equal(await nrcOf(bench, '27 01'), 0x7f, 'no security access in the default session');
  assert.equal(await nrcOf(bench, '11 01'), 0x7f, 'no reset from the default session');
  await bench.client.diagnosticSessionControl(0x03);
  assert.equal(await nrcOf(bench, '11 01'), 0x33, 'no reset in the extended session while locked');
  await bench.client.diagnosticSessionControl(0x02);
  // Programming session, locked.
  assert.equal(await nrcOf(bench, '31 01 FF00'), 0x33);
  assert.equal(await nrcOf(bench, '31 01 FF01 7B7D'), 0x33);
  assert.equal(await nrcOf(bench, '31 01 FF02'), 0x33);
  assert.equal(await nrcOf(bench, '34 00 44 00000000 00000010'), 0x33);
  assert.equal(await nrcOf(bench, '11 01'), 0x33);
  assert.equal(bench.ecu.bootRecord.bootCount, 1, 'none of these rebooted the ECU');
  assert.equal(await nrcOf(bench, '27 02 00112233445566778899AABBCCDDEEFF'), 0x24, 'sendKey without a seed');
  bench.approve(new Uint8Array(16));
  const grant = await bench.session.openProgrammingSession('program');
  // Unlocked, but in the wrong order.
  assert.equal(await nrcOf(bench, '34 00 44 00000000 00000010'), 0x22, 'the bank must be erased first');
  assert.equal(await nrcOf(bench, '36 01 00'), 0x24, 'TransferData without RequestDownload');
  assert.equal(await nrcOf(bench, '37'), 0x24, 'TransferExit without RequestDownload');
  assert.equal(await nrcOf(bench, '31 01 FF01 7B7D'), 0x24, 'check before any download');
  assert.equal(await nrcOf(bench, '31 01 FF02'), 0x22, 'nothing to roll back to');
  await bench.session.erase(grant);
  assert.equal(await nrcOf(bench, '34 00 44 00001000 00000010'), 0x31, 'downloads start at address 0');
  assert.equal(await nrcOf(bench, '34 00 44 00000000 7FFFFFFF'), 0x31, 'larger than the bank');
  assert.equal(await nrcOf(bench, '34 11 44 00000000 00000010'), 0x31, 'compressed/encrypted formats are not supported');
  await bench.client.exchange(hex('34 00 44 00000000 00000010'));
  assert.equal(await nrcOf(bench, '31 01 FF00'), 0x24, 'no erase in the middle of a download');
  assert.equal(await nrcOf(bench, '31 01 FF01 7B7D'), 0x24, 'no check in the middle of a download');
  await bench.client.exchange(hex('36 01 0011223344'));
  assert.equal(await nrcOf(bench, '37'), 0x24, 'TransferExit before all 16 bytes arrived');
  assert.equal(await nrcOf(bench, '36 02 00112233445566778899AABBCCDDEEFF'), 0x71, 'more than announced');
  assert.equal((await bench.session.readBootState()).banks.B.state, 'programming', 'a broken-off download is never bootable');
  const boot = await bench.session.activate();
  assert.equal(boot.version, '1.0.0');
  assert.equal(boot.switched, false);
});

test('security access: three wrong keys lock the ECU out with 0x36, then 0x37', async (t) => {
  const bench = await ecuBench(t);
  await bench.client.diagnosticSessionControl(0x02);
  for (let attempt = 1; attempt <= 3; attempt += 1) {
    await bench.client.requestSeed(1);
    assert.equal(await nrcOf(bench, '27 02 00112233445566778899AABBCCDDEEFF'), attempt < 3 ? 0x35 : 0x36);
  }
  assert.equal(await nrcOf(bench, '27 01'), 0x37);
  await assert.rejects(bench.session.openProgrammingSession(), (error: unknown) =>
    error instanceof FlashStepError && error.step === 'security' && error.nrc === 0x37 && /EDT: security failed/.test(error.message));
});

test('an image that fails its boot check is rolled back, and the tester learns why', async (t) => {
  const bench = await ecuBench(t);
  const image = randomBytes(8000);
  await bench.session.program(image, manifestFor(image, null));
  // Flash cells that lose their charge between the check and the boot.
  const bank = await bankFile(bench, 'B');
  bank[4000] = bank[4000]! ^ 0x80;
  await writeFile(join(bench.stateDir, 'ecus', 'EDT', 'bank-B.img'), bank);
  const boot = await bench.session.activate();
  assert.equal(boot.outcome, 'rolled-back');
  assert.equal(boot.switched, false);
  assert.equal(boot.version, '1.0.0');
  assert.equal(boot.activeBank, 'A');
  assert.match(boot.reason ?? '', /bank B: image bytes no longer match/);
  assert.equal(boot.bootState.banks.B.state, 'invalid');
  assert.equal(bench.ecu.status().lastBootRolledBack, true);
  // The next update goes through.
  await bench.session.program(image, manifestFor(image, null));
  assert.equal((await bench.session.activate()).version, '2.0.0');
});

test('0xFF02 rolls an activated update back (all-or-nothing), once', async (t) => {
  const bench = await ecuBench(t);
  const image = randomBytes(4000);
  await bench.session.program(image, manifestFor(image, null, { firmware_version: '2.1.0' }));
  assert.equal((await bench.session.activate()).version, '2.1.0');
  const back = await bench.session.rollback();
  assert.equal(back.switched, true);
  assert.equal(back.version, '1.0.0');
  assert.equal(back.activeBank, 'A');
  assert.equal(back.sha256, sha256(factoryImage('EDT', '1.0.0')));
  await assert.rejects(bench.session.rollback(), (error: unknown) =>
    error instanceof FlashStepError && error.step === 'rollback' && error.nrc === 0x22);
});

test('erasing the bank that held the previous image ends the right to roll back to it', async (t) => {
  const bench = await ecuBench(t);
  const first = randomBytes(2000);
  await bench.session.program(first, manifestFor(first, null));
  await bench.session.activate();
  await bench.eraseFor(2000); // bank A (factory image) is gone
  await assert.rejects(bench.session.rollback(), (error: unknown) => error instanceof FlashStepError && error.nrc === 0x22);
});

test('leaving the programming session mid-download drops it; a power cycle keeps the old image', async (t) => {
  const bench = await ecuBench(t);
  await bench.eraseFor(0x1000);
  await bench.client.exchange(hex('34 00 44 00000000 00001000'));
  await bench.client.exchange(hex(`36 01 ${'ab'.repeat(100)}`));
  assert.equal(bench.ecu.state, 3 /* Programming */);
  await bench.client.diagnosticSessionControl(0x01);
  assert.equal(bench.ecu.state, 0 /* Running */);
  assert.equal(await nrcOf(bench, '36 02 00'), 0x7f);
  await bench.restartEcu();
  const state = await bench.session.readBootState();
  assert.equal(state.version, '1.0.0');
  assert.equal(state.banks.B.state, 'programming');
  const image = randomBytes(5000);
  await bench.session.program(image, manifestFor(image, null));
  assert.equal((await bench.session.activate()).version, '2.0.0');
});

test('a check passed before a power cycle is not activated by a later reset; the tester must check again', async (t) => {
  const bench = await ecuBench(t);
  const image = randomBytes(3000);
  await bench.session.program(image, manifestFor(image, null));
  await bench.restartEcu();
  const boot = await bench.session.activate();
  assert.equal(boot.switched, false);
  assert.equal(boot.version, '1.0.0');
  // The verified bank is not the one downloaded in this power cycle: it cannot be re-checked without a download.
  await bench.session.openProgrammingSession();
  assert.equal(await nrcOf(bench, '31 01 FF01 7B7D'), 0x24);
});

test('the ECU answers 0x78 while a slow erase and slow programming run, and the tester waits', async (t) => {
  const bench = await ecuBench(t, {
    ecu: { bankSize: 64 * 1024, flashTiming: { eraseBytesPerSecond: 64 * 1024 * 4, programBytesPerSecond: 40_000 } },
  });
  const pending: string[] = [];
  const states = new Set<number>();
  bench.ecu.bus.onTraffic((frame, direction) => {
    const data = Buffer.from(frame.data).toString('hex');
    if (direction === 'tx' && frame.id === 0x738 && /^037f..78/.test(data)) pending.push(data.slice(4, 6));
  });
  const observer = bench.channel.bus.onFrame((frame) => {
    if (frame.id === 0x530) states.add(frame.data[3]!);
  });
  t.after(observer);
  const image = randomBytes(12_000); // 3 blocks of ~4 KiB at 40 kB/s: ~100 ms each
  const started = performance.now();
  await bench.session.program(image, manifestFor(image, null));
  const elapsed = performance.now() - started;
  assert.ok(elapsed >= 500, `erase 250 ms + programming 300 ms took only ${elapsed.toFixed(0)} ms`);
  assert.ok(pending.includes('31'), `0x78 for the erase routine (saw ${pending.join(',')})`);
  assert.ok(pending.includes('36'), `0x78 for TransferData (saw ${pending.join(',')})`);
  assert.ok(states.has(2) && states.has(3), `status frames showed Erasing and Programming (saw ${[...states].join(',')})`);
  assert.equal((await bench.session.activate()).version, '2.0.0');
});

test('status frames every 100 ms follow the ECU, and stop while it restarts', async (t) => {
  const bench = await ecuBench(t, { ecu: { rebootMs: 400 } });
  const frames: { at: number; data: Uint8Array }[] = [];
  const unsubscribe = bench.channel.bus.onFrame((frame) => {
    if (frame.id === 0x530) frames.push({ at: performance.now(), data: frame.data });
  }, [{ id: 0x530, mask: 0x7ff }]);
  t.after(unsubscribe);
  await new Promise((resolve) => setTimeout(resolve, 350));
  assert.ok(frames.length >= 3 && frames.length <= 5, `${frames.length} frames in 350 ms`);
  const first = readStatusFrame(frames[0]!.data).status;
  assert.deepEqual(first.version, [1, 0, 0]);
  assert.equal(first.activeBank, 'A');
  const image = randomBytes(2000);
  await bench.session.program(image, manifestFor(image, null, { firmware_version: '2.3.4' }));
  await bench.session.activate();
  await new Promise((resolve) => setTimeout(resolve, 150));
  const decoded = frames.map((frame) => ({ at: frame.at, ...readStatusFrame(frame.data) }));
  const resetting = decoded.findIndex((frame) => frame.status.state === 5);
  assert.ok(resetting > 0, 'a Resetting frame before going silent');
  const next = decoded[resetting + 1]!;
  assert.ok(next.at - decoded[resetting]!.at >= 380, `silent for ${(next.at - decoded[resetting]!.at).toFixed(0)} ms while restarting`);
  assert.deepEqual(next.status.version, [2, 3, 4]);
  assert.equal(next.status.activeBank, 'B');
  assert.equal(next.status.state, 0);
  const receiver = new SecOcReceiver({ key: bench.ecu.keys.get(statusKeyName('EDT')), dataId: 0x530, profile: STATUS_FRAME_PROFILE, authenticLength: 4 });
  assert.ok(frames.every((frame) => receiver.verify(frame.data).result === 'verified'), 'every frame verifies under status:EDT, in order');
  const counters = decoded.map((frame) => frame.freshness);
  assert.ok(counters.every((value, index) => index === 0 || value === ((counters[index - 1]! + 1) & 0xff)), 'the freshness (alive counter) advances per frame');
});

test('functional requests (0x7DF) are answered on the physical response id', async (t) => {
  const bench = await ecuBench(t);
  const functional = new IsoTpChannel(bench.channel.bus, { txId: 0x7df, rxId: 0x7de, functional: true, fd: true, dataLength: 64 });
  t.after(() => functional.close());
  await functional.send(hex('22 F189'));
  const response = await bench.channel.receive({ timeoutMs: 1000 });
  assert.equal(Buffer.from(response).toString('hex'), `62f189${Buffer.from('1.0.0').toString('hex')}`);
});

test('extension points: extra DIDs and routines are served; the bootloader\'s own ids cannot be replaced', async (t) => {
  const calls: string[] = [];
  const bench = await ecuBench(t, {
    ecu: {
      dids: { 0xf1b0: { read: () => Uint8Array.of(1, 2, 3) } },
      routines: { 0xf001: { start: (options, context) => { calls.push(`${Buffer.from(options).toString()}@${context.session}`); return Uint8Array.of(0x00); }, sessions: [0x03], security: 1 } },
    },
  });
  assert.deepEqual([...await bench.client.readDataByIdentifier(0xf1b0)], [1, 2, 3]);
  await bench.client.diagnosticSessionControl(0x03);
  assert.equal(await nrcOf(bench, '31 01 F001'), 0x33);
  bench.approve(new Uint8Array(1));
  await bench.client.unlock(1, async (seed) => (await bench.cgw.authorize({ ecu: 'EDT', purpose: 'access', seed })).key);
  assert.deepEqual([...await bench.client.startRoutine(0xf001, Buffer.from('offer'))], [0]);
  assert.deepEqual(calls, ['offer@3']);
  await assert.rejects(Ecu.start({ config: bench.config, name: 'TMU', stateDir: bench.stateDir, virtualNetwork: bench.network, routines: { 0xff00: {} } }),
    /routine 0xFF00 belongs to the bootloader/);
});
