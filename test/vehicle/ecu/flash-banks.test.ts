import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { FlashBanks, FlashError } from '../../../src/vehicle/ecu/flash-banks.ts';
import { tempDir } from '../../support/temp-dir.ts';
import type { BootRecord } from '../../../src/vehicle/ecu/boot-record.ts';

const factory = { version: '1.0.0', image: Buffer.from('factory image of EDT 1.0.0') };
const sha = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

async function program(banks: FlashBanks, image: Buffer, version: string): Promise<void> {
  await banks.eraseInactive();
  const writer = await banks.beginProgramming(image.length);
  for (let offset = 0; offset < image.length; offset += 1000) await writer.write(image.subarray(offset, offset + 1000));
  assert.equal(await writer.finish(), sha(image));
  await banks.verifyInactive({ sha256: sha(image), size: image.length, version, manifest: null });
}

test('first start writes the factory image to bank A and boots it', async (t) => {
  const dir = await tempDir(t);
  const banks = await FlashBanks.open({ directory: dir, ecu: 'EDT', factory });
  assert.equal(banks.active, 'A');
  assert.equal(banks.activeBank.version, '1.0.0');
  assert.deepEqual(await readFile(banks.bankPath('A')), factory.image);
  assert.equal(banks.record.lastBoot?.outcome, 'booted');
});

test('a new image goes to the inactive bank and becomes active only after activation and a good boot', async (t) => {
  const dir = await tempDir(t);
  const banks = await FlashBanks.open({ directory: dir, ecu: 'EDT', factory });
  const image = randomBytes(10_000);
  await program(banks, image, '2.0.0');
  assert.equal(banks.active, 'A', 'verification alone does not switch banks');
  await banks.activateInactive();
  const event = await banks.boot();
  assert.equal(event.outcome, 'booted');
  assert.equal(banks.active, 'B');
  assert.equal(banks.activeBank.version, '2.0.0');
  assert.deepEqual(await readFile(banks.bankPath('B')), image);
  assert.equal(banks.record.previous, 'A');

  const reopened = await FlashBanks.open({ directory: dir, ecu: 'EDT', factory });
  assert.equal(reopened.active, 'B', 'the switch survives a restart');
});

test('an image whose bytes do not match is refused and never activated', async (t) => {
  const dir = await tempDir(t);
  const banks = await FlashBanks.open({ directory: dir, ecu: 'EDT', factory });
  await banks.eraseInactive();
  const writer = await banks.beginProgramming(4);
  await writer.write(Buffer.from('abcd'));
  await writer.finish();
  await assert.rejects(banks.verifyInactive({ sha256: sha(Buffer.from('abce')), size: 4, version: '2.0.0', manifest: null }),
    /does not match/);
  assert.equal(banks.inactiveBank.state, 'invalid');
  await assert.rejects(banks.activateInactive(), FlashError);
});

test('an image corrupted after its check fails its boot check and the ECU rolls back', async (t) => {
  const dir = await tempDir(t);
  const banks = await FlashBanks.open({ directory: dir, ecu: 'EDT', factory });
  await program(banks, randomBytes(5000), '2.0.0');
  await banks.activateInactive();
  const bank = await readFile(banks.bankPath('B'));
  bank[100] = bank[100]! ^ 0xff;
  await writeFile(banks.bankPath('B'), bank);
  const event = await banks.boot();
  assert.equal(event.outcome, 'rolled-back');
  assert.match(event.reason ?? '', /no longer match/);
  assert.equal(banks.active, 'A');
  assert.equal(banks.activeBank.version, '1.0.0');
  assert.equal(banks.inactiveBank.state, 'invalid');
});

