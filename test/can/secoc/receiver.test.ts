import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import fc from 'fast-check';
import {
  AcceptedFreshnessFile, DIAGNOSTIC_PROFILE, FreshnessCounter, STATUS_FRAME_PROFILE, SecOcReceiver, SecOcSender, buildSecuredPdu,
  type SecOcProfile,
} from '../../../src/can/secoc/index.ts';
import { tempDir } from '../../support/temp-dir.ts';

const key = Uint8Array.from({ length: 32 }, (_, i) => i * 7);
const otherKey = Uint8Array.from({ length: 32 }, (_, i) => i * 7 + 1);
const payload = Uint8Array.of(1, 2, 3, 4);

/** A clock the test moves by hand (milliseconds). */
function manualClock() {
  let now = 0;
  return { now: () => now, advance: (ms: number) => { now += ms; } };
}

const receiverFor = (profile: SecOcProfile, clock = manualClock(), options: Partial<ConstructorParameters<typeof SecOcReceiver>[0]> = {}) =>
  new SecOcReceiver({ key, dataId: 0x530, profile, authenticLength: 4, now: clock.now, ...options });

test('genuine PDUs verify in order; the verdict carries the payload and the full freshness', () => {
  const receiver = receiverFor(STATUS_FRAME_PROFILE);
  for (let freshness = 1n; freshness < 1000n; freshness += 1n) {
    const verdict = receiver.verify(buildSecuredPdu(key, 0x530, payload, freshness, STATUS_FRAME_PROFILE));
    assert.deepEqual(verdict, { result: 'verified', authenticPdu: payload, freshness });
  }
  assert.deepEqual(receiver.counters, { verified: 999, macFailures: 0, replays: 0, malformed: 0 });
  assert.equal(receiver.latestFreshness, 999n);
});

test('lost frames within a wrap are fine; a replay is counted as one and changes nothing', () => {
  const receiver = receiverFor(STATUS_FRAME_PROFILE);
  const recorded = buildSecuredPdu(key, 0x530, payload, 5n, STATUS_FRAME_PROFILE);
  assert.equal(receiver.verify(recorded).result, 'verified');
  assert.equal(receiver.verify(buildSecuredPdu(key, 0x530, payload, 200n, STATUS_FRAME_PROFILE)).result, 'verified');
  const again = receiver.verify(recorded);
  assert.equal(again.result, 'replay');
  assert.equal(receiver.verify(buildSecuredPdu(key, 0x530, payload, 200n, STATUS_FRAME_PROFILE)).result, 'replay');
  assert.equal(receiver.latestFreshness, 200n);
  assert.deepEqual(receiver.counters, { verified: 2, macFailures: 0, replays: 2, malformed: 0 });
});

test('forged MACs, another data id, another key, a changed payload: MAC failures', () => {
  const receiver = receiverFor(STATUS_FRAME_PROFILE);
  const genuine = buildSecuredPdu(key, 0x530, payload, 1n, STATUS_FRAME_PROFILE);
  const forged = Uint8Array.from(genuine);
  forged[7] = forged[7]! ^ 0x01;
  const changed = Uint8Array.from(genuine);
  changed[0] = 9;
  for (const pdu of [forged, changed, buildSecuredPdu(key, 0x531, payload, 1n, STATUS_FRAME_PROFILE), buildSecuredPdu(otherKey, 0x530, payload, 1n, STATUS_FRAME_PROFILE)]) {
    assert.equal(receiver.verify(pdu).result, 'mac-failure');
  }
  assert.deepEqual(receiver.counters, { verified: 0, macFailures: 4, replays: 0, malformed: 0 });
  assert.equal(receiver.verify(genuine).result, 'verified', 'the genuine one still verifies after the forgeries');
});

test('the wrong length is malformed; arbitrary bytes never throw and never verify', () => {
  const receiver = receiverFor(STATUS_FRAME_PROFILE);
  assert.equal(receiver.verify(new Uint8Array(7)).result, 'malformed');
  assert.equal(receiver.verify(new Uint8Array(0)).result, 'malformed');
  fc.assert(fc.property(fc.uint8Array({ maxLength: 16 }), (bytes) => {
    assert.notEqual(receiver.verify(bytes).result, 'verified');
  }));
  const { verified, macFailures, replays, malformed } = receiver.counters;
  assert.equal(verified, 0);
  assert.equal(macFailures + replays + malformed, 102);
});

test('resynchronisation: a sender that restarts one block ahead is found again, but only after a silence', async (t) => {
  const path = join(await tempDir(t), 'freshness.json');
  const clock = manualClock();
  const receiver = receiverFor(STATUS_FRAME_PROFILE, clock, { resyncAttempts: 16, resyncAfterSilenceMs: 1000 });
  const open = async () => new SecOcSender({ key, dataId: 0x530, profile: STATUS_FRAME_PROFILE, counter: await FreshnessCounter.open(path, { block: 4096 }) });
  const before = await open();
  for (let i = 0; i < 10; i += 1) {
    assert.equal(receiver.verify((await before.secure(payload)).securedPdu).result, 'verified');
    clock.advance(100);
  }
  const after = await open();                                  // a kill -9 and restart: continues at 4097
  const first = await after.secure(payload);
  assert.equal(first.freshness, 4097n);
  assert.equal(receiver.verify(first.securedPdu).result, 'mac-failure', 'not while the sender was heard 100 ms ago');
  clock.advance(1000);
  const second = await after.secure(payload);
  assert.deepEqual(receiver.verify(second.securedPdu), { result: 'verified', authenticPdu: payload, freshness: 4098n });
  clock.advance(100);
  assert.equal(receiver.verify((await after.secure(payload)).securedPdu).result, 'verified');
});

