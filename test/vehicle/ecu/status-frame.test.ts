import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import {
  EcuState, crc8SaeJ1850, decodeStatusFrame, encodeStatusFrame, versionTriple, StatusFrameError, type EcuStatus,
} from '../../../src/vehicle/ecu/status-frame.ts';

const dbc = fileURLToPath(new URL('../../../can/canota.dbc', import.meta.url));

const statusArbitrary: fc.Arbitrary<EcuStatus> = fc.record({
  version: fc.tuple(fc.nat(255), fc.nat(255), fc.nat(255)),
  state: fc.constantFrom(...Object.values(EcuState).filter((v): v is EcuState => typeof v === 'number')),
  activeBank: fc.constantFrom('A' as const, 'B' as const),
  trialPending: fc.boolean(),
  lastBootRolledBack: fc.boolean(),
  bootCount: fc.nat(255),
  aliveCounter: fc.nat(255),
});

test('CRC-8/SAE-J1850 matches the catalogue check value', () => {
  assert.equal(crc8SaeJ1850(Buffer.from('123456789')), 0x4b);
});

test('status frames round-trip and a corrupted byte is detected', () => {
  fc.assert(fc.property(statusArbitrary, fc.nat(6), (status, index) => {
    const data = encodeStatusFrame(status);
    assert.deepEqual(decodeStatusFrame(data), { ...status });
    const corrupted = Uint8Array.from(data);
    corrupted[index] = corrupted[index]! ^ 0x01;
    assert.throws(() => decodeStatusFrame(corrupted), StatusFrameError);
  }));
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
  const samples = fc.sample(statusArbitrary, { numRuns: 50, seed: 42 });
  const frames = samples.map((status) => Buffer.from(encodeStatusFrame(status)).toString('hex'));
  const script = `
import sys, json, canmatrix, canmatrix.formats
db = canmatrix.formats.loadp_flat(sys.argv[1])
out = []
for line in sys.stdin.read().split():
    decoded = db.frame_by_id(canmatrix.ArbitrationId(0x530)).decode(bytes.fromhex(line))
    out.append({name: int(sig.raw_value) for name, sig in decoded.items()})
print(json.dumps(out))`;
  const decoded = JSON.parse(execFileSync('/usr/bin/python3', ['-c', script, dbc], { input: frames.join('\n') }).toString()) as Record<string, number>[];
  samples.forEach((status, i) => {
    const signals = decoded[i]!;
    assert.deepEqual([signals.SwVersionMajor, signals.SwVersionMinor, signals.SwVersionPatch], status.version);
    assert.equal(signals.EcuState, status.state);
    assert.equal(signals.ActiveBank, status.activeBank === 'B' ? 1 : 0);
    assert.equal(signals.TrialPending, status.trialPending ? 1 : 0);
    assert.equal(signals.LastBootRolledBack, status.lastBootRolledBack ? 1 : 0);
    assert.equal(signals.BootCount, status.bootCount);
    assert.equal(signals.AliveCounter, status.aliveCounter);
  });
});