test('rollback re-activates the previous image (all-or-nothing updates)', async (t) => {
  const dir = await tempDir(t);
  const banks = await FlashBanks.open({ directory: dir, ecu: 'EDT', factory });
  await program(banks, randomBytes(3000), '2.0.0');
  await banks.activateInactive();
  await banks.boot();
  assert.equal(banks.activeBank.version, '2.0.0');
  await banks.rollback();
  await banks.boot();
  assert.equal(banks.active, 'A');
  assert.equal(banks.activeBank.version, '1.0.0');
  await assert.rejects(banks.rollback(), /no previous verified image/, 'a rollback cannot be rolled back');
});

test('confirmation: an activated image boots unconfirmed; confirming it raises the floor and ends the right to roll back', async (t) => {
  const dir = await tempDir(t);
  const banks = await FlashBanks.open({ directory: dir, ecu: 'EDT', factory });
  assert.deepEqual([banks.confirmed, banks.floor], [true, '1.0.0'], 'the factory image counts as confirmed; it is the first floor');
  await program(banks, randomBytes(3000), '2.0.0');
  await banks.activateInactive();
  await assert.rejects(banks.confirm(), /cannot confirm while bank B awaits its boot/);
  await banks.boot();
  assert.deepEqual([banks.confirmed, banks.floor], [false, '1.0.0'], 'on trial');
  await banks.confirm();
  assert.deepEqual([banks.confirmed, banks.floor, banks.record.previous], [true, '2.0.0', 'A'], 'the previous image stays');
  const written = (await readFile(join(dir, 'boot-record.json'), 'utf8'));
  await banks.confirm();
  assert.equal(await readFile(join(dir, 'boot-record.json'), 'utf8'), written, 'confirming again changes nothing');
  await assert.rejects(banks.rollback(), /bank A holds 1\.0\.0, below the anti-rollback floor 2\.0\.0/);
  await assert.rejects(banks.rollback({ authorized: true }), /below the anti-rollback floor/, 'not even with an authenticated order');
  assert.equal(banks.record.trial, null);
  const reopened = await FlashBanks.open({ directory: dir, ecu: 'EDT', factory });
  assert.deepEqual([reopened.confirmed, reopened.floor], [true, '2.0.0'], 'kept across a restart');
});

test('a confirmed image at the floor is rolled back only with an authenticated order; the one returned to counts as confirmed', async (t) => {
  const dir = await tempDir(t);
  const banks = await FlashBanks.open({ directory: dir, ecu: 'EDT', factory });
  const update = async (version: string) => {
    await program(banks, randomBytes(2000), version);
    await banks.activateInactive();
    await banks.boot();
  };
  await update('2.0.0');
  await banks.confirm();
  await update('2.0.0'); // the same version again (a rebuilt image)
  assert.deepEqual([banks.confirmed, banks.floor], [false, '2.0.0']);
  await banks.confirm();
  await assert.rejects(banks.rollback(), /the running 2\.0\.0 is confirmed: rolling back needs an authenticated order/);
  await banks.rollback({ authorized: true });
  await banks.boot();
  assert.deepEqual([banks.active, banks.confirmed, banks.floor], ['B', true, '2.0.0']);

  // Unconfirmed, a newer image rolls back without an order; the image returned to is at the floor: confirmed.
  await update('3.0.0');
  assert.equal(banks.confirmed, false);
  await banks.rollback();
  await banks.boot();
  assert.deepEqual([banks.activeBank.version, banks.confirmed, banks.floor], ['2.0.0', true, '2.0.0']);
});

test('a fall-back below the floor runs (the ECU must run something) but does not lower the floor', async (t) => {
  const dir = await tempDir(t);
  const banks = await FlashBanks.open({ directory: dir, ecu: 'EDT', factory });
  await program(banks, randomBytes(2000), '2.0.0');
  await banks.activateInactive();
  await banks.boot();
  await banks.confirm();
  await writeFile(banks.bankPath('B'), 'worn out');
  const event = await banks.boot();
  assert.equal(event.outcome, 'fell-back');
  assert.deepEqual([banks.activeBank.version, banks.confirmed, banks.floor], ['1.0.0', true, '2.0.0']);
});

