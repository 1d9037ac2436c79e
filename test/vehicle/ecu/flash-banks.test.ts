import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { FlashBanks, FlashError } from '../../../src/vehicle/ecu/flash-banks.ts';
import { tempDir } from '../../support/temp-dir.ts';

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
