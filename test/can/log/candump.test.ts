import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { FD_LENGTHS, VirtualBus, VirtualNetwork, canFrame, type CanFrame } from '../../../src/can/bus/index.ts';
import {
  CandumpFormatError, CandumpWriter, formatCandumpLine, parseCandump, parseCandumpLine, readCandump,
} from '../../../src/can/log/index.ts';
import { tempDir } from '../../support/temp-dir.ts';
import { frameFromJson, frameToJson, sampleFrames, type FrameJson } from '../bus/fixtures/frame-json.ts';

const pythonLog = fileURLToPath(new URL('./fixtures/python_can_log.py', import.meta.url));

test('writes candump lines: 3/8-digit ids, ## with flags for FD, R for remote, CAN_ERR_FLAG for errors', () => {
  const line = (init: Parameters<typeof canFrame>[0]) => formatCandumpLine(canFrame({ timestamp: 1700000000.123456, channel: 'cant', ...init }));
  assert.equal(line({ id: 0x720, data: [0x02, 0x10, 0x02, 0, 0, 0, 0, 0] }), '(1700000000.123456) cant 720#0210020000000000');
  assert.equal(line({ id: 0x18daf110, extended: true, data: [0xa1] }), '(1700000000.123456) cant 18DAF110#A1');
  assert.equal(line({ id: 0x5, extended: true }), '(1700000000.123456) cant 00000005#');
  assert.equal(line({ id: 0x730, fd: true, brs: true, data: new Uint8Array(12).fill(0xcc) }), `(1700000000.123456) cant 730##1${'CC'.repeat(12)}`);
  assert.equal(line({ id: 0x730, fd: true, brs: true, esi: true }), '(1700000000.123456) cant 730##3');
  assert.equal(line({ id: 0x730, fd: true, data: [1] }), '(1700000000.123456) cant 730##001');
  assert.equal(line({ id: 0x123, remote: true }), '(1700000000.123456) cant 123#R');
  assert.equal(line({ id: 0x123, remote: true, dlc: 8 }), '(1700000000.123456) cant 123#R8');
  assert.equal(line({ id: 0x004, error: true, data: [0, 4, 0, 0, 0, 0, 0, 0] }), '(1700000000.123456) cant 20000004#0004000000000000');
  // candump pads seconds to 10 digits; microseconds round, carrying into the seconds.
  assert.equal(formatCandumpLine(canFrame({ id: 1, timestamp: 1.5, channel: 'x' })), '(0000000001.500000) x 001#');
  assert.equal(formatCandumpLine(canFrame({ id: 1, timestamp: 2.9999996, channel: 'x' })), '(0000000003.000000) x 001#');
  assert.equal(formatCandumpLine(canFrame({ id: 1 }), { channel: 'canb', timestamp: 7 }), '(0000000007.000000) canb 001#');
  assert.throws(() => formatCandumpLine(canFrame({ id: 1, timestamp: 1 })), /interface name/);
  assert.throws(() => formatCandumpLine(canFrame({ id: 1, channel: 'a b', timestamp: 1 })), /interface name/);
  assert.throws(() => formatCandumpLine(canFrame({ id: 1, channel: 'x' })), /without a timestamp/);
});

test('reads candump lines, python-can\'s direction suffix, dotted and lower-case data', () => {
  const frame = parseCandumpLine('(1700000000.123456) cant 720#0210020000000000');
  assert.deepEqual(frame, canFrame({ id: 0x720, data: [2, 0x10, 2, 0, 0, 0, 0, 0], timestamp: 1700000000.123456, channel: 'cant' }));
  assert.deepEqual(parseCandumpLine('(0.000000) vcan0 18daf110#a1.b2 R'), canFrame({ id: 0x18daf110, extended: true, data: [0xa1, 0xb2], timestamp: 0, channel: 'vcan0' }));
  assert.deepEqual(parseCandumpLine('(1.5) can0 123#R4 T'), canFrame({ id: 0x123, remote: true, dlc: 4, timestamp: 1.5, channel: 'can0' }));
  assert.deepEqual(parseCandumpLine('(1.5) can0 730##5CCCCCCCCCCCCCCCCCCCCCCCC'), canFrame({ id: 0x730, fd: true, brs: true, data: new Uint8Array(12).fill(0xcc), timestamp: 1.5, channel: 'can0' }));
  assert.deepEqual(parseCandumpLine('(1.5) can0 20000080#'), canFrame({ id: 0x80, error: true, timestamp: 1.5, channel: 'can0' }));
  assert.deepEqual(parseCandumpLine('  (1.5)   can0   001#  '), canFrame({ id: 1, timestamp: 1.5, channel: 'can0' }));
});

