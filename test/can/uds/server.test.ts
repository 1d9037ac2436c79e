import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { RequestRejectedError, UdsServer, UdsServerConfigurationError, type Reply } from '../../../src/can/uds/index.ts';
import { bytes, hex, key, testEcu, testerAndEcu } from './support.ts';
import { IsoTpChannel } from '../../../src/can/isotp/index.ts';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import type { Logger } from '../../../src/logging/logger.ts';

/** Sends hex requests in order; returns the hex replies ('' when none, '(suppressed) …' when suppressed). */
async function run(server: UdsServer, ...requests: string[]): Promise<string[]> {
  const replies: string[] = [];
  for (const request of requests) {
    const reply: Reply | null = await server.handle(bytes(request));
    await reply?.after?.();
    replies.push(reply === null ? '' : `${reply.suppressed ? '(suppressed) ' : ''}${hex(reply.message)}`);
  }
  return replies;
}

async function last(server: UdsServer, ...requests: string[]): Promise<string> {
  return (await run(server, ...requests)).at(-1)!;
}

/** Unlocks level 1 (or `level`) through the real seed/key exchange. */
async function unlock(server: UdsServer, level = 1): Promise<void> {
  const seedReply = await server.handle(Uint8Array.of(0x27, level));
  const seed = seedReply!.message.subarray(2);
  const reply = await server.handle(Uint8Array.of(0x27, level + 1, ...key(seed)));
  assert.equal(hex(reply!.message), `67${(level + 1).toString(16).padStart(2, '0')}`);
}

function newServer(overrides = {}, flashSize?: number) {
  const { options, log } = testEcu(overrides, flashSize);
  const server = new UdsServer(options);
  return { server, log };
}

test('general behaviour: unknown SID 0x11, not in this session 0x7F, sub-function 0x12 / 0x7E, short request 0x13', async (t) => {
  const { server } = newServer();
  t.after(() => server.close());
  assert.equal(await last(server, '19 02 ff'), '7f1911', 'ReadDTCInformation is not implemented');
  assert.equal(await last(server, '7f 10'), '7f7f11');
  assert.equal(await last(server, '34 00 44 00000000 00000010'), '7f347f', 'download outside programming session');
  assert.equal(await last(server, '27 01'), '7f277f', 'security access in the default session');
  assert.equal(await last(server, '10 05'), '7f1012');
  assert.equal(await last(server, '10'), '7f1013');
  assert.equal(await last(server, '10 02', '10 03'), '7f107e', 'extended is not entered from programming');
  assert.equal(await last(server, '10 01', '10 03', '27 11'), '7f277e', 'level 0x11 only in the programming session');
  assert.equal(await last(server, '3e 01'), '7f3e12');
  assert.equal(await last(server, '11 04'), '7f1112', 'rapid power shutdown not supported');
  assert.equal(await last(server, ''), '', 'an empty request gets no answer');
});

test('0x10 sessions: timing in the response, suppressed positive response, veto with 0x22, S3 back to default', async (t) => {
  let vehicleMoving = false;
  const { server, log } = newServer({
    timing: { p2Ms: 40, p2StarMs: 2000, s3Ms: 60 },
    canEnterSession: (session: number) => { if (session === 2 && vehicleMoving) throw new RequestRejectedError(0x22, 'vehicle moving'); },
  });
  t.after(() => server.close());
  assert.equal(await last(server, '10 03'), '5003002800c8');
  assert.equal(server.session, 3);
  assert.equal(await last(server, '10 81'), '(suppressed) 5001002800c8');
  assert.equal(server.session, 1);
  vehicleMoving = true;
  assert.equal(await last(server, '10 02'), '7f1022', 'the application vetoes');
  vehicleMoving = false;
  assert.equal(await last(server, '10 03'), '5003002800c8');
  await sleep(30);
  await run(server, '3e 80');
  await sleep(40);
  assert.equal(server.session, 3, 'TesterPresent restarted S3');
  await sleep(60);
  assert.equal(server.session, 1, 'S3 expired');
  assert.deepEqual(log.sessions, [3, 1, 3, 1]);
});

test('0x11 ECUReset: answered first, then reset to the default session and locked', async (t) => {
  const { server, log } = newServer();
  t.after(() => server.close());
  await run(server, '10 03');
  await unlock(server);
  const reply = await server.handle(bytes('11 01'));
  assert.equal(hex(reply!.message), '5101');
  assert.deepEqual(log.resets, [], 'nothing reset before the response is out');
  await reply!.after!();
  assert.deepEqual(log.resets, [1]);
  assert.equal(server.session, 1);
  assert.equal(server.securityLevel, null);
  assert.equal(await last(server, '11 83'), '(suppressed) 5103');
});

