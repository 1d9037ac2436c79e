import { test } from 'node:test';
import assert from 'node:assert/strict';
import { VirtualBus, VirtualNetwork, canFrame } from '../../../src/can/bus/index.ts';

test('every node but the sender receives each frame, in send order', async () => {
  const network = new VirtualNetwork();
  const [a, b, c] = ['a', 'b', 'c'].map(() => new VirtualBus({ channel: 'cant', network })) as [VirtualBus, VirtualBus, VirtualBus];
  const seen: Record<string, number[]> = { a: [], b: [], c: [] };
  a.onFrame((f) => seen.a!.push(f.id));
  b.onFrame((f) => seen.b!.push(f.id));
  c.onFrame((f) => seen.c!.push(f.id));
  // b answers each frame from a immediately; the answer must not overtake a's later frames.
  b.onFrame((f) => { if (f.id < 0x100) void b.send(canFrame({ id: 0x100 + f.id })); });
  await Promise.all([1, 2, 3].map((id) => a.send(canFrame({ id, data: [id] }))));
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(seen.a, [0x101, 0x102, 0x103]);
  assert.deepEqual(seen.b, [1, 2, 3]);
  assert.deepEqual(seen.c, [1, 2, 3, 0x101, 0x102, 0x103]);
  await Promise.all([a.close(), b.close(), c.close()]);
});

test('filters by id and mask, and async iteration ends on close', async () => {
  const network = new VirtualNetwork();
  const tx = new VirtualBus({ channel: 'canb', network });
  const rx = new VirtualBus({ channel: 'canb', network, filters: [{ id: 0x730, mask: 0x7f0 }] });
  const received: number[] = [];
  const reading = (async () => { for await (const frame of rx) received.push(frame.id); })();
  for (const id of [0x730, 0x7df, 0x738, 0x100]) await tx.send(canFrame({ id }));
  await new Promise((r) => setImmediate(r));
  await rx.close();
  await reading;
  assert.deepEqual(received, [0x730, 0x738]);
  await tx.close();
});
