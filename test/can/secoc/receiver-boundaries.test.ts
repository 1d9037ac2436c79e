/**
 * The SecOC receiver's and the freshness reconstruction's edges (found by mutation testing, docs/testing.md):
 * the defaults, the silence boundary, what each verdict says, and the values on either side of every limit.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  AcceptedFreshnessFile, DEFAULT_RESYNC_AFTER_SILENCE_MS, DEFAULT_RESYNC_ATTEMPTS, DIAGNOSTIC_PROFILE, STATUS_FRAME_PROFILE, SecOcProfileError,
  SecOcReceiver, buildSecuredPdu, freshnessCandidates, replayCandidate, type SecOcProfile,
} from '../../../src/can/secoc/index.ts';
import { tempDir } from '../../support/temp-dir.ts';

const key = Uint8Array.from({ length: 32 }, (_, i) => 255 - i);
const payload = Uint8Array.of(9, 8, 7, 6);
const MAX = (1n << 64n) - 1n;

function manualClock() {
  let now = 0;
  return { now: () => now, advance: (ms: number) => { now += ms; } };
}

const pdu = (freshness: bigint, profile: SecOcProfile = STATUS_FRAME_PROFILE, dataId = 0x530, authentic = payload) =>
  buildSecuredPdu(key, dataId, authentic, freshness, profile);

test('defaults: 16 further upper parts after a silence of 1 s', () => {
  assert.equal(DEFAULT_RESYNC_ATTEMPTS, 16);
  assert.equal(DEFAULT_RESYNC_AFTER_SILENCE_MS, 1000);
  const clock = manualClock();
  const receiver = new SecOcReceiver({ key, dataId: 0x530, profile: STATUS_FRAME_PROFILE, now: clock.now });
  // Nothing heard yet counts as a silence: a sender 16 wraps ahead is found at once, 17 is not.
  assert.equal(receiver.verify(pdu(17n * 256n + 1n)).result, 'mac-failure');
  assert.equal(receiver.verify(pdu(16n * 256n + 1n)).result, 'verified');
  assert.equal(receiver.lastVerifiedAt, 0);
  clock.advance(999);
  assert.equal(receiver.verify(pdu(18n * 256n + 2n)).result, 'mac-failure', '999 ms is no silence yet');
  clock.advance(1);
  assert.equal(receiver.verify(pdu(18n * 256n + 2n)).result, 'verified', '1000 ms is');
  assert.equal(receiver.lastVerifiedAt, 1000);
});

test('without a clock of its own the receiver uses the monotonic clock', async () => {
  const receiver = new SecOcReceiver({ key, dataId: 0x530, profile: STATUS_FRAME_PROFILE, resyncAfterSilenceMs: 30 });
  const before = performance.now();
  assert.equal(receiver.verify(pdu(1n)).result, 'verified');
  const at = receiver.lastVerifiedAt!;
  assert.ok(at >= before && at <= performance.now(), `lastVerifiedAt ${at}`);
  assert.equal(receiver.verify(pdu(3n * 256n + 1n)).result, 'mac-failure', 'just heard: one candidate only');
  await sleep(40);
  assert.equal(receiver.verify(pdu(3n * 256n + 2n)).result, 'verified', 'after the silence: resynchronised');
});

test('resyncAttempts 0 turns resynchronisation off', () => {
  const receiver = new SecOcReceiver({ key, dataId: 0x530, profile: STATUS_FRAME_PROFILE, now: () => 0, resyncAttempts: 0 });
  assert.equal(receiver.verify(pdu(256n + 1n)).result, 'mac-failure');
  assert.equal(receiver.verify(pdu(255n)).result, 'verified');
});

test('each verdict says why: malformed lengths, the candidates tried, the replayed freshness', () => {
  const clock = manualClock();
  const exact = new SecOcReceiver({ key, dataId: 0x530, profile: STATUS_FRAME_PROFILE, authenticLength: 4, now: clock.now });
  assert.deepEqual(exact.verify(new Uint8Array(9)), { result: 'malformed', reason: '9 bytes; a secured PDU of profile status-frame has exactly 8' });
  const any = new SecOcReceiver({ key, dataId: 0xf001, profile: DIAGNOSTIC_PROFILE, now: clock.now });
  assert.deepEqual(any.verify(new Uint8Array(23)), { result: 'malformed', reason: '23 bytes; a secured PDU of profile diagnostic has at least 24' });

  const forged = pdu(5n);
  forged[7] = forged[7]! ^ 0xff;
  assert.deepEqual(exact.verify(forged), {
    result: 'mac-failure', authenticPdu: payload, reason: 'MAC does not match (17 freshness candidates after 0)',
  });
  assert.equal(exact.verify(pdu(5n)).result, 'verified');
  assert.deepEqual(exact.verify(forged), {
    result: 'mac-failure', authenticPdu: payload, reason: 'MAC does not match (1 freshness candidate after 5)',
  });
  assert.deepEqual(exact.verify(pdu(5n)), { result: 'replay', authenticPdu: payload, freshness: 5n, reason: 'freshness 5 is not newer than 5' });
  assert.deepEqual(exact.counters, { verified: 1, macFailures: 2, replays: 1, malformed: 1 });

  // Full freshness: one candidate whatever the silence.
  const diagnostic = pdu(7n, DIAGNOSTIC_PROFILE, 0xf001);
  diagnostic[diagnostic.length - 1] = diagnostic[diagnostic.length - 1]! ^ 0x01;
  assert.equal((any.verify(diagnostic) as { reason: string }).reason, 'MAC does not match (1 freshness candidate after 0)');
  assert.deepEqual(any.verify(pdu(7n, DIAGNOSTIC_PROFILE, 0xf001)), { result: 'verified', authenticPdu: payload, freshness: 7n });
  assert.equal(any.verify(pdu(7n, DIAGNOSTIC_PROFILE, 0xf001)).result, 'replay', 'the same freshness again');
});

test('an invalid profile is refused when the receiver is built', () => {
  assert.throws(() => new SecOcReceiver({ key, dataId: 1, profile: { name: 'odd', macBits: 12, freshnessBits: 8 } }), SecOcProfileError);
});

test('a stored latest freshness is where a new receiver starts; without a stored one it starts at 0', async (t) => {
  const file = await AcceptedFreshnessFile.open(join(await tempDir(t), 'accepted.json'));
  file.set('x', 300n);
  const restored = new SecOcReceiver({ key, dataId: 0x530, profile: STATUS_FRAME_PROFILE, now: () => 0, store: { file, entry: 'x' } });
  assert.equal(restored.latestFreshness, 300n);
  assert.equal(restored.verify(pdu(300n)).result, 'replay');
  assert.equal(restored.verify(pdu(301n)).result, 'verified');
  assert.equal(file.get('x'), 301n, 'and what it accepts goes back to the store');
  const fresh = new SecOcReceiver({ key, dataId: 0x530, profile: STATUS_FRAME_PROFILE, now: () => 0, store: { file, entry: 'y' } });
  assert.equal(fresh.latestFreshness, 0n);
  assert.equal(fresh.lastVerifiedAt, null);
  // A monitor that learnt where the sender stands starts there, unless the store knows better.
  const monitor = new SecOcReceiver({ key, dataId: 0x530, profile: STATUS_FRAME_PROFILE, now: () => 0, initialFreshness: 500n });
  assert.equal(monitor.latestFreshness, 500n);
  assert.equal(monitor.verify(pdu(500n)).result, 'replay');
  const stored = new SecOcReceiver({ key, dataId: 0x530, profile: STATUS_FRAME_PROFILE, now: () => 0, initialFreshness: 5n, store: { file, entry: 'x' } });
  assert.equal(stored.latestFreshness, 301n);
  const unstored = new SecOcReceiver({ key, dataId: 0x530, profile: STATUS_FRAME_PROFILE, now: () => 0, initialFreshness: 5n, store: { file, entry: 'z' } });
  assert.equal(unstored.latestFreshness, 5n);
  await file.close();
});

test('freshnessCandidates: at least one candidate, never the latest itself, never past 2^64 - 1', () => {
  assert.deepEqual(freshnessCandidates(0x1210n, 0x20n, 8, 0), [0x1220n], 'attempts below 1 still try the first');
  assert.deepEqual(freshnessCandidates(0x1210n, 0x1220n, 8), [0x1220n], 'only the low bits of what arrived count');
  assert.deepEqual(freshnessCandidates(0x12_3456n, 0x3457n, 16, 2), [0x12_3457n, 0x13_3457n]);
  assert.deepEqual(freshnessCandidates(MAX - 1n, MAX, 64), [MAX]);
  assert.deepEqual(freshnessCandidates(MAX - 0x100n, 0xffn, 8, 3), [MAX]);
  assert.deepEqual(freshnessCandidates(MAX - 0x1ffn, 0xffn, 8, 3), [MAX - 0x100n, MAX]);
});

test('replayCandidate: the latest itself is a replay; only the transmitted low bits count', () => {
  assert.equal(replayCandidate(10n, 10n, 64), 10n);
  assert.equal(replayCandidate(0x1234n, 0x34n, 8), 0x1234n);
  assert.equal(replayCandidate(0x1234n, 0x1235n, 8), 0x1135n, 'low bits 0x35 are newer in this wrap: the previous one');
  assert.equal(replayCandidate(0x1234n, 0x35n, 8), 0x1135n);
  assert.equal(replayCandidate(0x12_3456n, 0x3455n, 16), 0x12_3455n);
  assert.equal(replayCandidate(0x34n, 0x35n, 8), null, 'before the first wrap nothing was accepted with those bits');
  assert.equal(replayCandidate(0x100n, 0x00n, 8), 0x100n);
  assert.equal(replayCandidate(0x100n, 0x01n, 8), 0x01n);
});