test('0x11 ECUReset with resetAccess: 0x7F outside its sessions, 0x33 locked, canReset vetoes before the answer; no reset types: 0x11', async (t) => {
  let moving = false;
  const vetoed: number[] = [];
  const { server, log } = newServer({
    resetAccess: { sessions: [2, 3], security: 1 },
    canReset: (type: number) => {
      if (moving) {
        vetoed.push(type);
        throw new RequestRejectedError(0x22, 'vehicle moving');
      }
    },
  });
  t.after(() => server.close());
  assert.equal(await last(server, '11 01'), '7f117f', 'not in the default session');
  assert.equal(await last(server, '10 03', '11 01'), '7f1133', 'extended, but locked');
  await unlock(server);
  moving = true;
  assert.equal(await last(server, '11 01'), '7f1122', 'the application vetoes');
  assert.deepEqual([vetoed, log.resets, server.securityLevel], [[1], [], 1], 'a vetoed reset resets nothing');
  moving = false;
  assert.equal(await last(server, '11 01'), '5101');
  assert.deepEqual(log.resets, [1]);

  const { server: plain } = newServer({ resetTypes: [] });
  t.after(() => plain.close());
  assert.equal(await last(plain, '11 01'), '7f1111', 'a server without reset types does not serve ECUReset');
  assert.equal(await last(plain, '10 03', '11 01'), '7f1111');
});

/** An attempt store in memory whose saves resolve only when the test releases them. */
class HeldStore {
  saved: { failedAttempts: number; delayedUntil: number } | null = null;
  loadError: Error | null = null;
  saveError: Error | null = null;
  readonly held: (() => void)[] = [];
  hold = false;

  load() {
    if (this.loadError) throw this.loadError;
    return this.saved;
  }

  async save(attempts: { failedAttempts: number; delayedUntil: number }): Promise<void> {
    if (this.hold) await new Promise<void>((resolve) => this.held.push(resolve));
    if (this.saveError) throw this.saveError;
    this.saved = { ...attempts };
  }
}

function captureLogs(): { logger: Logger; lines: { level: number; msg: string }[] } {
  const lines: { level: number; msg: string }[] = [];
  const logger = pino({ level: 'debug' }, new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString('utf8').split('\n').filter(Boolean)) lines.push(JSON.parse(line) as { level: number; msg: string });
      done();
    },
  }));
  return { logger, lines };
}

test('0x27 with an attempt store: each wrong key is saved before its NRC goes out, and a new server (a reboot) keeps count and delay', async (t) => {
  const store = new HeldStore();
  let clock = Date.parse('2030-01-01T00:00:00Z');
  const security = { secret: 'edt-test-secret', maxAttempts: 3, delayMs: 10_000, attempts: store, now: () => clock };
  const boot = () => {
    const { server } = newServer({ security });
    t.after(() => server.close());
    return server;
  };
  let server = boot();
  await run(server, '10 03', '27 01');
  store.hold = true;
  let answered = false;
  const reply = server.handle(bytes('27 02 00112233445566778899aabbccddeeff')).then((value) => { answered = true; return value; });
  await sleep(20);
  assert.equal(answered, false, 'no answer while the count is being saved');
  store.held.shift()!();
  assert.equal(hex((await reply)!.message), '7f2735');
  store.hold = false;
  assert.deepEqual(store.saved, { failedAttempts: 1, delayedUntil: clock });

  // Power cycle after one wrong key: the next one is the second, the one after it the third.
  server = boot();
  assert.equal(await last(server, '10 03', '27 01', '27 02 00112233445566778899aabbccddeeff'), '7f2735');
  server = boot();
  assert.equal(await last(server, '10 03', '27 01', '27 02 00112233445566778899aabbccddeeff'), '7f2736');
  assert.deepEqual(store.saved, { failedAttempts: 0, delayedUntil: clock + 10_000 });
  clock += 4000;
  server = boot();
  assert.equal(await last(server, '10 03', '27 01'), '7f2737', 'the delay outlives the reboot');
  clock += 6000;
  assert.match(await last(server, '27 01'), /^6701/, 'and ends when it is over');
  await unlock(server);
  assert.equal(server.securityLevel, 1);

  // A right key after wrong ones clears the stored count.
  server = boot();
  await run(server, '10 03', '27 01', '27 02 00112233445566778899aabbccddeeff');
  assert.equal(store.saved?.failedAttempts, 1);
  await unlock(server);
  assert.equal(store.saved?.failedAttempts, 0);
});

