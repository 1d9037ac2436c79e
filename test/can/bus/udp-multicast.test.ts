import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { Encoder } from '@msgpack/msgpack';
import {
  BusConfigurationError, FD_LENGTHS, MalformedPacketError, UdpMulticastBus, canFrame, openBus, packFrame, unpackFrame,
  type CanFrame,
} from '../../../src/can/bus/index.ts';
import { frameFromJson, frameToJson, sampleFrames, type FrameJson } from './fixtures/frame-json.ts';
import {
  ipv6VethSetup, multicastLoopbackSetup, namespaceUnavailableReason, runInNetworkNamespace,
} from './fixtures/namespace.ts';

const python = '/usr/bin/python3';
const fixtures = fileURLToPath(new URL('./fixtures/', import.meta.url));
const repository = fileURLToPath(new URL('../../../', import.meta.url));

function runPython(args: string[], input: string): string {
  const result = spawnSync(python, [join(fixtures, 'python_can_packets.py'), ...args], { input, encoding: 'utf8', timeout: 20_000 });
  assert.equal(result.status, 0, result.stderr);
  return result.stdout;
}

test('our datagrams are byte for byte what python-can packs, and python-can unpacks them with check=True', () => {
  const timestamps = [1700000000.123456, 1700000001, 0, 1e-6];
  const frames = sampleFrames.map((json, index) => ({
    frame: canFrame({ ...frameFromJson(json), timestamp: timestamps[index % timestamps.length]! }),
    channel: index % 2 ? 'cant' : 'canb',
  }));
  const ours = frames.map(({ frame, channel }) => Buffer.from(packFrame(frame, channel)).toString('hex'));
  const theirs = runPython(['pack'], JSON.stringify(frames.map(({ frame, channel }) => ({
    ...frameToJson(frame), timestamp: frame.timestamp, channel,
  })))).trim().split('\n');
  assert.deepEqual(ours, theirs);

  const unpacked = runPython(['unpack'], `${ours.join('\n')}\n`).trim().split('\n').map((line) => JSON.parse(line) as FrameJson & { timestamp: number; channel: string });
  unpacked.forEach((message, index) => {
    const { timestamp, channel, ...fields } = message;
    assert.deepEqual(fields, frameToJson(frames[index]!.frame));
    assert.equal(timestamp, frames[index]!.frame.timestamp);
    assert.equal(channel, frames[index]!.channel);
  });
});

test('python-can datagrams decode to the same frames', () => {
  const packets = runPython(['pack'], JSON.stringify(sampleFrames.map((frame) => ({ ...frame, timestamp: 12.5, channel: null }))))
    .trim().split('\n');
  const decoded = packets.map((hex) => unpackFrame(Buffer.from(hex, 'hex'), 99));
  assert.deepEqual(decoded.map(frameToJson), sampleFrames);
  assert.ok(decoded.every((frame) => frame.timestamp === 99), 'the receive time stamps a received frame, as in python-can');
});

test('datagram codec: every valid frame round-trips; any bytes give a frame or a MalformedPacketError', () => {
  const frame = fc.record({
    id: fc.integer({ min: 0, max: 0x7ff }), extended: fc.boolean(), fd: fc.boolean(), brs: fc.boolean(),
    length: fc.constantFrom(...FD_LENGTHS), data: fc.uint8Array({ minLength: 64, maxLength: 64 }),
    timestamp: fc.double({ min: 0, max: 4e9, noNaN: true }),
  }).map(({ fd, brs, length, data, ...rest }) => canFrame({
    ...rest, fd, brs: fd && brs, data: data.subarray(0, fd ? length : Math.min(length, 8)),
  }));
  fc.assert(fc.property(frame, (original) => {
    const back = unpackFrame(packFrame(original, 'cant'), original.timestamp);
    assert.deepEqual(back, { ...original, channel: 'cant' });
  }));
  fc.assert(fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
    try {
      unpackFrame(bytes);
    } catch (error) {
      assert.ok(error instanceof MalformedPacketError, String(error));
    }
  }));
  const encoder = new Encoder();
  const good = { timestamp: 1.5, arbitration_id: 0x123, is_extended_id: false, is_remote_frame: false, is_error_frame: false, channel: null, dlc: 2, data: Uint8Array.of(1, 2), is_fd: false, bitrate_switch: false, error_state_indicator: false };
  assert.equal(unpackFrame(encoder.encode(good)).id, 0x123);
  assert.throws(() => unpackFrame(encoder.encode({ ...good, extra: 1 })), /not a python-can frame map/);
  assert.throws(() => unpackFrame(encoder.encode({ ...good, dlc: 3 })), /DLC 3 does not match/);
  assert.throws(() => unpackFrame(encoder.encode({ ...good, arbitration_id: 0x800 })), /11-bit range/);
  assert.throws(() => unpackFrame(encoder.encode({ ...good, data: [1, 2] })), /data/);
  assert.throws(() => unpackFrame(Uint8Array.of(0xc1)), MalformedPacketError);
});