test('a boot record from before confirmations loads: its image counts as confirmed, the floor starts with the first confirmation', async (t) => {
  const dir = await tempDir(t);
  const banks = await FlashBanks.open({ directory: dir, ecu: 'EDT', factory });
  await program(banks, randomBytes(2000), '2.0.0');
  await banks.activateInactive();
  await banks.boot();
  const path = join(dir, 'boot-record.json');
  const { confirmed: _confirmed, floor: _floor, ...old } = JSON.parse(await readFile(path, 'utf8')) as BootRecord;
  await writeFile(path, JSON.stringify(old));
  const reopened = await FlashBanks.open({ directory: dir, ecu: 'EDT', factory });
  assert.deepEqual([reopened.activeBank.version, reopened.confirmed, reopened.floor], ['2.0.0', true, null]);
  await assert.rejects(reopened.rollback(), /is confirmed: rolling back needs an authenticated order/);
  await reopened.confirm();
  assert.deepEqual([reopened.confirmed, reopened.floor], [true, '2.0.0']);
});

test('writing past the announced size or finishing short is refused', async (t) => {
  const dir = await tempDir(t);
  const banks = await FlashBanks.open({ directory: dir, ecu: 'EDT', factory });
  await assert.rejects(banks.beginProgramming(10), /must be erased/);
  await banks.eraseInactive();
  const writer = await banks.beginProgramming(10);
  await assert.rejects(writer.write(Buffer.alloc(11)), /exceeds/);
  await writer.write(Buffer.alloc(5));
  await assert.rejects(writer.finish(), /after 5 of 10 bytes/);
  assert.equal(banks.inactiveBank.state, 'programming');
  await assert.rejects(banks.activateInactive(), FlashError);
});

async function flipByte(path: string, at: number): Promise<void> {
  const bytes = await readFile(path);
  bytes[at] = bytes[at]! ^ 0xff;
  await writeFile(path, bytes);
}

/** An ECU that ran 2.0.0 from bank B after an update, with the factory 1.0.0 still verified in bank A. */
async function updatedToB(dir: string): Promise<FlashBanks> {
  const banks = await FlashBanks.open({ directory: dir, ecu: 'EDT', factory });
  await program(banks, randomBytes(4000), '2.0.0');
  await banks.activateInactive();
  assert.equal((await banks.boot()).outcome, 'booted');
  assert.equal(banks.active, 'B');
  return banks;
}

test('power-on with a corrupt active bank falls back to the verified other bank', async (t) => {
  const dir = await tempDir(t);
  const before = await updatedToB(dir);
  const bootCount = before.record.bootCount;
  await flipByte(before.bankPath('B'), 10);
  const banks = await FlashBanks.open({ directory: dir, ecu: 'EDT', factory });
  const event = banks.record.lastBoot;
  assert.equal(event?.outcome, 'fell-back');
  assert.equal(event?.bank, 'A');
  assert.equal(event?.version, '1.0.0');
  assert.match(event?.reason ?? '', /^bank B: image bytes no longer match/);
  assert.equal(banks.active, 'A');
  assert.equal(banks.record.banks.B.state, 'invalid');
  assert.match(banks.record.banks.B.reason ?? '', /no longer match/);
  assert.equal(banks.record.previous, null, 'the broken bank is nothing to roll back to');
  assert.equal(banks.record.bootCount, bootCount + 1);
  await assert.rejects(banks.rollback(), /no previous verified image/);
});

test('power-on with the active bank\'s image gone falls back too', async (t) => {
  const dir = await tempDir(t);
  const before = await updatedToB(dir);
  await rm(before.bankPath('B'));
  const banks = await FlashBanks.open({ directory: dir, ecu: 'EDT', factory });
  assert.equal(banks.record.lastBoot?.outcome, 'fell-back');
  assert.match(banks.record.lastBoot?.reason ?? '', /^bank B: image unreadable/);
  assert.equal(banks.active, 'A');
});