test('0x27 with an attempt store fails closed: unreadable state, a delay from a clock set back, a save that fails', async (t) => {
  const store = new HeldStore();
  let clock = Date.parse('2030-01-01T00:00:00Z');
  const { logger, lines } = captureLogs();
  const boot = () => {
    const { server } = newServer({ logger, security: { secret: 'edt-test-secret', maxAttempts: 3, delayMs: 10_000, attempts: store, now: () => clock } });
    t.after(() => server.close());
    return server;
  };
  store.loadError = new Error('security-access.json: unexpected end of JSON input');
  let server = boot();
  assert.equal(await last(server, '10 03', '27 01'), '7f2737', 'unreadable: the full delay');
  assert.ok(lines.some((line) => line.level === 50 && line.msg === 'security-access attempts unreadable: locked for the full delay'));
  clock += 10_000;
  assert.match(await last(server, '27 01'), /^6701/);

  store.loadError = null;
  store.saved = { failedAttempts: Number.NaN, delayedUntil: 0 };
  server = boot();
  assert.equal(await last(server, '10 03', '27 01'), '7f2737', 'not a count: the full delay');

  // A delay far in the future (the clock was set back a year) lasts one delay, not a year.
  store.saved = { failedAttempts: 0, delayedUntil: clock + 365 * 86_400_000 };
  server = boot();
  assert.equal(await last(server, '10 03', '27 01'), '7f2737');
  clock += 10_000;
  assert.match(await last(server, '27 01'), /^6701/);

  // A wrong key whose count cannot be saved: no further guesses now.
  store.saveError = new Error('ENOSPC: no space left on device');
  assert.equal(await last(server, '27 02 00112233445566778899aabbccddeeff'), '7f2736');
  assert.equal(await last(server, '27 01'), '7f2737');
  assert.ok(lines.some((line) => line.level === 50 && line.msg === 'security-access attempts not saved: locked for the full delay'));
});

test('0x27 SecurityAccess: seed/key, zero seed when unlocked, 0x24, 0x35, 0x36, 0x37, 0x13', async (t) => {
  const { server } = newServer();
  t.after(() => server.close());
  await run(server, '10 03');
  assert.equal(await last(server, '27 02 00112233445566778899aabbccddeeff'), '7f2724', 'sendKey before requestSeed');
  await unlock(server);
  assert.equal(server.securityLevel, 1);
  assert.equal(await last(server, '27 01'), '6701' + '00'.repeat(16), 'already unlocked: zero seed');
  await run(server, '10 03');
  assert.equal(server.securityLevel, null, 'a session change locks again');
  assert.equal(await last(server, '27 01', '27 02 0102'), '7f2713', 'wrong key length');
  assert.equal(await last(server, '27 02 00112233445566778899aabbccddeeff'), '7f2724', 'the seed was used up');
  assert.equal(await last(server, '27 01', '27 02 00112233445566778899aabbccddeeff'), '7f2735');
  assert.equal(await last(server, '27 01', '27 02 00112233445566778899aabbccddeeff'), '7f2735');
  assert.equal(await last(server, '27 01', '27 02 00112233445566778899aabbccddeeff'), '7f2736', 'third wrong key');
  assert.equal(await last(server, '27 01'), '7f2737', 'delay timer running');
  await sleep(220);
  await unlock(server);
});

test('a security level no tester could request (even, or past 0x41) is refused when the server is built', () => {
  for (const level of [2, 0x43, 0]) {
    assert.throws(() => new UdsServer({ security: { secret: 'x'.repeat(16), levels: { [level]: {} } } }), UdsServerConfigurationError, String(level));
  }
  assert.doesNotThrow(() => new UdsServer({ security: { secret: 'x'.repeat(16), levels: { 0x41: {} } } }).close());
});

test('a server listens on one channel pair only: a second listen() is refused', (t) => {
  const { server, ecuBus } = testerAndEcu(t, {});
  const other = new IsoTpChannel(ecuBus, { txId: 0x739, rxId: 0x731 });
  t.after(() => other.close());
  assert.throws(() => server.listen(other), UdsServerConfigurationError);
});

