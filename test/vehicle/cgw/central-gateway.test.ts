import assert from 'node:assert/strict';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { Writable } from 'node:stream';
import { PolicyHmi } from '../../../src/vehicle/cgw/hmi/policy.ts';
import { FlashSession } from '../../../src/vehicle/tmu/flash-session.ts';
import { readFirewallStatistics, firewallStatisticsPath } from '../../../src/vehicle/cgw/statistics-file.ts';
import { edtOffer, eventuallyAsync, frame, gatewayRig } from './support.ts';

const silent = () => new Writable({ write: (_chunk, _encoding, done) => done() });
const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes);

test('the CGW is an ECU too: its bootloader answers on 0x710 and keeps its banks beside firewall.json', async (t) => {
  const { cgw, approval, edt, stateDir } = await gatewayRig(t, { hmi: new PolicyHmi('auto', { warn: silent() }) });
  assert.equal(text(await approval.uds.readDataByIdentifier(0xf18c)), 'CGW');
  assert.equal(text(await approval.uds.readDataByIdentifier(0xf189)), cgw.config.ecus.find((e) => e.name === 'CGW')!.factoryVersion);
  assert.equal(text(await approval.uds.readDataByIdentifier(0xf190)), cgw.config.vin);

  await edt.send(frame(0x123));
  const path = firewallStatisticsPath(stateDir);
  const statistics = await eventuallyAsync(async () => {
    const current = await readFirewallStatistics(path);
    return current?.segments.canb?.dropped['0x123'] === 1 && current;
  }, 'firewall.json counting the dropped frame');
  assert.equal(statistics.gateway, 'CGW');
  assert.ok(statistics.segments.cant!.local >= 3, 'the requests to the CGW itself are counted as local');
  const files = await readdir(join(stateDir, 'ecus', 'CGW'));
  assert.ok(files.includes('firewall.json'));
  assert.ok(files.length > 1, `the CGW's flash lives there too: ${files.join(', ')}`);
});

test('an approved update survives a reset of the CGW: the client re-opens its session and goes on', async (t) => {
  const { cgw, approval, edtReachable } = await gatewayRig(t, { hmi: new PolicyHmi('auto', { warn: silent() }) });
  const offer = edtOffer();
  offer.ecus.push({ name: 'CGW', from: '1.0.0', to: '2.0.0', size: 1 << 16, sha256: 'cd'.repeat(32) });
  await approval.offer(offer);
  assert.equal((await approval.waitForDecision({ intervalMs: 20 })).state, 'approved');

  // A reset needs the CGW's programming session, unlocked with its own grant, as when the CGW is updated.
  const boot = await new FlashSession({ client: approval.uds, ecu: { name: 'CGW' }, authority: approval, pollIntervalMs: 10 }).activate();
  assert.equal(boot.bootState.bootCount, 2);
  await approval.progress({ ecu: 'EDT', phase: 'resetting', percent: 100 });
  assert.equal(cgw.approval.phase, 'approved');
  assert.equal(await edtReachable(), true);
  await approval.finish({ outcome: 'success', ecus: { EDT: { version: '2.0.0' } } });
  assert.equal(cgw.gateway.firewall.open, false);
});