test('with both banks unbootable the ECU refuses to boot rather than run a corrupt image', async (t) => {
  const dir = await tempDir(t);
  const before = await updatedToB(dir);
  await flipByte(before.bankPath('B'), 10);
  await flipByte(before.bankPath('A'), 0);
  await assert.rejects(FlashBanks.open({ directory: dir, ecu: 'EDT', factory }),
    (error: unknown) => error instanceof FlashError && /no bootable image: bank B: .*no longer match.*; bank A: .*no longer match/.test(error.message));

  // Only the factory image, corrupted: the other bank holds nothing verified to fall back to.
  const lone = await tempDir(t);
  const fresh = await FlashBanks.open({ directory: lone, ecu: 'EDT', factory });
  await flipByte(fresh.bankPath('A'), 0);
  await assert.rejects(fresh.boot(), /no bootable image: bank A: .*; bank B: not verified/);
});

/** Rewrites the boot record as a power cut during boot would leave it: the trial's attempts already counted. */
async function setTrialAttempts(dir: string, attempts: number): Promise<void> {
  const path = join(dir, 'boot-record.json');
  const record = JSON.parse(await readFile(path, 'utf8')) as BootRecord;
  assert.ok(record.trial);
  record.trial.attempts = attempts;
  await writeFile(path, JSON.stringify(record));
}

test('an activation is given up after maxBootAttempts boots, and not one boot earlier', async (t) => {
  for (const maxBootAttempts of [1, 3]) {
    const dir = await tempDir(t);
    const banks = await FlashBanks.open({ directory: dir, ecu: 'EDT', factory, maxBootAttempts });
    await program(banks, randomBytes(2000), '2.0.0');
    await banks.activateInactive();
    // Boots that died before finishing used up all attempts but the last: the last one still tries.
    await setTrialAttempts(dir, maxBootAttempts - 1);
    const lastTry = await FlashBanks.open({ directory: dir, ecu: 'EDT', factory, maxBootAttempts });
    assert.equal(lastTry.record.lastBoot?.outcome, 'booted', `max ${maxBootAttempts}`);
    assert.equal(lastTry.active, 'B');

    const gaveUpDir = await tempDir(t);
    const other = await FlashBanks.open({ directory: gaveUpDir, ecu: 'EDT', factory, maxBootAttempts });
    await program(other, randomBytes(2000), '2.0.0');
    await other.activateInactive();
    await setTrialAttempts(gaveUpDir, maxBootAttempts);
    const gaveUp = await FlashBanks.open({ directory: gaveUpDir, ecu: 'EDT', factory, maxBootAttempts });
    const event = gaveUp.record.lastBoot;
    assert.equal(event?.outcome, 'rolled-back', `max ${maxBootAttempts}`);
    assert.equal(event?.reason, `bank B: gave up after ${maxBootAttempts} boot attempts`);
    assert.equal(gaveUp.active, 'A');
    assert.equal(gaveUp.record.trial, null);
    assert.equal(gaveUp.record.banks.B.state, 'invalid', 'an image that keeps failing its boot is not tried again');
    await assert.rejects(gaveUp.activateInactive(), /not verified/);
  }
});

test('without maxBootAttempts an activation gets three boots', async (t) => {
  const dir = await tempDir(t);
  const banks = await FlashBanks.open({ directory: dir, ecu: 'EDT', factory });
  await program(banks, randomBytes(2000), '2.0.0');
  await banks.activateInactive();
  assert.deepEqual(banks.record.trial, { bank: 'B', attempts: 0 });
  await setTrialAttempts(dir, 2);
  const third = await FlashBanks.open({ directory: dir, ecu: 'EDT', factory });
  assert.equal(third.record.lastBoot?.outcome, 'booted', 'the third boot is still tried');

  const fourthDir = await tempDir(t);
  const other = await FlashBanks.open({ directory: fourthDir, ecu: 'EDT', factory });
  await program(other, randomBytes(2000), '2.0.0');
  await other.activateInactive();
  await setTrialAttempts(fourthDir, 3);
  const fourth = await FlashBanks.open({ directory: fourthDir, ecu: 'EDT', factory });
  assert.equal(fourth.record.lastBoot?.reason, 'bank B: gave up after 3 boot attempts');
});