test('resynchronisation is bounded: 17 wraps ahead is never found', () => {
  const clock = manualClock();
  const receiver = receiverFor(STATUS_FRAME_PROFILE, clock, { resyncAttempts: 16 });
  assert.equal(receiver.verify(buildSecuredPdu(key, 0x530, payload, 16n * 256n + 5n, STATUS_FRAME_PROFILE)).result, 'verified');
  assert.equal(receiver.verify(buildSecuredPdu(key, 0x530, payload, 33n * 256n + 6n, STATUS_FRAME_PROFILE)).result, 'mac-failure');
  clock.advance(10_000);
  assert.equal(receiver.verify(buildSecuredPdu(key, 0x530, payload, 32n * 256n + 6n, STATUS_FRAME_PROFILE)).result, 'verified');
});

test('diagnostic profile: full freshness, any jump forward accepted, nothing old', () => {
  const receiver = receiverFor(DIAGNOSTIC_PROFILE, manualClock(), { authenticLength: undefined });
  const big = new Uint8Array(300).fill(0x42);
  assert.equal(receiver.verify(buildSecuredPdu(key, 0xf001, big, 1n, DIAGNOSTIC_PROFILE)).result, 'mac-failure', 'another data id');
  const r2 = new SecOcReceiver({ key, dataId: 0xf001, profile: DIAGNOSTIC_PROFILE });
  assert.equal(r2.verify(buildSecuredPdu(key, 0xf001, big, 1_000_000n, DIAGNOSTIC_PROFILE)).result, 'verified');
  assert.equal(r2.verify(buildSecuredPdu(key, 0xf001, big, 999_999n, DIAGNOSTIC_PROFILE)).result, 'replay');
  assert.equal(r2.verify(buildSecuredPdu(key, 0xf001, new Uint8Array(), 1_000_001n, DIAGNOSTIC_PROFILE)).result, 'verified');
});

test('the latest accepted freshness survives a receiver restart: old frames stay replays', async (t) => {
  const path = join(await tempDir(t), 'secoc-accepted.json');
  const file = await AcceptedFreshnessFile.open(path, { writeIntervalMs: 1000 });
  const receiver = receiverFor(STATUS_FRAME_PROFILE, manualClock(), { store: { file, entry: 'status:EDT/0x530' } });
  const recorded = [1n, 2n, 3n].map((freshness) => buildSecuredPdu(key, 0x530, payload, freshness, STATUS_FRAME_PROFILE));
  for (const pdu of recorded) assert.equal(receiver.verify(pdu).result, 'verified');
  await file.close();
  assert.deepEqual(JSON.parse(await readFile(path, 'utf8')), { accepted: { 'status:EDT/0x530': '3' } });

  const reopened = await AcceptedFreshnessFile.open(path);
  assert.equal(reopened.damaged, null);
  const restarted = receiverFor(STATUS_FRAME_PROFILE, manualClock(), { store: { file: reopened, entry: 'status:EDT/0x530' } });
  for (const pdu of recorded) assert.equal(restarted.verify(pdu).result, 'replay');
  assert.equal(restarted.verify(buildSecuredPdu(key, 0x530, payload, 4n, STATUS_FRAME_PROFILE)).result, 'verified');
  await reopened.close();
});

test('accepted values are written lazily: at most once per interval, and at once on flush', async (t) => {
  const path = join(await tempDir(t), 'secoc-accepted.json');
  const read = async () => JSON.parse(await readFile(path, 'utf8').catch(() => '{}')) as unknown;
  const until = async (expected: unknown) => {
    for (let i = 0; i < 300 && JSON.stringify(await read()) !== JSON.stringify(expected); i += 1) await sleep(10);
    return performance.now();
  };
  const file = await AcceptedFreshnessFile.open(path, { writeIntervalMs: 800 });
  const started = performance.now();
  file.set('a', 1n);
  await until({ accepted: { a: '1' } });
  assert.ok(performance.now() - started < 600, 'the first change goes out at once');
  file.set('a', 2n);
  file.set('b', 7n);
  file.set('a', 1n);                                           // never lowered
  const written = await until({ accepted: { a: '2', b: '7' } });
  assert.deepEqual(await read(), { accepted: { a: '2', b: '7' } });
  assert.ok(written - started >= 750, `second write ${Math.round(written - started)} ms after the first: not lazily`);
  file.set('b', 8n);
  await file.flush();
  assert.deepEqual(await read(), { accepted: { a: '2', b: '8' } });
  await file.close();
});

test('a damaged accepted-freshness file says so and starts from nothing', async (t) => {
  const path = join(await tempDir(t), 'secoc-accepted.json');
  await writeFile(path, '{"accepted": {"a": "x"}}');
  const file = await AcceptedFreshnessFile.open(path);
  assert.equal(file.damaged, 'not an accepted-freshness file');
  assert.equal(file.get('a'), undefined);
  await writeFile(path, '{');
  assert.match((await AcceptedFreshnessFile.open(path)).damaged ?? '', /^not JSON/);
});
