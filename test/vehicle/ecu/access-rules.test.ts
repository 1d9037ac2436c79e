import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { FlashStepError } from '../../../src/vehicle/tmu/flash-errors.ts';
import { ecuBench, nrcOf } from './support.ts';

/**
 * The UDS access rules every ECU's bootloader enforces beyond ISO 14229's defaults (issue 10): who may
 * reset it and when, and a security-access lockout that outlives resets and power losses.
 */


test('the security-access count and delay are in security-access.json before each answer, and a right key after the delay clears them', async (t) => {
  let clock = Date.parse('2030-01-01T00:00:00Z');
  const bench = await ecuBench(t, { ecu: { now: () => clock } });
  bench.approve(new Uint8Array(16));
  const file = join(bench.stateDir, 'ecus', 'EDT', 'security-access.json');
  await bench.client.diagnosticSessionControl(0x02);
  for (let attempt = 1; attempt <= 3; attempt += 1) {
    await bench.client.requestSeed(1);
    assert.equal(await nrcOf(bench, '27 02 00112233445566778899AABBCCDDEEFF'), attempt < 3 ? 0x35 : 0x36);
    // On disk by the time the answer arrived.
    assert.deepEqual(JSON.parse(await readFile(file, 'utf8')), attempt < 3
      ? { failedAttempts: attempt, delayedUntil: clock }
      : { failedAttempts: 0, delayedUntil: clock + 10_000 });
  }
  assert.equal(await nrcOf(bench, '27 01'), 0x37);
  await assert.rejects(bench.session.openProgrammingSession(), (error: unknown) =>
    error instanceof FlashStepError && error.step === 'security' && error.nrc === 0x37 && /EDT: security failed/.test(error.message));
  clock += 10_000;
  await bench.session.openProgrammingSession();
  assert.deepEqual(JSON.parse(await readFile(file, 'utf8')), { failedAttempts: 0, delayedUntil: clock });
});

test('a damaged security-access.json locks security access for the full delay, and says so', async (t) => {
  let clock = Date.parse('2030-01-01T00:00:00Z');
  const lines: { msg: string; err?: { message: string } }[] = [];
  const logger = pino({ level: 'info' }, new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString('utf8').split('\n').filter(Boolean)) lines.push(JSON.parse(line) as { msg: string });
      done();
    },
  }));
  const bench = await ecuBench(t, { ecu: { now: () => clock, logger } });
  bench.approve(new Uint8Array(16));
  const file = join(bench.stateDir, 'ecus', 'EDT', 'security-access.json');
  await writeFile(file, '{"failedAttempts": 2, "delayedUnt');
  await bench.restartEcu();
  await bench.client.diagnosticSessionControl(0x02);
  assert.equal(await nrcOf(bench, '27 01'), 0x37);
  const line = lines.find((entry) => entry.msg === 'security-access attempts unreadable: locked for the full delay');
  assert.match(line?.err?.message ?? '', /security-access\.json is unreadable/);
  clock += 10_000;
  await bench.session.openProgrammingSession();
  assert.deepEqual(JSON.parse(await readFile(file, 'utf8')), { failedAttempts: 0, delayedUntil: clock }, 'a right key writes a good record again');
});

test('a reset or the programming session waits for the vehicle to stop (0x22); the extended session does not', async (t) => {
  let driving: string | null = 'vehicle moving at 42 km/h';
  const bench = await ecuBench(t, { ecu: { vehicleCondition: { drivingReason: () => driving } } });
  bench.approve(new Uint8Array(16));
  assert.equal(await nrcOf(bench, '10 02'), 0x22, 'no programming session while driving');
  await bench.client.diagnosticSessionControl(0x03);
  await assert.rejects(bench.session.openProgrammingSession(), (error: unknown) =>
    error instanceof FlashStepError && error.step === 'session' && error.nrc === 0x22);
  driving = null;
  await bench.session.openProgrammingSession();
  driving = 'no fresh motion signal';
  assert.equal(await nrcOf(bench, '11 01'), 0x22, 'stopped when the session opened is not enough: the reset checks again');
  assert.equal(bench.ecu.bootRecord.bootCount, 1);
  driving = null;
  const boot = await bench.session.activate();
  assert.equal(boot.bootState.bootCount, 2);
});
