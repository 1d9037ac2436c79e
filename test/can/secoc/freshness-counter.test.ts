import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { FreshnessCounter, FreshnessCounterError } from '../../../src/can/secoc/index.ts';
import { tempDir } from '../../support/temp-dir.ts';

const child = fileURLToPath(new URL('./fixtures/counter-child.ts', import.meta.url));

const stored = async (path: string) => BigInt((JSON.parse(await readFile(path, 'utf8')) as { reservedUpTo: string }).reservedUpTo);

test('values start at 1, strictly increase, and the file always covers what was handed out', async (t) => {
  const path = join(await tempDir(t), 'freshness.json');
  const counter = await FreshnessCounter.open(path, { block: 16 });
  assert.equal(await stored(path), 17n, 'the first block is reserved before the first value');
  let previous = 0n;
  for (let i = 0; i < 100; i += 1) {
    const value = await counter.next();
    assert.equal(value, previous + 1n);
    previous = value;
    assert.ok(await stored(path) > value, `value ${value} handed out beyond the stored reservation`);
  }
  await counter.close();
});

test('a reopened counter continues above everything handed out before (one block skipped at most)', async (t) => {
  const path = join(await tempDir(t), 'freshness.json');
  const first = await FreshnessCounter.open(path, { block: 100 });
  let last = 0n;
  for (let i = 0; i < 130; i += 1) last = await first.next();
  // No close(): as after a crash.
  const second = await FreshnessCounter.open(path, { block: 100 });
  const next = await second.next();
  assert.ok(next > last);
  assert.ok(next - last <= 100n + 50n + 1n, `skipped ${next - last - 1n} values`);
  await first.close();
  await second.close();
});

test('one file write per block: 1000 values with a block of 100 cost about 10 writes', async (t) => {
  const path = join(await tempDir(t), 'freshness.json');
  const counter = await FreshnessCounter.open(path, { block: 100 });
  const reservations = new Set<bigint>();
  for (let i = 0; i < 1000; i += 1) {
    await counter.next();
    reservations.add(counter.reservedUpTo);
  }
  await counter.close();
  assert.ok(reservations.size >= 10 && reservations.size <= 12, `${reservations.size} reservations`);
});

test('a damaged counter file is refused rather than restarted at 1', async (t) => {
  const dir = await tempDir(t);
  for (const content of ['{"reservedUpTo": 12', '{"reservedUpTo": "-4"}', '[]', '{"reservedUpTo": "18446744073709551616"}']) {
    const path = join(dir, 'freshness.json');
    await writeFile(path, content);
    await assert.rejects(FreshnessCounter.open(path), FreshnessCounterError, content);
  }
  await assert.rejects(FreshnessCounter.open(join(dir, 'x.json'), { block: 0 }), FreshnessCounterError);
});

test('the counter ends at the 64-bit maximum instead of wrapping', async (t) => {
  const path = join(await tempDir(t), 'freshness.json');
  await writeFile(path, JSON.stringify({ reservedUpTo: ((1n << 64n) - 2n).toString() }));
  const counter = await FreshnessCounter.open(path, { block: 8 });
  assert.equal(await counter.next(), (1n << 64n) - 2n);
  assert.equal(await counter.next(), (1n << 64n) - 1n);
  await assert.rejects(counter.next(), /exhausted/);
});

test('kill -9 at random moments never makes a process reuse a value', async (t) => {
  const path = join(await tempDir(t), 'freshness.json');
  let highest = 0n;
  for (let run = 0; run < 6; run += 1) {
    const values = await runAndKill(path, 40 + Math.floor(Math.random() * 200));
    assert.ok(values.length > 0, 'the child handed out values');
    assert.ok(values[0]! > highest, `run ${run} started at ${values[0]}, at or below ${highest} from an earlier run`);
    for (let i = 1; i < values.length; i += 1) assert.ok(values[i]! > values[i - 1]!);
    highest = values.at(-1)!;
  }
});

/** Starts the child, kills it with SIGKILL after it printed at least `after` values, returns what it printed. */
function runAndKill(path: string, after: number): Promise<bigint[]> {
  return new Promise((resolve, reject) => {
    const process_ = spawn(process.execPath, ['--import', 'tsx', child, path, '64'], { stdio: ['ignore', 'pipe', 'inherit'] });
    let text = '';
    let killed = false;
    process_.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      text += chunk;
      if (!killed && text.split('\n').length > after) {
        killed = true;
        process_.kill('SIGKILL');
      }
    });
    process_.on('error', reject);
    process_.on('close', () => {
      const lines = text.split('\n').filter((line) => /^[0-9]+$/.test(line));
      resolve(lines.map((line) => BigInt(line)));
    });
  });
}