test('nothing is erased or programmed while an activation awaits its boot', async (t) => {
  const dir = await tempDir(t);
  const banks = await FlashBanks.open({ directory: dir, ecu: 'EDT', factory });
  await program(banks, randomBytes(2000), '2.0.0');
  await banks.activateInactive();
  const armed = banks.record;
  await assert.rejects(banks.eraseInactive(), (error: unknown) => error instanceof FlashError && /cannot erase while bank B awaits its boot/.test(error.message));
  await assert.rejects(banks.beginProgramming(10), /cannot program while bank B awaits its boot/);
  assert.deepEqual(banks.record, armed, 'the armed bank and its record are untouched');
  assert.equal((await banks.boot()).outcome, 'booted');
  assert.equal(banks.activeBank.version, '2.0.0');

  // The same holds for an armed rollback.
  await banks.rollback();
  await assert.rejects(banks.eraseInactive(), /cannot erase while bank A awaits its boot/);
  await assert.rejects(banks.beginProgramming(10), /cannot program while bank A awaits its boot/);
  assert.equal(banks.inactiveBank.state, 'verified');
});

test('the image size must be a positive whole number of bytes that fits the bank', async (t) => {
  const dir = await tempDir(t);
  const banks = await FlashBanks.open({ directory: dir, ecu: 'EDT', factory, bankSize: 4096 });
  await banks.eraseInactive();
  for (const size of [0, -1, 4097, 1.5, Number.NaN, Number.POSITIVE_INFINITY]) {
    await assert.rejects(banks.beginProgramming(size), (error: unknown) => error instanceof FlashError &&
      error.message === `image size ${size} does not fit the 4096-byte bank`, String(size));
    assert.equal(banks.inactiveBank.state, 'erased', `a refused size ${size} leaves the bank erased`);
  }
  const writer = await banks.beginProgramming(4096);
  assert.equal(banks.inactiveBank.state, 'programming');
  assert.equal(banks.inactiveBank.size, 4096);
  await writer.write(Buffer.alloc(4096, 7));
  await writer.finish();
  assert.equal(banks.inactiveBank.state, 'written');
  const one = await FlashBanks.open({ directory: await tempDir(t), ecu: 'EDT', factory, bankSize: 4096 });
  await one.eraseInactive();
  await (await one.beginProgramming(1)).abort();
  assert.equal(one.inactiveBank.size, 1, 'one byte is an image');
});

test('verifyInactive needs a complete image: erased, programming or empty banks are refused and left as they are', async (t) => {
  const dir = await tempDir(t);
  const banks = await FlashBanks.open({ directory: dir, ecu: 'EDT', factory });
  const expected = { sha256: sha(Buffer.from('abcd')), size: 4, version: '2.0.0', manifest: null };
  assert.equal(banks.inactiveBank.state, 'empty');
  await assert.rejects(banks.verifyInactive(expected), /bank B holds no complete image \(it is empty\)/);
  await banks.eraseInactive();
  await assert.rejects(banks.verifyInactive(expected), /bank B holds no complete image \(it is erased\)/);
  assert.equal(banks.inactiveBank.state, 'erased');
  const writer = await banks.beginProgramming(4);
  await writer.write(Buffer.from('ab'));
  await assert.rejects(banks.verifyInactive({ ...expected, sha256: sha(Buffer.from('ab')), size: 2 }),
    /bank B holds no complete image \(it is programming\)/, 'the bytes so far are not an image, even when they hash right');
  assert.equal(banks.inactiveBank.state, 'programming');
  await writer.write(Buffer.from('cd'));
  await writer.finish();
  await banks.verifyInactive(expected);
  assert.equal(banks.inactiveBank.state, 'verified');
  await banks.verifyInactive(expected);
  assert.equal(banks.inactiveBank.state, 'verified', 'a verified bank may be checked again');
});

