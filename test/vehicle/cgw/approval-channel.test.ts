import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac, randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { AcceptedFreshnessFile } from '../../../src/can/secoc/index.ts';
import {
  APPROVAL_ANSWER_DATA_ID, APPROVAL_FRESHNESS_BYTES, APPROVAL_MAC_BYTES, APPROVAL_REQUEST_DATA_ID, ApprovalChannelGateway,
  ApprovalChannelTester,
} from '../../../src/vehicle/cgw/approval-channel.ts';
import { ApprovalAuthenticationError, UnauthenticatedAnswerError } from '../../../src/vehicle/cgw/errors.ts';
import { standardVehicleConfig } from '../../../src/vehicle/config.ts';
import { loadEcuKeys } from '../../../src/vehicle/keys/ecu-keys.ts';
import { tempDir } from '../../support/temp-dir.ts';

const config = standardVehicleConfig('WCANTACHANNEL0001');
const START = 0x01;
const RESULT = 0x03;
const OFFER = 0xf001;
const GRANTS = 0xf003;

/** HMAC-SHA256(key, dataId (16 bits) ‖ controlType ‖ routineId (16 bits) ‖ record ‖ freshness (64 bits)), first 16 bytes: computed here independently. */
function expectedMac(key: Uint8Array, dataId: number, controlType: number, routineId: number, record: Uint8Array, freshness: bigint): Buffer {
  const head = Buffer.alloc(5);
  head.writeUInt16BE(dataId, 0);
  head.writeUInt8(controlType, 2);
  head.writeUInt16BE(routineId, 3);
  const fv = Buffer.alloc(8);
  fv.writeBigUInt64BE(freshness);
  return createHmac('sha256', key).update(head).update(record).update(fv).digest().subarray(0, 16);
}

async function channel(t: Parameters<typeof tempDir>[0]) {
  const stateDir = await tempDir(t);
  const tmuKeys = await loadEcuKeys(config, stateDir, 'TMU');
  const cgwKeys = await loadEcuKeys(config, stateDir, 'CGW');
  const tester = await ApprovalChannelTester.forTester(config, stateDir);
  const gateway = await ApprovalChannelGateway.open(cgwKeys, stateDir);
  t.after(async () => {
    await tester.close();
    await gateway.close();
  });
  return { stateDir, key: tmuKeys.get('approval'), cgwKeys, tester, gateway };
}

test('a request goes out as record ‖ 64-bit freshness ‖ 128-bit MAC over 0xA001 ‖ controlType ‖ routineId ‖ record ‖ freshness', async (t) => {
  const { key, tester, gateway } = await channel(t);
  assert.equal(APPROVAL_FRESHNESS_BYTES, 8);
  assert.equal(APPROVAL_MAC_BYTES, 16);
  const record = new Uint8Array(Buffer.from('{"campaign_id":"c-1"}'));
  const first = await tester.secure(START, OFFER, record);
  assert.equal(first.record.length, record.length + 8 + 16);
  assert.deepEqual(first.record.subarray(0, record.length), record);
  assert.equal(Buffer.from(first.record.subarray(record.length, record.length + 8)).readBigUInt64BE(), first.freshness);
  assert.deepEqual(Buffer.from(first.record.subarray(record.length + 8)), expectedMac(key, APPROVAL_REQUEST_DATA_ID, START, OFFER, record, first.freshness));
  // A routine id whose high byte is not 0xF0 and a control type other than 1: both are in the MAC as they are.
  const other = await tester.secure(RESULT, 0x1234, record);
  assert.ok(other.freshness > first.freshness, 'every request takes a new freshness');
  assert.deepEqual(Buffer.from(other.record.subarray(record.length + 8)), expectedMac(key, APPROVAL_REQUEST_DATA_ID, RESULT, 0x1234, record, other.freshness));

  const opened = await gateway.open(START, OFFER, first.record);
  assert.deepEqual(opened.record, record);
  assert.equal(opened.freshness, first.freshness);
  assert.deepEqual(gateway.counters, { verified: 1, macFailures: 0, replays: 0, malformed: 0 });
});

test('the CGW refuses a request for another routine or control type, a changed record, a replay and a short one, and counts each', async (t) => {
  const { tester, gateway } = await channel(t);
  const record = Uint8Array.of(0x01, 0x03, 0x45, 0x44, 0x54);
  const secured = await tester.secure(START, GRANTS, record);
  await assert.rejects(gateway.open(START, OFFER, secured.record), (error: unknown) =>
    error instanceof ApprovalAuthenticationError && /request not authenticated \(mac-failure\)/.test(error.message));
  await assert.rejects(gateway.open(RESULT, GRANTS, secured.record), ApprovalAuthenticationError);
  const changed = new Uint8Array(secured.record);
  changed[1] = 0x04;
  await assert.rejects(gateway.open(START, GRANTS, changed), /mac-failure/);
  await assert.rejects(gateway.open(START, GRANTS, secured.record.subarray(0, 10)), /\(malformed\)/);
  assert.deepEqual(gateway.counters, { verified: 0, macFailures: 3, replays: 0, malformed: 1 });

  assert.deepEqual((await gateway.open(START, GRANTS, secured.record)).record, record);
  await assert.rejects(gateway.open(START, GRANTS, secured.record), /\(replay\)/);
  assert.deepEqual(gateway.counters, { verified: 1, macFailures: 3, replays: 1, malformed: 1 });
});

