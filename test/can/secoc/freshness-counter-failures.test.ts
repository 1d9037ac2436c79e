/**
 * The sender's freshness counter when the disk fails, at the ends of its range, and with the smallest block
 * (found by mutation testing, docs/testing.md). Never a value that is not covered by the file.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { DEFAULT_RESERVATION_BLOCK, FreshnessCounter, FreshnessCounterError } from '../../../src/can/secoc/index.ts';
import { tempDir } from '../../support/temp-dir.ts';

const MAX = (1n << 64n) - 1n;
const stored = async (path: string) => BigInt((JSON.parse(await readFile(path, 'utf8')) as { reservedUpTo: string }).reservedUpTo);

test('a reservation that cannot be written stops the counter instead of handing out unpersisted values; it recovers with the disk', async (t) => {
  const dir = await tempDir(t);
  const path = join(dir, 'freshness.json');
  const counter = await FreshnessCounter.open(path, { block: 4 });
  assert.equal(await stored(path), 5n);
  assert.equal(await counter.next(), 1n);
  // The file's place becomes a directory: every atomic write (temp file + rename over it) now fails.
  await rm(path);
  await mkdir(path);
  const handedOut: bigint[] = [];
  let refusal: unknown;
  for (let i = 0; i < 10 && refusal === undefined; i += 1) {
    try {
      handedOut.push(await counter.next());
    } catch (error) {
      refusal = error;
    }
  }
  assert.ok(refusal instanceof Error, 'next() refused');
  assert.deepEqual(handedOut, [2n, 3n, 4n], 'exactly the values the file covered');
  await assert.rejects(counter.next(), 'still refused while the disk fails');
  assert.equal(counter.peek, 5n);

  await rm(path, { recursive: true });
  assert.equal(await counter.next(), 5n, 'the disk is back: the next reservation is written and counting goes on');
  assert.ok(await stored(path) > 5n);
  await counter.close();
});

test('a value is handed out only below what the file says, also while the next block is being written', async (t) => {
  const path = join(await tempDir(t), 'freshness.json');
  const counter = await FreshnessCounter.open(path, { block: 1 });
  assert.equal(counter.block, 1n);
  assert.equal(counter.path, path);
  for (let expected = 1n; expected <= 20n; expected += 1n) {
    assert.equal(counter.peek, expected);
    const value = await counter.next();
    assert.equal(value, expected);
    assert.ok(await stored(path) > value, `value ${value}, file ${await stored(path)}`);
  }
  await counter.close();
  assert.equal(counter.reservedUpTo, await stored(path));
});

test('opening: the default block, a block that is not a positive whole number, and the exact end of the range', async (t) => {
  const dir = await tempDir(t);
  const fresh = await FreshnessCounter.open(join(dir, 'a.json'));
  assert.equal(fresh.block, BigInt(DEFAULT_RESERVATION_BLOCK));
  assert.equal(DEFAULT_RESERVATION_BLOCK, 4096);
  assert.equal(await stored(join(dir, 'a.json')), 4097n);
  await fresh.close();
  for (const block of [0, -1, 1.5, Number.NaN, 2 ** 53]) {
    await assert.rejects(FreshnessCounter.open(join(dir, 'b.json'), { block }),
      { name: 'FreshnessCounterError', message: `reservation block must be a positive integer, got ${block}` });
  }

  const last = join(dir, 'last.json');
  await writeFile(last, JSON.stringify({ reservedUpTo: MAX.toString() }));
  const counter = await FreshnessCounter.open(last, { block: 100 });
  assert.equal(await stored(last), MAX + 1n, 'the reservation stops at 2^64');
  assert.equal(await counter.next(), MAX);
  await assert.rejects(counter.next(), { name: 'FreshnessCounterError', message: `${last}: freshness counter exhausted` });
  await counter.close();

  await writeFile(last, JSON.stringify({ reservedUpTo: (MAX + 1n).toString() }));
  await assert.rejects(FreshnessCounter.open(last), { message: `${last}: freshness counter exhausted` });
  await writeFile(last, '{"reservedUpTo": "12", "extra": 1}');
  await assert.rejects(FreshnessCounter.open(last),
    { message: `${last} is not a freshness counter file; refusing to start over (values would be reused)` });
  await writeFile(last, '{"reservedUpTo": "1x2"}');
  await assert.rejects(FreshnessCounter.open(last), FreshnessCounterError);
  await writeFile(last, '{"reservedUpTo": "123456789012345678901"}');
  await assert.rejects(FreshnessCounter.open(last), FreshnessCounterError, '21 digits');
});

test('opening creates the directory, and the reservation is on disk before open() returns', async (t) => {
  const path = join(await tempDir(t), 'ecus', 'EDT', 'secoc.json');
  const counter = await FreshnessCounter.open(path, { block: 8 });
  assert.equal(await stored(path), 9n);
  assert.equal(counter.reservedUpTo, 9n);
  await counter.close();
});

test('the next block is reserved ahead, but never so far that a restart skips more than 1.5 blocks', async (t) => {
  const path = join(await tempDir(t), 'freshness.json');
  const counter = await FreshnessCounter.open(path, { block: 16 });
  for (let i = 1; i <= 100; i += 1) {
    await counter.next();
    await counter.close();                                     // let a reservation in flight land
    const ahead = await stored(path) - counter.peek;           // what a restart now would skip
    assert.ok(ahead >= 8n, `after ${i} values only ${ahead} reserved ahead: next() would wait for the disk`);
    assert.ok(ahead <= 24n, `after ${i} values ${ahead} reserved ahead: a restart would skip more than 1.5 blocks`);
  }
});

test('concurrent callers at a block boundary each get their own value', async (t) => {
  const path = join(await tempDir(t), 'freshness.json');
  const counter = await FreshnessCounter.open(path, { block: 1 });
  const values = await Promise.all(Array.from({ length: 6 }, () => counter.next()));
  assert.deepEqual([...values].sort((a, b) => (a < b ? -1 : 1)), [1n, 2n, 3n, 4n, 5n, 6n]);
  await counter.close();
  assert.ok(await stored(path) > 6n);
});

test('the very last value is handed out even when its reservation is still being written', async (t) => {
  const path = join(await tempDir(t), 'freshness.json');
  await writeFile(path, JSON.stringify({ reservedUpTo: (MAX - 1n).toString() }));
  const counter = await FreshnessCounter.open(path, { block: 1 });
  assert.equal(await counter.next(), MAX - 1n);
  assert.equal(await counter.next(), MAX);
  await assert.rejects(counter.next(), /exhausted/);
  await counter.close();
  assert.equal(await stored(path), MAX + 1n);
});

test('a reservation is exactly one block, up to 2^64 at most', async (t) => {
  const path = join(await tempDir(t), 'freshness.json');
  await writeFile(path, JSON.stringify({ reservedUpTo: (MAX - 9n).toString() }));
  const counter = await FreshnessCounter.open(path, { block: 9 });
  assert.equal(await stored(path), MAX, 'MAX - 9 + 9: the last value not yet covered');
  await counter.close();
});
