import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { EcuUnreachableError, FlashStepError } from '../../../src/vehicle/tmu/flash-errors.ts';
import { FlashSession } from '../../../src/vehicle/tmu/flash-session.ts';
import { ecuByName } from '../../../src/vehicle/network.ts';
import { ApprovingFlashSession, ecuBench, manifestFor } from '../ecu/support.ts';
import { securityAccessKey } from '../../../src/vehicle/keys/programming-grant.ts';

test('a tester with a key not made by the CGW fails at the security step, named, with the ECU\'s NRC', async (t) => {
  const bench = await ecuBench(t);
  // An authority that makes keys with a grant key of its own: the ECU refuses them.
  const forger = {
    authorize: async ({ seed }: { seed: Uint8Array }) => ({ key: securityAccessKey(new Uint8Array(32).fill(0xab), 'EDT', seed), grant: new Uint8Array(69) }),
  };
  const impostor = new FlashSession({ client: bench.client, ecu: { name: 'EDT' }, authority: forger });
  await assert.rejects(impostor.program(randomBytes(100), manifestFor(randomBytes(100), null)), (error: unknown) => {
    assert.ok(error instanceof FlashStepError);
    assert.equal(error.ecu, 'EDT');
    assert.equal(error.step, 'security');
    assert.equal(error.nrc, 0x35);
    assert.match(error.message, /^EDT: security failed: SecurityAccess refused: invalidKey \(0x35\)$/);
    return true;
  });
});

test('a missing image file fails the download step before anything is sent', async (t) => {
  const bench = await ecuBench(t);
  await bench.eraseFor(100);
  await assert.rejects(bench.session.download({ path: join(bench.stateDir, 'missing.bin') }), (error: unknown) =>
    error instanceof FlashStepError && error.step === 'download' && /ENOENT/.test(error.message) && error.nrc === undefined);
  assert.equal((await bench.session.readBootState()).banks.B.state, 'erased');
});

test('aborting mid-download stops the transfer; the bank is never verified, and the ECU takes the next flash', async (t) => {
  const bench = await ecuBench(t, { ecu: { flashTiming: { programBytesPerSecond: 200_000 } } });
  const controller = new AbortController();
  const session = new ApprovingFlashSession(bench.cgw, {
    client: bench.client, ecu: ecuByName(bench.config, 'EDT'), authority: bench.cgw, signal: controller.signal,
    onProgress: (progress) => { if (progress.phase === 'download' && progress.percent >= 20) controller.abort(new Error('driver turned the car off')); },
  });
  const image = randomBytes(40_000);
  const path = join(bench.stateDir, 'edt.bin');
  await writeFile(path, image);
  await assert.rejects(session.program({ path }, manifestFor(image, null)), /driver turned the car off/);
  const state = await bench.session.readBootState();
  assert.equal(state.banks.B.state, 'programming');
  await bench.session.program({ path }, manifestFor(image, null));
  assert.equal((await bench.session.activate()).version, '2.0.0');
});

test('an ECU that cannot boot anything after its reset stays silent; the tester gives up with EcuUnreachableError', async (t) => {
  const bench = await ecuBench(t, { session: { rebootTimeoutMs: 600 } });
  const image = randomBytes(1000);
  await bench.session.program(image, manifestFor(image, null));
  // Both banks lose their contents: the new image fails its boot check and the old one has gone too.
  await writeFile(join(bench.stateDir, 'ecus', 'EDT', 'bank-A.img'), 'dead');
  await writeFile(join(bench.stateDir, 'ecus', 'EDT', 'bank-B.img'), 'dead');
  const started = performance.now();
  await assert.rejects(bench.session.activate(), (error: unknown) => {
    assert.ok(error instanceof EcuUnreachableError, String(error));
    assert.equal(error.step, 'reset');
    assert.match(error.message, /^EDT: reset failed: no answer within 600 ms after the reset/);
    return true;
  });
  assert.ok(performance.now() - started < 3000);
  assert.equal(bench.ecu.available, false);
});

test('activate() without a checked image just restarts the ECU and says nothing switched', async (t) => {
  const bench = await ecuBench(t);
  bench.approve(new Uint8Array(16)); // the reset needs the unlocked programming session, so an update the CGW knows of
  const before = await bench.session.readBootState();
  const report = await bench.session.activate();
  assert.equal(report.switched, false);
  assert.equal(report.outcome, 'booted');
  assert.equal(report.version, '1.0.0');
  assert.equal(report.bootState.bootCount, before.bootCount + 1);
});
