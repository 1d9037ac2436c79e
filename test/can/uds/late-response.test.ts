import { test } from 'node:test';
import assert from 'node:assert/strict';
import { VirtualBus, VirtualNetwork } from '../../../src/can/bus/index.ts';
import { IsoTpChannel } from '../../../src/can/isotp/index.ts';
import { UdsClient, downloadImage } from '../../../src/can/uds/index.ts';

/**
 * A busy ECU answers a TransferData block after the tester's P2 has run out. The tester repeats the block;
 * the ECU acknowledges the repeat too. The second acknowledgement of block 1 then reaches the tester while it
 * waits for block 2's: it must be skipped, not taken for (or refused as) block 2's answer.
 */
test('a late duplicate TransferData acknowledgement is skipped, and the download completes', async (t) => {
  const network = new VirtualNetwork();
  const testerBus = new VirtualBus({ channel: 'canb', network });
  const ecuBus = new VirtualBus({ channel: 'canb', network });
  const testerChannel = new IsoTpChannel(testerBus, { txId: 0x730, rxId: 0x738 });
  const ecuChannel = new IsoTpChannel(ecuBus, { txId: 0x738, rxId: 0x730 });
  t.after(async () => {
    testerChannel.close();
    ecuChannel.close();
    await Promise.all([testerBus.close(), ecuBus.close()]);
  });

  const image = Uint8Array.from({ length: 30 }, (_, i) => i);
  const received: number[][] = [];
  const ecu = (async () => {
    let firstBlockSeen = false;
    for (;;) {
      let request: Uint8Array;
      try {
        request = await ecuChannel.receive({ timeoutMs: 3000 });
      } catch {
        return;
      }
      if (request[0] === 0x34) await ecuChannel.send(Uint8Array.of(0x74, 0x20, 0x00, 12)); // 12-byte blocks
      else if (request[0] === 0x36) {
        const counter = request[1]!;
        if (counter === 1 && !firstBlockSeen) {
          firstBlockSeen = true;
          received.push([...request.subarray(2)]);
          await new Promise((resolve) => setTimeout(resolve, 250)); // past the tester's P2 of 100 ms
        } else if (!(counter === 1 && received.length === 1)) {
          received.push([...request.subarray(2)]);
        }
        await ecuChannel.send(Uint8Array.of(0x76, counter));
      } else if (request[0] === 0x37) {
        await ecuChannel.send(Uint8Array.of(0x77));
        return;
      }
    }
  })();

  const client = new UdsClient(testerChannel, { p2Ms: 100, testerPresentIntervalMs: 0 });
  const result = await downloadImage(client, image, { memoryAddress: 0 });
  await ecu;
  assert.equal(result.blocks, 3);
  assert.deepEqual(received.flat(), [...image], 'each block stored once, in order');
});
