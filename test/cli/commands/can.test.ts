import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { canFrame, type CanFrame } from '../../../src/can/bus/index.ts';
import { formatCandumpFrame, parseCandump, readCandump } from '../../../src/can/log/index.ts';
import { runCanota, startCanota } from '../../support/canota-process.ts';
import { tempDir } from '../../support/temp-dir.ts';
import { writeFile } from 'node:fs/promises';
import { standardVehicleConfig } from '../../../src/vehicle/config.ts';
import { EcuState, encodeStatusFrame, type EcuStatus } from '../../../src/vehicle/ecu/status-frame.ts';
import { loadEcuKeys, provisionVehicleKeys } from '../../../src/vehicle/keys/ecu-keys.ts';
import { statusKeyName } from '../../../src/vehicle/keys/key-plan.ts';

/** Each test on its own UDP port: parallel test files never share a multicast bus. */
const randomPort = () => String(20_000 + Math.floor(Math.random() * 40_000));
const ready = /canota can: listening on/;

const frames: CanFrame[] = [
  canFrame({ id: 0x7e0, data: [0x02, 0x10, 0x03, 0, 0, 0, 0, 0] }),
  canFrame({ id: 0x18daf110, extended: true, data: [0x02, 0xa1] }),
  canFrame({ id: 0x730, fd: true, brs: true, data: new Uint8Array(12).fill(0xcc) }),
  canFrame({ id: 0x123, remote: true, dlc: 4 }),
  canFrame({ id: 0x7df, data: [0x02, 0x3e, 0x00] }),
];

test('can send puts frames on a udp-multicast bus; can dump prints them as candump lines', async (t) => {
  const port = randomPort();
  const dump = await startCanota(['can', 'dump', '--udp-port', port, '--count', '4', '--filter', '700:700', '--filter', '18DAF110:1FFFFFFF'], { ready });
  t.after(() => dump.stop());
  const sent = await runCanota(['can', 'send', '--udp-port', port, ...frames.map(formatCandumpFrame)]);
  assert.equal(sent.code, 0, sent.stderr);
  assert.match(sent.stderr, /sent 5 frames on udp-multicast/);
  assert.equal(await dump.exited, 0);
  const lines = dump.output.filter((line) => line.startsWith('('));
  const printed = parseCandump(lines.join('\n'));
  // The remote frame on 0x123 does not pass the filters.
  assert.deepEqual(printed.map(formatCandumpFrame), [frames[0]!, frames[1]!, frames[2]!, frames[4]!].map(formatCandumpFrame));
  assert.ok(printed.every((frame) => frame.channel === 'cant'));
  assert.ok(dump.output.some((line) => /^canota can: 4 frames in/.test(line)));
});