test('bad lines fail with the reason and the line number', () => {
  const cases: Array<[string, RegExp]> = [
    ['hello', /not a candump line/],
    ['(1.5) can0 720', /no '#'/],
    ['(1.5) can0 72#00', /3 hex digits/],
    ['(1.5) can0 800#00', /11-bit range/],
    ['(1.5) can0 7G0#00', /3 hex digits/],
    ['(1.5) can0 123#0', /odd number/],
    ['(1.5) can0 123#zz', /not hex/],
    ['(1.5) can0 123#000000000000000000', /at most 8 bytes/],
    ['(1.5) can0 123##1000000000000000000', /CAN FD frame carries/],
    ['(1.5) can0 123##', /flags nibble/],
    ['(1.5) can0 123##1R', /no remote frames/],
    ['(1.5) can0 123#R9', /one digit 0-8/],
    ['(1.5) can0 123###00', /CAN XL/],
    ['(1.5) can0 C0000000#00', /flag bits/],
    ['(1.5) can0 20000004##000', /error frame cannot be CAN FD/],
    ['(1.5) can0 123#00 X', /not a candump line/],
  ];
  for (const [line, reason] of cases) {
    assert.throws(() => parseCandumpLine(line), (error: unknown) => error instanceof CandumpFormatError && reason.test(error.message), line);
  }
  assert.throws(() => parseCandump('(1.0) a 001#\n\n(2.0) a 002#\n(3.0) a 1234#00\n'),
    (error: unknown) => error instanceof CandumpFormatError && error.lineNumber === 4 && /^line 4: id "1234"/.test(error.message));
});

/** Any frame canFrame accepts, with a microsecond timestamp and an interface name. */
const anyFrame = fc.record({
  kind: fc.constantFrom('classic', 'fd', 'remote', 'error'),
  extended: fc.boolean(), standardId: fc.integer({ min: 0, max: 0x7ff }), extendedId: fc.integer({ min: 0, max: 0x1fffffff }),
  brs: fc.boolean(), esi: fc.boolean(), fdLength: fc.constantFrom(...FD_LENGTHS), data: fc.uint8Array({ minLength: 64, maxLength: 64 }),
  dlc: fc.integer({ min: 0, max: 8 }), micros: fc.integer({ min: 0, max: 4_102_444_800_000_000 }),
  channel: fc.stringMatching(/^[a-z][a-z0-9_-]{0,14}$/),
}).map(({ kind, extended, standardId, extendedId, brs, esi, fdLength, data, dlc, micros, channel }): CanFrame => {
  const id = extended ? extendedId : standardId;
  const common = { timestamp: micros / 1e6, channel };
  switch (kind) {
    case 'fd': return canFrame({ ...common, id, extended, fd: true, brs, esi, data: data.subarray(0, fdLength) });
    case 'remote': return canFrame({ ...common, id, extended, remote: true, dlc });
    case 'error': return canFrame({ ...common, id: extendedId, error: true, data: data.subarray(0, 8) });
    default: return canFrame({ ...common, id, extended, data: data.subarray(0, dlc) });
  }
});

test('fuzz: every valid frame round-trips through a candump line', () => {
  fc.assert(fc.property(anyFrame, (frame) => {
    const back = parseCandumpLine(formatCandumpLine(frame));
    assert.deepEqual({ ...back, timestamp: Math.round(back.timestamp! * 1e6) }, { ...frame, timestamp: Math.round(frame.timestamp! * 1e6) });
  }), { numRuns: 2000 });
});

test('fuzz: the reader throws nothing but CandumpFormatError, whatever the line', () => {
  const expectOnlyFormatErrors = (line: string) => {
    try {
      const frame = parseCandumpLine(line);
      assert.ok(typeof frame.id === 'number');
    } catch (error) {
      assert.ok(error instanceof CandumpFormatError, `${String(error)} for ${JSON.stringify(line)}`);
    }
  };
  fc.assert(fc.property(fc.string({ maxLength: 200 }), expectOnlyFormatErrors), { numRuns: 3000 });
  // Valid lines with one character replaced, inserted or removed: near misses reach the deep checks.
  fc.assert(fc.property(anyFrame, fc.nat(), fc.constantFrom('replace', 'insert', 'delete'), fc.constantFrom(...'#R.()0123456789ABCDEFXxr \t'), (frame, at, edit, char) => {
    const line = formatCandumpLine(frame);
    const index = at % line.length;
    const edited = edit === 'replace' ? line.slice(0, index) + char + line.slice(index + 1)
      : edit === 'insert' ? line.slice(0, index) + char + line.slice(index) : line.slice(0, index) + line.slice(index + 1);
    expectOnlyFormatErrors(edited);
  }), { numRuns: 5000 });
});

