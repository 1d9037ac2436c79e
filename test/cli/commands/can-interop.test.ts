import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseCandump } from '../../../src/can/log/index.ts';
import { tempDir } from '../../support/temp-dir.ts';
import { canotaBin } from '../../support/canota-process.ts';
import { multicastLoopbackSetup, namespaceUnavailableReason, runInNetworkNamespace } from '../../can/bus/fixtures/namespace.ts';

const sender = `
import can, time
bus = can.Bus(interface="udp_multicast", channel="239.74.163.2")
time.sleep(0.2)
bus.send(can.Message(arbitration_id=0x720, is_extended_id=False, data=bytes.fromhex("0322F190")))
bus.send(can.Message(arbitration_id=0x730, is_extended_id=False, is_fd=True, bitrate_switch=True, data=bytes(range(12))))
bus.shutdown()
`;

test('canota can log, on its defaults, records what python-can sends to its default IPv4 group (private namespace)', async (t) => {
  const reason = namespaceUnavailableReason();
  if (reason) {
    t.skip(reason);
    return;
  }
  const dir = await tempDir(t);
  const log = join(dir, 'cant.log');
  const run = await runInNetworkNamespace(`${multicastLoopbackSetup}
"$NODE" "$CANOTA" can log -o "$LOG" --count 2 --duration 20 2> "$DIR/canota.err" &
canota=$!
for i in $(seq 400); do grep -q listening "$DIR/canota.err" && break; sleep 0.05; done
/usr/bin/python3 -c "$SENDER"
wait $canota
cat "$DIR/canota.err" >&2
`, {
    env: { NODE: process.execPath, CANOTA: canotaBin, LOG: log, DIR: dir, SENDER: sender },
    timeoutMs: 40_000,
  });
  assert.equal(run.code, 0, run.stderr);
  const frames = parseCandump(await readFile(log, 'utf8'));
  assert.deepEqual(frames.map((frame) => [frame.id, frame.fd, frame.brs, Buffer.from(frame.data).toString('hex'), frame.channel]), [
    [0x720, false, false, '0322f190', 'cant'],
    [0x730, true, true, '000102030405060708090a0b', 'cant'],
  ]);
  assert.match(run.stderr, /wrote 2 frames/);
});