test('can log writes a candump file; can dump --decode reassembles ISO-TP and names UDS messages', async (t) => {
  const dir = await tempDir(t);
  const path = join(dir, 'canb.log');
  const port = randomPort();
  const log = await startCanota(['can', 'log', '-o', path, '--channel', 'canb', '--udp-port', port, '--count', '6', '--bitrate', '500000'], { ready });
  t.after(() => log.stop());
  const dump = await startCanota(['can', 'dump', '--decode', '--udp-port', port, '--count', '6'], { ready });
  t.after(() => dump.stop());
  // A 20-byte WriteDataByIdentifier request in FF/FC/CF/CF/CF, then a negative response.
  const request = ['730#10142EF190000102', '738#3000000000000000', '730#2103040506070809', '731#0000', '730#220A0B0C0D0E0F10', '738#037F2E33'];
  const sent = await runCanota(['can', 'send', '--channel', 'canb', '--udp-port', port, ...request]);
  assert.equal(sent.code, 0, sent.stderr);
  assert.equal(await log.exited, 0);
  assert.equal(await dump.exited, 0);

  const logged: CanFrame[] = [];
  for await (const frame of readCandump(path)) logged.push(frame);
  assert.deepEqual(logged.map(formatCandumpFrame), request);
  assert.ok(logged.every((frame) => frame.channel === 'canb'));
  assert.ok(log.output.some((line) => /wrote 6 frames to/.test(line)));
  assert.ok(log.output.some((line) => /bus load \d+\.\d\d% at 500000 bit\/s/.test(line)));

  const decoded = dump.output.filter((line) => line.startsWith('('));
  assert.equal(decoded.length, 6);
  assert.match(decoded[0]!, /730#10142EF190000102 {2}; ISO-TP FF len=20$/);
  assert.match(decoded[1]!, /738#3000000000000000 {2}; ISO-TP FC /);
  assert.match(decoded[3]!, /731#0000$/, 'not a decoded id: no notes');
  assert.match(decoded[4]!, /ISO-TP CF sn=2; UDS WriteDataByIdentifier request f190000102030405060708090a0b0c0d0e0f10$/);
  assert.match(decoded[5]!, /ISO-TP SF len=3; UDS negative response to WriteDataByIdentifier: securityAccessDenied \(0x33\)$/);
});

test('can dump --decode --state-dir verifies status frames with the vehicle\'s keys: mac=ok, replay, bad', async (t) => {
  const stateDir = await tempDir(t);
  const config = standardVehicleConfig('WCANTA10000000042', { driver: 'udp-multicast' });
  await writeFile(join(stateDir, 'vehicle.json'), JSON.stringify(config));
  await provisionVehicleKeys(config, stateDir);
  const key = (await loadEcuKeys(config, stateDir, 'EDT')).get(statusKeyName('EDT'));
  const status: EcuStatus = { version: [1, 0, 0], state: EcuState.Running, activeBank: 'A', trialPending: false, lastBootRolledBack: false, vehicleMoving: false };
  const line = (data: Uint8Array) => `530#${Buffer.from(data).toString('hex').toUpperCase()}`;
  const forged = encodeStatusFrame(key, 0x530, { ...status, version: [9, 9, 9] }, 3n);
  forged.set([0xde, 0xad, 0x00], 5);
  const frames = [line(encodeStatusFrame(key, 0x530, status, 1n)), line(encodeStatusFrame(key, 0x530, status, 2n)), line(encodeStatusFrame(key, 0x530, status, 1n)), line(forged)];
  const port = randomPort();
  const dump = await startCanota(['can', 'dump', '--decode', '--state-dir', stateDir, '--channel', 'canb', '--udp-port', port, '--count', '4'], { ready });
  t.after(() => dump.stop());
  assert.ok(dump.output.some((text) => /verifying the status frames of TMU, CGW, EDT/.test(text)), dump.output.join('\n'));
  const sent = await runCanota(['can', 'send', '--channel', 'canb', '--udp-port', port, '--gap', '5', ...frames]);
  assert.equal(sent.code, 0, sent.stderr);
  assert.equal(await dump.exited, 0);
  const notes = dump.output.filter((text) => text.startsWith('(')).map((text) => text.split('  ; ')[1]);
  assert.deepEqual(notes, [
    'EDT_Status 1.0.0 Running bank=A stopped fv=1/1 mac=ok',
    'EDT_Status 1.0.0 Running bank=A stopped fv=2/2 mac=ok',
    'EDT_Status 1.0.0 Running bank=A stopped fv=1/1 mac=replay',
    'EDT_Status 9.9.9 Running bank=A stopped fv=3 mac=bad',
  ]);
});

test('bad command lines exit 2 with the reason', async () => {
  const cases: Array<[string[], RegExp]> = [
    [['can', 'send', '7E0#0'], /odd number of hex digits/],
    [['can', 'send', '800#00'], /11-bit range/],
    [['can', 'dump', '--filter', 'xyz'], /not ID:MASK/],
    [['can', 'dump', '--bus', 'socketcan'], /unknown --bus "socketcan"/],
    [['can', 'dump', '--decode-ids', '7E0:FFFF'], /not an 11-bit hex id/],
    [['can', 'log'], /required option '-o, --output <file>'/],
    [['can', 'dump', '--udp-port', '70000'], /--udp-port must be an integer from 1 to 65535/],
  ];
  for (const [args, reason] of cases) {
    const result = await runCanota(args, { timeoutMs: 20_000 });
    assert.equal(result.code, 2, `${args.join(' ')}: ${result.stderr}`);
    assert.match(result.stderr, reason);
  }
});

test('a bus that cannot open fails with exit code 1', async () => {
  const result = await runCanota(['can', 'dump', '--group', '10.1.2.3'], { timeoutMs: 20_000 });
  assert.equal(result.code, 1);
  assert.match(result.stderr, /not a multicast group/);
});