test('0x22 / 0x2E data identifiers: 0x31, 0x33, 0x13, 0x22, 0x72 and multi-DID reads', async (t) => {
  const { server, log } = newServer();
  t.after(() => server.close());
  assert.equal(await last(server, '22 f189'), '62f189' + hex(new TextEncoder().encode('2.0.0')));
  assert.equal(await last(server, '22 f189 1234 f190'), '62f189' + hex(new TextEncoder().encode('2.0.0')) + 'f190' + hex(log.vin), 'unknown DIDs are skipped');
  assert.equal(await last(server, '22 1234'), '7f2231');
  assert.equal(await last(server, '22 f18c'), '7f2233');
  assert.equal(await last(server, '22 0101'), '7f2222');
  assert.equal(await last(server, '22 f1'), '7f2213');
  assert.equal(await last(server, '22' + 'f189'.repeat(17)), '7f2213', 'more DIDs than allowed');
  const vin = hex(new TextEncoder().encode('WVWZZZ1JZXW999999'));
  assert.equal(await last(server, `2e f190 ${vin}`), '7f2e31', 'not writable in the default session');
  await run(server, '10 03');
  assert.equal(await last(server, `2e f190 ${vin}`), '7f2e33');
  await unlock(server);
  assert.equal(await last(server, '2e f190 5756'), '7f2e13');
  assert.equal(await last(server, `2e f190 ${vin}`), '6ef190');
  assert.equal(hex(log.vin), vin);
  assert.equal(await last(server, '2e 0101 00'), '7f2e72');
  assert.equal(await last(server, '2e f189 00'), '7f2e31', 'read-only DID');
  assert.equal(await last(server, '22 f18c'), '62f18c0102');
});

test('0x31 routines: start/results/stop, 0x24 before start, 0x12 for a missing control type, 0x31, 0x33, 0x10', async (t) => {
  const { server, log } = newServer();
  t.after(() => server.close());
  assert.equal(await last(server, '31 03 ff01'), '7f3124');
  assert.equal(await last(server, '31 01 ff01'), '7101ff0100');
  assert.equal(await last(server, '31 03 ff01'), '7103ff0101');
  assert.equal(await last(server, '31 02 ff01'), '7f3112');
  assert.equal(await last(server, '31 01 ff00'), '7f3131', 'erase exists only in the programming session');
  assert.equal(await last(server, '31 01 abcd'), '7f3131');
  assert.equal(await last(server, '31 01 ff'), '7f3113');
  assert.equal(await last(server, '31 04 ff01'), '7f3112');
  assert.equal(await last(server, '31 01 0202'), '7f3110', 'a crashing routine is a generalReject');
  await run(server, '10 02');
  assert.equal(await last(server, '31 01 ff00'), '7f3133');
  await unlock(server, 0x11);
  assert.equal(await last(server, '31 01 ff00'), '7101ff0000');
  assert.equal(log.erased, 1);
});

test('download state machine: 0x34 → 0x36… → 0x37 with every misuse NRC', async (t) => {
  const { server, log } = newServer({}, 2000);
  t.after(() => server.close());
  await run(server, '10 02');
  assert.equal(await last(server, '34 00 44 00000000 00000200'), '7f3433', 'locked');
  await unlock(server, 0x11);
  assert.equal(await last(server, '36 01 00'), '7f3624', 'TransferData without RequestDownload');
  assert.equal(await last(server, '37'), '7f3724', 'RequestTransferExit without RequestDownload');
  assert.equal(await last(server, '34 00 44 00000000 00001000'), '7f3431', 'outside the flash (application)');
  assert.equal(await last(server, '34 10 44 00000000 00000100'), '7f3431', 'compressed data not supported');
  assert.equal(await last(server, '34 00 00 00 00'), '7f3431', 'bad addressAndLengthFormatIdentifier');
  assert.equal(await last(server, '34 00 44 00000000'), '7f3413');
  assert.equal(await last(server, '34 00 44 0000dead 00000010'), '7f3470', 'refused by the application');
  assert.equal(await last(server, '34 00 44 00000000 00000000'), '7f3431', 'memorySize 0');
  assert.equal(await last(server, '34 00 22 0000 0200'), '74200102');
  assert.equal(await last(server, '34 00 22 0000 0200'), '7f3422', 'already downloading');
  const block = (counter: string, length: number, fill = 'ab') => `36 ${counter} ${fill.repeat(length)}`;
  assert.equal(await last(server, block('02', 256)), '7f3673', 'first block must be 0x01');
  assert.equal(await last(server, block('01', 257)), '7f3613', 'longer than maxNumberOfBlockLength');
  assert.equal(await last(server, '36 01'), '7f3613', 'no data');
  assert.equal(await last(server, block('01', 256)), '7601');
  assert.equal(await last(server, block('01', 256)), '7601', 'a repeated block is acknowledged');
  assert.equal(log.writes.length, 1, '… and not written twice');
  assert.equal(await last(server, '37'), '7f3724', 'not all data yet');
  assert.equal(await last(server, block('03', 256)), '7f3673');
  assert.equal(await last(server, block('02', 256, 'cd')), '7602');
  assert.equal(await last(server, block('03', 1)), '7f3624', 'all memorySize bytes already transferred');
  assert.equal(await last(server, '37'), '77c0');
  assert.equal(server.downloadActive, false);
  assert.equal(hex(log.flash.subarray(0, 512)), 'ab'.repeat(256) + 'cd'.repeat(256));

  assert.equal(await last(server, '34 00 22 0000 0100', block('01', 200), block('02', 100)), '7f3671', 'more data than memorySize');
  assert.equal(server.downloadActive, false, 'the transfer was suspended');
  assert.equal(await last(server, '34 00 22 0000 0100', block('01', 10, 'dead')), '7f3672', 'flash write failed');
  assert.equal(server.downloadActive, false);
  assert.equal(await last(server, '34 00 22 0000 0100', '10 03'), '7f107e');
  assert.equal(await last(server, '10 02'), '5002003201f4');
  assert.equal(server.downloadActive, false, 'a session change ends the download');
});