test('verifyInactive refuses an image of the wrong length and says so', async (t) => {
  const dir = await tempDir(t);
  const banks = await FlashBanks.open({ directory: dir, ecu: 'EDT', factory });
  await banks.eraseInactive();
  const writer = await banks.beginProgramming(4);
  await writer.write(Buffer.from('abcd'));
  await writer.finish();
  await assert.rejects(banks.verifyInactive({ sha256: sha(Buffer.from('abcd')), size: 5, version: '2.0.0', manifest: null }),
    /image is 4 bytes, expected 5/);
  assert.equal(banks.inactiveBank.state, 'invalid');
  assert.equal(banks.inactiveBank.reason, 'image is 4 bytes, expected 5');
  await banks.eraseInactive();
  assert.equal(banks.inactiveBank.state, 'erased');
  assert.equal(banks.inactiveBank.reason, undefined, 'an erase forgets why the bank was invalid');
});

test('erasing the bank kept for rollback makes a rollback impossible', async (t) => {
  const dir = await tempDir(t);
  const banks = await updatedToB(dir);
  assert.equal(banks.record.previous, 'A');
  await banks.eraseInactive();
  assert.equal(banks.record.previous, null);
  await assert.rejects(banks.rollback(), /no previous verified image/);

  const other = await updatedToB(await tempDir(t));
  await other.invalidateInactive('recalled');
  await assert.rejects(other.rollback(), /no previous verified image/, 'nor can an invalidated image be rolled back to');
  await assert.rejects(other.activateInactive(), /bank A is not verified \(it is invalid\)/);
});

test('a BankWriter takes nothing after finish or abort', async (t) => {
  const dir = await tempDir(t);
  const banks = await FlashBanks.open({ directory: dir, ecu: 'EDT', factory });
  await banks.eraseInactive();
  const finished = await banks.beginProgramming(4);
  await finished.write(Buffer.from('abcd'));
  assert.equal(finished.written, 4);
  await finished.finish();
  await finished.abort();
  await assert.rejects(finished.write(Buffer.from('e')), (error: unknown) => error instanceof FlashError && /already finished/.test(error.message));
  await assert.rejects(finished.finish(), (error: unknown) => error instanceof FlashError && /already finished/.test(error.message));
  assert.equal(banks.inactiveBank.state, 'written', 'a late abort does not undo a finished bank');
  assert.equal(banks.inactiveBank.sha256, sha(Buffer.from('abcd')));

  await banks.eraseInactive();
  const aborted = await banks.beginProgramming(4);
  await aborted.write(Buffer.from('ab'));
  await aborted.abort();
  await aborted.abort();
  await assert.rejects(aborted.write(Buffer.from('cd')), (error: unknown) => error instanceof FlashError && /already aborted/.test(error.message));
  assert.equal(aborted.written, 2);
  await assert.rejects(aborted.finish(), /already aborted/);
  assert.equal(banks.inactiveBank.state, 'programming', 'an aborted bank never becomes written');
  await assert.rejects(banks.activateInactive(), /not verified \(it is programming\)/);

  // Aborted with every byte in: still not a written bank.
  await banks.eraseInactive();
  const full = await banks.beginProgramming(4);
  await full.write(Buffer.from('abcd'));
  await full.abort();
  await assert.rejects(full.finish(), (error: unknown) => error instanceof FlashError && /already aborted/.test(error.message));
  assert.equal(banks.inactiveBank.state, 'programming');
});