test('two of our nodes share a group on this machine\'s loopback; each drops its own echoes', async (t) => {
  // A random port keeps parallel test files (and any running vehicle) off this test's bus.
  const port = 20_000 + Math.floor(Math.random() * 40_000);
  const a = await UdpMulticastBus.open({ channel: 'cant', port });
  const b = await openBus('udp-multicast', { channel: 'cant', port }) as UdpMulticastBus;
  t.after(() => Promise.all([a.close(), b.close()]));
  const seenByA: CanFrame[] = [];
  const seenByB: CanFrame[] = [];
  a.onFrame((frame) => seenByA.push(frame));
  b.onFrame((frame) => seenByB.push(frame));
  const frames = sampleFrames.map(frameFromJson);
  for (const frame of frames) await a.send(frame);
  await b.send(canFrame({ id: 0x728, data: [0x02, 0x50, 0x02] }));
  const deadline = Date.now() + 5_000;
  while ((seenByB.length < frames.length || seenByA.length < 1) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
  assert.deepEqual(seenByB.map(frameToJson), sampleFrames);
  assert.ok(seenByB.every((frame) => frame.channel === 'cant' && typeof frame.timestamp === 'number'));
  await new Promise((r) => setTimeout(r, 50));
  assert.deepEqual(seenByA.map((frame) => frame.id), [0x728], 'a heard its own frames back');
  assert.equal(a.group, '239.74.163.2');
  assert.equal(b.malformedPackets, 0);
});

test('bad multicast options are refused before any socket opens', async () => {
  await assert.rejects(UdpMulticastBus.open({ channel: 'cant', group: '10.0.0.1' }), BusConfigurationError);
  await assert.rejects(UdpMulticastBus.open({ channel: 'cant', port: 70000 }), /UDP port/);
  await assert.rejects(UdpMulticastBus.open({ channel: 'cant', hopLimit: 0 }), /hop limit/);
  await assert.rejects(openBus('socketcan', { channel: 'can0' }), /unknown CAN bus driver "socketcan" \(known: virtual, udp-multicast\)/);
});

async function interop(t: { skip: (message: string) => void; after: (fn: () => Promise<void>) => void }, group: string, setup: string, multicastInterface?: string) {
  const reason = namespaceUnavailableReason();
  if (reason) {
    t.skip(reason);
    return;
  }
  const dir = await mkdtemp(join(tmpdir(), 'canota-udp-interop-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const fromPython: FrameJson[] = sampleFrames.map((frame) => ({ ...frame, id: frame.id ^ 1 }));
  await writeFile(join(dir, 'node.json'), JSON.stringify(sampleFrames));
  await writeFile(join(dir, 'python.json'), JSON.stringify(fromPython));
  const run = await runInNetworkNamespace(`${setup}
cd "$REPO"
node --import tsx test/can/bus/fixtures/udp-peer.ts "$DIR" "$GROUP" ${fromPython.length} $IFACE < "$DIR/node.json" > "$DIR/node.out" &
node_peer=$!
${python} test/can/bus/fixtures/udp_peer.py "$DIR" "$GROUP" ${sampleFrames.length} < "$DIR/python.json" > "$DIR/python.out"
wait $node_peer
`, { env: { REPO: repository, DIR: dir, GROUP: group, IFACE: multicastInterface ?? '' }, timeoutMs: 40_000 });
  assert.equal(run.code, 0, run.stderr);
  const lines = async (name: string) => (await readFile(join(dir, name), 'utf8')).trim().split('\n').filter(Boolean).map((line) => JSON.parse(line) as FrameJson);
  assert.deepEqual(await lines('python.out'), sampleFrames, `python-can did not receive our frames\n${run.stderr}`);
  assert.deepEqual(await lines('node.out'), fromPython, `we did not receive python-can's frames\n${run.stderr}`);
}

test('interop: python-can udp_multicast and our driver exchange classic, FD, extended, remote and error frames (IPv4, private namespace)', async (t) => {
  await interop(t, '239.74.163.2', multicastLoopbackSetup);
});

test('interop: the same over python-can\'s default IPv6 group, on a veth pair inside a private namespace', async (t) => {
  await interop(t, 'ff15:7079:7468:6f6e:6465:6d6f:6d63:6173', `ip link set lo up && ${ipv6VethSetup}`, '::%canota0');
});