test('the accepted freshness is on disk before the CGW acts: a request is not accepted again by a restarted CGW', async (t) => {
  const { stateDir, cgwKeys, tester, gateway } = await channel(t);
  const old = await tester.secure(START, OFFER, Uint8Array.of(1));
  const secured = await tester.secure(START, OFFER, Uint8Array.of(2));
  const { freshness } = await gateway.open(START, OFFER, secured.record);
  // Written by open() itself, not later: a power loss right after it cannot open a replay window.
  const file = JSON.parse(await readFile(join(stateDir, 'ecus', 'CGW', 'approval-accepted.json'), 'utf8')) as { accepted: Record<string, string> };
  assert.equal(BigInt(file.accepted.approval!), freshness);
  const restarted = await ApprovalChannelGateway.open(cgwKeys, stateDir);
  t.after(() => restarted.close());
  await assert.rejects(restarted.open(START, OFFER, secured.record), /\(replay\)/);
  await assert.rejects(restarted.open(START, OFFER, old.record), /\(replay\)/, 'an older request, never accepted, is not accepted after a newer one either');
  const next = await tester.secure(START, OFFER, Uint8Array.of(3));
  assert.deepEqual((await restarted.open(START, OFFER, next.record)).record, Uint8Array.of(3));
});

test('the TMU\'s freshness survives a restart: a new tester never reuses a value', async (t) => {
  const { stateDir, tester } = await channel(t);
  const before = await tester.secure(START, OFFER, Uint8Array.of(1));
  await tester.close();
  const file = JSON.parse(await readFile(join(stateDir, 'ecus', 'TMU', 'approval-freshness.json'), 'utf8')) as { reservedUpTo: string };
  assert.ok(BigInt(file.reservedUpTo) > before.freshness);
  const again = await ApprovalChannelTester.forTester(config, stateDir);
  t.after(() => again.close());
  assert.ok((await again.secure(START, OFFER, Uint8Array.of(1))).freshness > before.freshness);
});

test('an answer is sealed with a MAC over 0xA002 ‖ controlType ‖ routineId ‖ answer and the request\'s freshness; the TMU believes only that', async (t) => {
  const { key, tester, gateway } = await channel(t);
  const request = await tester.secure(RESULT, OFFER, new Uint8Array(0));
  const { freshness } = await gateway.open(RESULT, OFFER, request.record);
  const answer = Uint8Array.of(0x01);
  const sealed = gateway.seal(RESULT, OFFER, freshness, answer);
  assert.equal(sealed.length, 1 + 16);
  assert.equal(sealed[0], 0x01);
  assert.deepEqual(Buffer.from(sealed.subarray(1)), expectedMac(key, APPROVAL_ANSWER_DATA_ID, RESULT, OFFER, answer, freshness));
  assert.deepEqual(tester.open(RESULT, OFFER, freshness, sealed), answer);

  const refused = (routineId: number, controlType: number, fv: bigint, status: Uint8Array, message: RegExp) =>
    assert.throws(() => tester.open(controlType, routineId, fv, status), (error: unknown) => error instanceof UnauthenticatedAnswerError && message.test(error.message));
  // Bound to its request: another freshness (an old answer played back), routine or control type is refused.
  refused(OFFER, RESULT, freshness - 1n, sealed, /answer to routine 0xF001 is not authenticated by the CGW \(forged, replayed or damaged\)/);
  refused(OFFER, RESULT, freshness + 1n, sealed, /forged, replayed/);
  refused(GRANTS, RESULT, freshness, sealed, /routine 0xF003 .*forged, replayed/);
  refused(OFFER, START, freshness, sealed, /forged, replayed/);
  // A changed status byte ("declined" into "approved") or MAC byte is refused.
  const forged = new Uint8Array(sealed);
  forged[0] = 0x02;
  refused(OFFER, RESULT, freshness, forged, /forged, replayed/);
  const damaged = new Uint8Array(sealed);
  damaged[16]! ^= 0x80;
  refused(OFFER, RESULT, freshness, damaged, /forged, replayed/);
  // No MAC at all: too short.
  refused(OFFER, RESULT, freshness, Uint8Array.of(0x01), /routine 0xF001 is not authenticated by the CGW \(1 bytes, too short for a 16-byte MAC\)/);
  refused(OFFER, RESULT, freshness, sealed.subarray(0, 15), /15 bytes, too short/);
  // An empty answer is exactly its MAC, and is valid.
  const empty = gateway.seal(RESULT, OFFER, freshness, new Uint8Array(0));
  assert.equal(empty.length, 16);
  assert.deepEqual(tester.open(RESULT, OFFER, freshness, empty), new Uint8Array(0));
});

test('an answer sealed with another key is not the CGW\'s', async (t) => {
  const { tester } = await channel(t);
  const request = await tester.secure(START, OFFER, Uint8Array.of(7));
  const stranger = new ApprovalChannelGateway(new Uint8Array(randomBytes(32)), await AcceptedFreshnessFile.open(join(await tempDir(t), 'a.json')));
  t.after(() => stranger.close());
  await assert.rejects(stranger.open(START, OFFER, request.record), /mac-failure/);
  assert.throws(() => tester.open(START, OFFER, request.freshness, stranger.seal(START, OFFER, request.freshness, Uint8Array.of(0))), UnauthenticatedAnswerError);
});
