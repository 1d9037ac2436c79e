import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { SecOcReceiver, STATUS_FRAME_PROFILE, computeMac, truncateMac } from '../../../src/can/secoc/index.ts';
import {
  EcuState, decodeStatusPayload, encodeStatusFrame, encodeStatusPayload, readStatusFrame, versionTriple, StatusFrameError, type EcuStatus,
} from '../../../src/vehicle/ecu/status-frame.ts';

const dbc = fileURLToPath(new URL('../../../can/canota.dbc', import.meta.url));
const key = Uint8Array.from({ length: 32 }, (_, i) => 255 - i);

const statusArbitrary: fc.Arbitrary<EcuStatus> = fc.record({
  version: fc.tuple(fc.nat(255), fc.nat(255), fc.nat(255)),
  state: fc.constantFrom(...Object.values(EcuState).filter((v): v is EcuState => typeof v === 'number')),
  activeBank: fc.constantFrom('A' as const, 'B' as const),
  trialPending: fc.boolean(),
  lastBootRolledBack: fc.boolean(),
  vehicleMoving: fc.boolean(),
});

test('the status payload round-trips in 4 bytes; every byte-3 bit has its place', () => {
  fc.assert(fc.property(statusArbitrary, (status) => {
    const payload = encodeStatusPayload(status);
    assert.equal(payload.length, 4);
    assert.deepEqual(decodeStatusPayload(payload), { ...status });
    assert.equal(payload[3]! & 0x80, 0, 'bit 7 reserved');
  }));
  const status: EcuStatus = { version: [2, 0, 1], state: EcuState.Programming, activeBank: 'B', trialPending: true, lastBootRolledBack: false, vehicleMoving: true };
  assert.equal(Buffer.from(encodeStatusPayload(status)).toString('hex'), '0200015b');
  assert.throws(() => decodeStatusPayload(new Uint8Array(5)), StatusFrameError);
});

test('a status frame is payload ‖ freshness low byte ‖ 24-bit MAC over the CAN id, payload and full freshness', () => {
  fc.assert(fc.property(statusArbitrary, fc.bigInt({ min: 1n, max: (1n << 64n) - 1n }), (status, freshness) => {
    const data = encodeStatusFrame(key, 0x530, status, freshness);
    assert.equal(data.length, 8);
    const read = readStatusFrame(data);
    assert.deepEqual(read.status, { ...status });
    assert.equal(read.freshness, Number(freshness & 0xffn));
    assert.deepEqual(read.mac, truncateMac(computeMac(key, 0x530, encodeStatusPayload(status), freshness), 24));
  }));
  assert.throws(() => readStatusFrame(new Uint8Array(7)), StatusFrameError);
});

test('any changed bit of a status frame fails verification (the MAC replaced the CRC)', () => {
  fc.assert(fc.property(statusArbitrary, fc.nat(63), (status, bit) => {
    const receiver = new SecOcReceiver({ key, dataId: 0x530, profile: STATUS_FRAME_PROFILE, authenticLength: 4 });
    const data = encodeStatusFrame(key, 0x530, status, 77n);
    const corrupted = Uint8Array.from(data);
    corrupted[bit >> 3] = corrupted[bit >> 3]! ^ (1 << (bit & 7));
    assert.notEqual(receiver.verify(corrupted).result, 'verified');
    assert.equal(receiver.verify(data).result, 'verified');
  }), { numRuns: 200 });
});

test('version text maps to the three status bytes', () => {
  assert.deepEqual(versionTriple('2.10.3'), [2, 10, 3]);
  assert.deepEqual(versionTriple('1.2'), [1, 2, 0]);
  assert.deepEqual(versionTriple('300.1.1'), [0, 1, 1]);
  assert.deepEqual(versionTriple(null), [0, 0, 0]);
});

test('can/canota.dbc decodes our frames to the same values (python canmatrix as the reader)', (t) => {
  try {
    execFileSync('/usr/bin/python3', ['-c', 'import canmatrix'], { stdio: 'ignore' });
  } catch {
    t.skip('python3-canmatrix is not installed (.ci/run installs it)');
    return;
  }
  const samples = fc.sample(fc.tuple(statusArbitrary, fc.bigInt({ min: 1n, max: 1n << 40n }), fc.constantFrom(0x510, 0x520, 0x530)), { numRuns: 60, seed: 42 });
  const frames = samples.map(([status, freshness, id]) => `${id.toString(16)}:${Buffer.from(encodeStatusFrame(key, id, status, freshness)).toString('hex')}`);
  const script = `
import sys, json, canmatrix, canmatrix.formats
db = canmatrix.formats.loadp_flat(sys.argv[1])
out = []
for line in sys.stdin.read().split():
    can_id, data = line.split(':')
    frame = db.frame_by_id(canmatrix.ArbitrationId(int(can_id, 16)))
    decoded = frame.decode(bytes.fromhex(data))
    out.append({'name': frame.name, 'signals': {name: int(sig.raw_value) for name, sig in decoded.items()}})
print(json.dumps(out))`;
  const decoded = JSON.parse(execFileSync('/usr/bin/python3', ['-c', script, dbc], { input: frames.join('\n'), stdio: ['pipe', 'pipe', 'ignore'] }).toString()) as {
    name: string; signals: Record<string, number>;
  }[];
  samples.forEach(([status, freshness, id], i) => {
    const { name, signals } = decoded[i]!;
    assert.equal(name, { 0x510: 'CGW_Status', 0x520: 'TMU_Status', 0x530: 'EDT_Status' }[id]);
    assert.deepEqual([signals.SwVersionMajor, signals.SwVersionMinor, signals.SwVersionPatch], status.version);
    assert.equal(signals.EcuState, status.state);
    assert.equal(signals.ActiveBank, status.activeBank === 'B' ? 1 : 0);
    assert.equal(signals.TrialPending, status.trialPending ? 1 : 0);
    assert.equal(signals.LastBootRolledBack, status.lastBootRolledBack ? 1 : 0);
    assert.equal(signals.VehicleMoving, status.vehicleMoving ? 1 : 0);
    assert.equal(signals.FreshnessValue, Number(freshness & 0xffn));
    const mac = truncateMac(computeMac(key, id, encodeStatusPayload(status), freshness), 24);
    assert.equal(signals.AuthenticatorMac, Buffer.from(mac).readUIntBE(0, 3));
    assert.deepEqual(Object.keys(signals).sort(), ['ActiveBank', 'AuthenticatorMac', 'EcuState', 'FreshnessValue', 'LastBootRolledBack',
      'SwVersionMajor', 'SwVersionMinor', 'SwVersionPatch', 'TrialPending', 'VehicleMoving']);
  });
});
