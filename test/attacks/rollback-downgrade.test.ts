import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { NegativeResponseError } from '../../src/can/uds/index.ts';
import { FlashStepError, ImageRefusedError } from '../../src/vehicle/tmu/flash-errors.ts';
import { ecuBench, manifestFor, sha256 } from '../vehicle/ecu/support.ts';

const hex = (text: string) => Uint8Array.from(Buffer.from(text.replace(/\s/g, ''), 'hex'));

/**
 * Attack (issue 10): a tester that can unlock EDT (a compromised TMU relaying the CGW's keys, a rogue
 * workshop tool) takes EDT back to an older image with known holes: routine 0xFF02 used to arm the previous
 * bank with no version or signature check, and an old release, validly signed, passes a signature check
 * forever. Defence: an update is confirmed (0xFF03) once the vehicle runs it; a confirmed image is not
 * rolled back without an authenticated order, and never below the floor (the newest version ever
 * confirmed), which 0xFF01 enforces too. Real EDT bootloader on the virtual CAN-B, signed releases.
 */
test('after a confirmed update, 0xFF02 and an older signed image are refused; EDT keeps running the update', async (t) => {
  const bench = await ecuBench(t, { signed: true });
  const old = randomBytes(6000);
  const current = randomBytes(6000);
  const record = () => readFile(join(bench.stateDir, 'ecus', 'EDT', 'boot-record.json'), 'utf8');

  // The rightful update: 1.0.0 → 1.5.0 → 2.0.0, each confirmed; 1.5.0 stays in the other bank.
  await bench.session.program(old, manifestFor(old, bench.key, { firmware_version: '1.5.0' }));
  await bench.session.activate();
  await bench.session.confirm();
  await bench.session.program(current, manifestFor(current, bench.key, { firmware_version: '2.0.0' }));
  await bench.session.activate();
  await bench.session.confirm();
  const confirmed = await bench.session.readBootState();
  assert.deepEqual([confirmed.version, confirmed.active, confirmed.confirmed, confirmed.floor, confirmed.banks.B.version],
    ['2.0.0', 'A', true, '2.0.0', '1.5.0']);
  const before = await record();

  await t.test('0xFF02 with security access is refused (0x22), with or without an "order"; nothing is armed or changed', async () => {
    await assert.rejects(bench.session.rollback(), (error: unknown) =>
      error instanceof FlashStepError && error.step === 'rollback' && error.nrc === 0x22);
    await bench.session.openProgrammingSession();
    for (const request of ['31 01 FF02', `31 01 FF02 ${'00'.repeat(69)}`, `31 01 FF02 ${randomBytes(69).toString('hex')}`]) {
      await assert.rejects(bench.client.exchange(hex(request)), (error: unknown) => error instanceof NegativeResponseError && error.nrc === 0x22, request);
    }
    const state = await bench.session.readBootState();
    assert.deepEqual([state.version, state.active, state.trialPending, state.sha256], ['2.0.0', 'A', false, sha256(current)]);
    assert.equal(await record(), before, 'the boot record did not change');
    // A reset does not fall back to 1.5.0 either.
    const boot = await bench.session.activate();
    assert.deepEqual([boot.version, boot.switched], ['2.0.0', false]);
  });

  await t.test('below the floor is refused even when EDT itself runs older (a fall-back after its bank wore out)', async () => {
    await bench.ecu.close();
    await writeFile(join(bench.stateDir, 'ecus', 'EDT', 'bank-A.img'), 'worn out');
    await bench.restartEcu();
    const state = await bench.session.readBootState();
    assert.deepEqual([state.version, state.floor, state.lastBoot?.outcome], ['1.5.0', '2.0.0', 'fell-back']);
    for (const version of ['1.5.0', '1.9.9']) {
      const image = randomBytes(4000);
      await assert.rejects(bench.session.program(image, manifestFor(image, bench.key, { firmware_version: version })), (error: unknown) =>
        error instanceof ImageRefusedError && error.reason === `version ${version} is below the anti-rollback floor 2.0.0 (the newest version this ECU confirmed)`);
    }
    // What may go in is the floor or newer.
    await bench.session.program(current, manifestFor(current, bench.key, { firmware_version: '2.0.0' }));
    assert.equal((await bench.session.activate()).version, '2.0.0');
  });

  await t.test('and with 2.0.0 back on EDT, 0xFF01 refuses a validly signed older release as a downgrade', async () => {
    const image = randomBytes(4000);
    await assert.rejects(bench.session.program(image, manifestFor(image, bench.key, { firmware_version: '1.5.0' })), (error: unknown) =>
      error instanceof ImageRefusedError && /older than the running 2\.0\.0/.test(error.reason));
  });
});