test('block sequence counter wraps 0xFF → 0x00 over 300 blocks', async (t) => {
  const { server, log } = newServer({}, 64 * 1024);
  t.after(() => server.close());
  await run(server, '10 02');
  await unlock(server, 0x11);
  const blocks = 300;
  assert.equal(await last(server, `34 00 22 0000 ${(blocks * 10).toString(16).padStart(4, '0')}`), '74200102');
  for (let index = 0; index < blocks; index += 1) {
    const counter = (index + 1) & 0xff;
    const reply = await server.handle(Uint8Array.of(0x36, counter, ...new Uint8Array(10).fill(index & 0xff)));
    assert.equal(hex(reply!.message), `76${counter.toString(16).padStart(2, '0')}`, `block ${index}`);
  }
  assert.equal(log.writes[255]!.counter, 0x00);
  assert.equal(log.writes[256]!.counter, 0x01);
  assert.equal(await last(server, '37'), '77c0');
});

test('0x28, 0x85 and 0x14: state for the application, 0x31 for bad parameters, defaults restored in the default session', async (t) => {
  const { server } = newServer();
  t.after(() => server.close());
  assert.equal(await last(server, '85 02'), '7f857f');
  await run(server, '10 03');
  assert.equal(await last(server, '85 02'), 'c502');
  assert.equal(server.dtcSettingOn, false);
  assert.equal(await last(server, '85 01 ff'), '7f8531');
  assert.equal(await last(server, '85 03'), '7f8512');
  assert.equal(await last(server, '28 03 01'), '6803');
  assert.deepEqual(server.communication, { controlType: 3, communicationType: 1 });
  assert.equal(await last(server, '28 01 00'), '7f2831');
  assert.equal(await last(server, '28 04 01 0001'), '7f2812');
  assert.equal(await last(server, '28 83 03'), '(suppressed) 6803');
  await run(server, '10 01');
  assert.equal(server.dtcSettingOn, true);
  assert.deepEqual(server.communication, { controlType: 0, communicationType: 3 });
  assert.equal(await last(server, '14 ffffff'), '54');
  assert.equal(await last(server, '14 000100'), '7f1431');
  assert.equal(await last(server, '14 ff'), '7f1413');
});

test('functional addressing suppresses 0x11, 0x12, 0x31, 0x7E, 0x7F but not other NRCs', async (t) => {
  const { server } = newServer();
  t.after(() => server.close());
  const functional = async (request: string) => {
    const reply = await server.handle(bytes(request), 'functional');
    return reply === null ? '' : `${reply.suppressed ? '(suppressed) ' : ''}${hex(reply.message)}`;
  };
  assert.equal(await functional('19 02'), '(suppressed) 7f1911');
  assert.equal(await functional('10 09'), '(suppressed) 7f1012');
  assert.equal(await functional('22 9999'), '(suppressed) 7f2231');
  assert.equal(await functional('34 00 11 00 01'), '(suppressed) 7f347f');
  assert.equal(await functional('10'), '7f1013');
  assert.equal(await functional('3e 80'), '(suppressed) 7e00');
  assert.equal(await functional('22 f189'), '62f189' + hex(new TextEncoder().encode('2.0.0')));
});