test('kill -9 at any moment of an update leaves an ECU that boots a verified image', async (t) => {
  const dir = await tempDir(t);
  const worker = fileURLToPath(new URL('./fixtures/flash-forever.ts', import.meta.url));
  for (let round = 0; round < 8; round += 1) {
    const child = spawn(process.execPath, ['--import', 'tsx', worker, dir], { stdio: ['ignore', 'pipe', 'inherit'] });
    // Wait until the worker is inside its update loop, then kill it at a varying moment.
    await once(child.stdout, 'data');
    await new Promise((resolve) => setTimeout(resolve, 20 + round * 37));
    child.kill('SIGKILL');
    await once(child, 'exit');
    const banks = await FlashBanks.open({ directory: dir, ecu: 'EDT', factory });
    const active = banks.activeBank;
    assert.equal(active.state, 'verified');
    assert.equal(sha(await readFile(banks.bankPath(banks.active))), active.sha256, `round ${round}`);
    assert.equal(banks.record.trial, null);
  }
});

test('FlashError names itself', async (t) => {
  const banks = await FlashBanks.open({ directory: await tempDir(t), ecu: 'EDT', factory });
  await assert.rejects(banks.activateInactive(), (error: unknown) => error instanceof FlashError && error.name === 'FlashError');
});

test('confirming an image below the floor (after a fall-back) keeps the floor; an image at the floor leaves it as it is', async (t) => {
  const dir = await tempDir(t);
  const banks = await FlashBanks.open({ directory: dir, ecu: 'EDT', factory });
  await program(banks, randomBytes(2000), '2.0.0');
  await banks.activateInactive();
  await banks.boot();
  await banks.confirm();
  await writeFile(banks.bankPath('B'), 'worn out');
  await banks.boot();
  assert.deepEqual([banks.activeBank.version, banks.confirmed, banks.floor], ['1.0.0', true, '2.0.0']);
  await banks.confirm();
  assert.equal(banks.floor, '2.0.0', 'confirming 1.0.0 does not lower the floor');
  await program(banks, randomBytes(2000), '2.0.0');
  await banks.activateInactive();
  await banks.boot();
  await banks.confirm();
  assert.deepEqual([banks.confirmed, banks.floor], [true, '2.0.0']);
});

test('an image returned to that is newer than the floor was never confirmed: it runs on trial', async (t) => {
  const dir = await tempDir(t);
  const banks = await FlashBanks.open({ directory: dir, ecu: 'EDT', factory });
  const update = async (version: string) => {
    await program(banks, randomBytes(2000), version);
    await banks.activateInactive();
    await banks.boot();
  };
  await update('2.0.0'); // never confirmed: the floor stays 1.0.0
  await update('3.0.0');
  assert.deepEqual([banks.activeBank.version, banks.confirmed, banks.floor], ['3.0.0', false, '1.0.0']);
  await banks.rollback();
  await banks.boot();
  assert.deepEqual([banks.activeBank.version, banks.confirmed], ['2.0.0', false], 'a rollback to 2.0.0, above the floor');

  // The same for a fall-back: 3.0.0 again, then its bank fails; 2.0.0 runs, unconfirmed.
  await update('3.0.0');
  await banks.confirm();
  assert.equal(banks.floor, '3.0.0');
  await update('4.0.0');
  await writeFile(banks.bankPath(banks.active), 'worn out');
  const event = await banks.boot();
  assert.equal(event.outcome, 'fell-back');
  assert.deepEqual([banks.activeBank.version, banks.confirmed], ['3.0.0', true], 'at the floor: confirmed');
});

