import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { VirtualBus, VirtualNetwork } from '../../src/can/bus/index.ts';
import { IsoTpChannel } from '../../src/can/isotp/index.ts';
import { NegativeResponseError, UdsClient } from '../../src/can/uds/index.ts';
import { standardVehicleConfig } from '../../src/vehicle/config.ts';
import { Ecu } from '../../src/vehicle/ecu/ecu.ts';
import { ecuByName, isoTpFrameOptions } from '../../src/vehicle/network.ts';
import { tempDir } from '../support/temp-dir.ts';

const hex = (text: string) => Uint8Array.from(Buffer.from(text.replace(/\s/g, ''), 'hex'));
const WRONG_KEY = '27 02 00112233445566778899AABBCCDDEEFF';

/**
 * Attack (issue 10): a node on CAN-B guesses EDT's security-access keys. After 3 wrong keys EDT answers 0x36
 * and refuses seeds (0x37) for 10 s; the attacker then power-cycles EDT (pulls its fuse: the process stops
 * and starts again on the same state dir) to get fresh guesses at once, as every reboot used to give them.
 * The wall clock is the test's, so "10 s later" takes no time.
 */
test('a security-access lockout survives a power cycle: seeds stay refused (0x37) until the delay ends', async (t) => {
  const stateDir = await tempDir(t);
  const config = standardVehicleConfig('WCANTAL0CK0000001');
  const network = new VirtualNetwork();
  let clock = Date.parse('2030-06-01T08:00:00Z');
  const powerOn = () => Ecu.start({ config, name: 'EDT', stateDir, virtualNetwork: network, statusIntervalMs: 0, now: () => clock });
  let edt = await powerOn();
  const attacker = new VirtualBus({ channel: 'canb', network });
  const { requestId, responseId } = ecuByName(config, 'EDT');
  const channel = new IsoTpChannel(attacker, { txId: requestId, rxId: responseId, ...isoTpFrameOptions(config.buses.canb!) });
  const client = new UdsClient(channel, { p2Ms: 300, testerPresentIntervalMs: 0 });
  t.after(async () => {
    client.close();
    channel.close();
    await edt.close();
    await attacker.close();
  });
  const answer = async (...requests: string[]): Promise<string> => {
    let last = '';
    for (const request of requests) {
      try {
        last = Buffer.from((await client.exchange(hex(request)))!).toString('hex');
      } catch (error) {
        if (!(error instanceof NegativeResponseError)) throw error;
        last = `NRC 0x${error.nrc.toString(16)}`;
      }
    }
    return last;
  };
  const guess = () => answer('10 03', '27 01', WRONG_KEY);
  const powerCycle = async () => {
    await edt.close();
    edt = await powerOn();
  };
  const boots = edt.bootRecord.bootCount;

  await t.test('the count of wrong keys survives a power cycle right after a wrong key', async () => {
    assert.equal(await guess(), 'NRC 0x35');
    assert.equal(await guess(), 'NRC 0x35');
    await powerCycle(); // the instant the second 0x35 arrived
    assert.equal(await guess(), 'NRC 0x36', 'the third wrong key, across the power cycle');
    assert.equal(await answer('27 01'), 'NRC 0x37');
  });

  await t.test('neither a reset (refused without security) nor a power cycle ends the delay', async () => {
    assert.equal(await answer('11 01'), 'NRC 0x33');
    await powerCycle();
    assert.equal(await answer('10 03', '27 01'), 'NRC 0x37');
    clock += 9_000;
    await powerCycle();
    assert.equal(await answer('10 03', '27 01'), 'NRC 0x37', '1 s left');
    const saved = JSON.parse(await readFile(join(stateDir, 'ecus', 'EDT', 'security-access.json'), 'utf8')) as { delayedUntil: number };
    assert.equal(saved.delayedUntil, Date.parse('2030-06-01T08:00:10Z'));
  });

  await t.test('when the delay ends, seeds are given again, and 3 more wrong keys lock again', async () => {
    clock += 1_000;
    assert.match(await answer('10 03', '27 01'), /^6701[0-9a-f]{32}$/);
    assert.equal(await answer(WRONG_KEY), 'NRC 0x35');
    assert.equal(await guess(), 'NRC 0x35');
    assert.equal(await guess(), 'NRC 0x36');
    await powerCycle();
    assert.equal(await answer('10 03', '27 01'), 'NRC 0x37');
  });

  await t.test('nothing the attacker did rebooted EDT: every boot was a power cycle', () => {
    assert.equal(edt.bootRecord.bootCount, boots + 4);
  });
});