test('the writer logs a bus\'s traffic both ways; the reader streams it back', async (t) => {
  const dir = await tempDir(t);
  const path = join(dir, 'cant.log');
  const network = new VirtualNetwork();
  const tmu = new VirtualBus({ channel: 'cant', network });
  const cgw = new VirtualBus({ channel: 'cant', network });
  t.after(() => Promise.all([tmu.close(), cgw.close()]));
  const log = await CandumpWriter.open(path);
  const stop = log.record(tmu);
  await tmu.send(canFrame({ id: 0x710, data: [0x02, 0x10, 0x02] }));
  await cgw.send(canFrame({ id: 0x718, fd: true, brs: true, data: [0x02, 0x50, 0x02] }));
  await new Promise((resolve) => setImmediate(resolve));
  stop();
  await tmu.send(canFrame({ id: 0x710, data: [0x01] })); // after stop(): not logged
  await log.close();
  assert.throws(() => log.write(canFrame({ id: 1 })), /closed/);
  const text = await readFile(path, 'utf8');
  assert.match(text, /^\(\d{10}\.\d{6}\) cant 710#021002\n\(\d{10}\.\d{6}\) cant 718##1025002\n$/);
  const frames: CanFrame[] = [];
  for await (const frame of readCandump(path)) frames.push(frame);
  assert.deepEqual(frames.map((frame) => [frame.id, frame.channel]), [[0x710, 'cant'], [0x718, 'cant']]);

  const appended = await CandumpWriter.open(path, { append: true, channel: 'canb' });
  appended.write(canFrame({ id: 0x730, timestamp: 5 }));
  await appended.close();
  assert.equal((await readFile(path, 'utf8')).split('\n').at(-2), '(0000000005.000000) canb 730#');
});

test('the streaming reader reports the line number of a bad line', async () => {
  const frames: number[] = [];
  await assert.rejects((async () => {
    for await (const frame of readCandump(Readable.from(['(1.0) a 001#\n(2.0) a 0', '02#\n(3.0) a nope\n']))) frames.push(frame.id);
  })(), /line 3: frame "nope" has no '#'/);
  assert.deepEqual(frames, [1, 2]);
});

/** sampleFrames with the error frame as python-can knows it: it reads only CAN_ERR_BUSERROR (0x80) as an error frame. */
const logFrames: FrameJson[] = sampleFrames.map((frame) => (frame.error ? { ...frame, id: 0x80 } : frame));

test('interop: python-can\'s can.LogReader reads our candump file', async (t) => {
  const dir = await tempDir(t);
  const path = join(dir, 'ours.log');
  const log = await CandumpWriter.open(path);
  logFrames.forEach((json, index) => log.write(canFrame({ ...frameFromJson(json), timestamp: 1700000000 + index * 0.000123, channel: 'canb' })));
  await log.close();
  const result = spawnSync('/usr/bin/python3', [pythonLog, 'read', path], { encoding: 'utf8', timeout: 20_000 });
  assert.equal(result.status, 0, result.stderr);
  const read = result.stdout.trim().split('\n').map((line) => JSON.parse(line) as FrameJson & { timestamp: number; channel: string });
  assert.equal(read.length, logFrames.length);
  read.forEach(({ timestamp, channel, ...message }, index) => {
    const expected = logFrames[index]!;
    assert.ok(Math.abs(timestamp - (1700000000 + index * 0.000123)) < 1e-6);
    if (expected.error) {
      // python-can's reader keeps only the fact that it was an error frame (no channel, no details).
      assert.equal(message.error, true);
      return;
    }
    assert.equal(channel, 'canb');
    assert.deepEqual(message, expected);
  });
});

test('interop: we read the .log python-can\'s can.Logger writes', async (t) => {
  const dir = await tempDir(t);
  const path = join(dir, 'theirs.log');
  const input = logFrames.map((frame, index) => ({ ...frame, timestamp: 1700000000.5 + index, channel: 'vcan0' }));
  const result = spawnSync('/usr/bin/python3', [pythonLog, 'write', path], { input: JSON.stringify(input), encoding: 'utf8', timeout: 20_000 });
  assert.equal(result.status, 0, result.stderr);
  await writeFile(join(dir, 'copy.log'), await readFile(path));
  const frames: CanFrame[] = [];
  for await (const frame of readCandump(path)) frames.push(frame);
  assert.deepEqual(frames.map(frameToJson), logFrames.map((frame) => (frame.remote ? { ...frame, dlc: 0 } : frame)),
    'python-can writes remote frames without their length');
  assert.deepEqual(frames.map((frame) => [frame.timestamp, frame.channel]), input.map((frame) => [frame.timestamp, 'vcan0']));
});