test('an image returned to without a floor (a record from before confirmations) counts as unconfirmed', async (t) => {
  const dir = await tempDir(t);
  const banks = await FlashBanks.open({ directory: dir, ecu: 'EDT', factory });
  await program(banks, randomBytes(2000), '2.0.0');
  await banks.activateInactive();
  await banks.boot();
  const path = join(dir, 'boot-record.json');
  const record = JSON.parse(await readFile(path, 'utf8')) as BootRecord;
  await writeFile(path, JSON.stringify({ ...record, confirmed: false, floor: null }));
  const reopened = await FlashBanks.open({ directory: dir, ecu: 'EDT', factory });
  await reopened.rollback();
  await reopened.boot();
  assert.deepEqual([reopened.activeBank.version, reopened.confirmed, reopened.floor], ['1.0.0', false, null]);
});

test('a bank of unknown version is not rolled back to past a floor, and a running one of unknown version keeps the floor', async (t) => {
  const dir = await tempDir(t);
  const banks = await FlashBanks.open({ directory: dir, ecu: 'EDT', factory });
  await program(banks, randomBytes(2000), '2.0.0');
  await banks.activateInactive();
  await banks.boot();
  const path = join(dir, 'boot-record.json');
  const record = JSON.parse(await readFile(path, 'utf8')) as BootRecord;
  const unknownA = { ...record, banks: { ...record.banks, A: { ...record.banks.A, version: null } } };
  await writeFile(path, JSON.stringify(unknownA));
  const reopened = await FlashBanks.open({ directory: dir, ecu: 'EDT', factory });
  await assert.rejects(reopened.rollback({ authorized: true }), /bank A holds an unknown version, below the anti-rollback floor 1\.0\.0/);

  const unknownB = { ...record, confirmed: true, banks: { ...record.banks, B: { ...record.banks.B, version: null } } };
  await writeFile(path, JSON.stringify(unknownB));
  const again = await FlashBanks.open({ directory: dir, ecu: 'EDT', factory });
  await assert.rejects(again.rollback(), /the running image is confirmed: rolling back needs an authenticated order/);
  await again.confirm();
  assert.equal(again.floor, '1.0.0');
});

test('a trial bank invalidated before its boot is not booted, even though its bytes still match', async (t) => {
  const dir = await tempDir(t);
  const banks = await FlashBanks.open({ directory: dir, ecu: 'EDT', factory });
  await program(banks, randomBytes(2000), '2.0.0');
  await banks.activateInactive();
  await banks.invalidateInactive('withdrawn');
  const event = await banks.boot();
  assert.equal(event.outcome, 'rolled-back');
  assert.equal(event.reason, 'bank B: bank is invalid, not verified');
  assert.equal(banks.active, 'A');
});

test('a fall-back to a bank of unknown version boots it, unconfirmed', async (t) => {
  const dir = await tempDir(t);
  const banks = await FlashBanks.open({ directory: dir, ecu: 'EDT', factory });
  await program(banks, randomBytes(2000), '2.0.0');
  await banks.activateInactive();
  await banks.boot();
  const path = join(dir, 'boot-record.json');
  const record = JSON.parse(await readFile(path, 'utf8')) as BootRecord;
  await writeFile(path, JSON.stringify({ ...record, banks: { ...record.banks, A: { ...record.banks.A, version: null } } }));
  await writeFile(banks.bankPath('B'), 'worn out');
  const reopened = await FlashBanks.open({ directory: dir, ecu: 'EDT', factory });
  assert.equal(reopened.record.lastBoot?.outcome, 'fell-back');
  assert.deepEqual([reopened.active, reopened.activeBank.version, reopened.confirmed, reopened.floor], ['A', null, false, '1.0.0']);
});

test('confirming a version equal to the floor but spelt otherwise keeps the floor as it was written', async (t) => {
  const dir = await tempDir(t);
  const banks = await FlashBanks.open({ directory: dir, ecu: 'EDT', factory: { ...factory, version: '2.0.0' } });
  await program(banks, randomBytes(2000), '2.0');
  await banks.activateInactive();
  await banks.boot();
  await banks.confirm();
  assert.deepEqual([banks.confirmed, banks.floor], [true, '2.0.0']);
});
