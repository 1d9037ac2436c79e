import assert from 'node:assert/strict';
import { readdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { IsoTpChannel } from '../../../src/can/isotp/index.ts';
import { UdsClient, UdsServer, UdsTimeoutError, downloadImage } from '../../../src/can/uds/index.ts';
import { parseVehicleConfig, standardVehicleConfig, VehicleConfigError } from '../../../src/vehicle/config.ts';
import { isoTpFrameOptions } from '../../../src/vehicle/network.ts';
import { Gateway } from '../../../src/vehicle/cgw/gateway.ts';
import { StatisticsFile, firewallStatisticsPath, readFirewallStatistics } from '../../../src/vehicle/cgw/statistics-file.ts';
import { tempDir } from '../../support/temp-dir.ts';
import { VIN, eventually, eventuallyAsync, frame, recorder, twoSegments } from './support.ts';

test('configured routes pass at all times; everything else is dropped and counted per segment and id', async (t) => {
  const { config, gatewayBuses, tmu, edt } = twoSegments(t);
  const gateway = new Gateway({ config, buses: gatewayBuses });
  t.after(() => gateway.stop());
  const atTmu = recorder(tmu);
  const atEdt = recorder(edt);

  await edt.send(frame(0x530, [1, 0, 0, 0, 0, 0, 0, 0]));   // EDT_Status: configured route CAN-B → CAN-T
  await edt.send(frame(0x123));                             // unknown id on CAN-B
  await edt.send(frame(0x738));                             // EDT's diagnostic response, firewall closed
  await tmu.send(frame(0x730));                             // request to EDT, firewall closed
  await tmu.send(frame(0x7df));                             // functional request: served by the CGW only
  await tmu.send(frame(0x710));                             // the CGW's own request id
  await tmu.send(frame(0x530));                             // EDT_Status from the wrong side
  await tmu.send(frame(0x530));

  await eventually(() => gateway.statistics().totals.dropped + gateway.statistics().totals.local >= 7, 'all frames counted');
  await sleep(20);
  assert.deepEqual(atTmu.map((f) => f.id), [0x530]);
  assert.deepEqual(atEdt.map((f) => f.id), [], 'nothing reaches CAN-B while the firewall is closed');

  const statistics = gateway.statistics();
  assert.equal(statistics.gateway, 'CGW');
  assert.equal(statistics.firewall.open, false);
  assert.deepEqual(statistics.segments.canb, {
    forwarded: { '0x530': 1 }, dropped: { '0x123': 1, '0x738': 1 }, local: 0, unroutable: 0, errorFrames: 0,
  });
  assert.deepEqual(statistics.segments.cant, {
    forwarded: {}, dropped: { '0x530': 2, '0x730': 1 }, local: 2, unroutable: 0, errorFrames: 0,
  });
  assert.deepEqual(statistics.totals, { forwarded: 1, dropped: 5, local: 2 });
});

test('diagnostic ids of approved ECUs pass both ways while open; the CGW and TMU ids never; closed again after stop', async (t) => {
  const { config, gatewayBuses, tmu, edt } = twoSegments(t);
  const gateway = new Gateway({ config, buses: gatewayBuses });
  t.after(() => gateway.stop());
  const atTmu = recorder(tmu);
  const atEdt = recorder(edt);
  const events: string[] = [];
  gateway.on('opened', (state) => events.push(`opened ${state.ecus.join(',')}`));
  gateway.on('closed', (state) => events.push(`closed ${state.closeReason}`));

  const state = gateway.open(['EDT', 'CGW']);
  assert.deepEqual(state.ecus, ['EDT'], 'the CGW itself is served locally, not forwarded');
  await tmu.send(frame(0x730, [0x02, 0x10, 0x02]));
  await tmu.send(frame(0x7df, [0x02, 0x3e, 0x80]));
  await tmu.send(frame(0x710, [0x02, 0x10, 0x03]));
  await tmu.send(frame(0x720));
  await edt.send(frame(0x738, [0x06, 0x50, 0x02]));
  await edt.send(frame(0x718));                            // a CGW response id appearing on CAN-B: dropped
  await eventually(() => atEdt.length === 2 && atTmu.length === 1, 'forwarded frames');
  assert.deepEqual(atEdt.map((f) => f.id), [0x730, 0x7df]);
  assert.deepEqual([...atEdt[0]!.data], [0x02, 0x10, 0x02], 'payload unchanged');
  assert.deepEqual(atTmu.map((f) => f.id), [0x738]);

  gateway.close('stop');
  await tmu.send(frame(0x730));
  await edt.send(frame(0x738));
  await sleep(20);
  assert.equal(atEdt.length, 2);
  assert.equal(atTmu.length, 1);
  const statistics = gateway.statistics();
  assert.equal(statistics.firewall.open, false);
  assert.equal(statistics.firewall.closeReason, 'stop');
  assert.deepEqual(statistics.segments.cant!.forwarded, { '0x730': 1, '0x7DF': 1 });
  assert.deepEqual(statistics.segments.cant!.dropped, { '0x720': 1, '0x730': 1 });
  assert.equal(statistics.segments.cant!.local, 1);
  assert.deepEqual(statistics.segments.canb!.dropped, { '0x718': 1, '0x738': 1 });
  assert.deepEqual(events, ['opened EDT', 'closed stop']);
});

test('the firewall closes by itself after the inactivity period, not while diagnostic traffic flows', async (t) => {
  const { config, gatewayBuses, tmu, edt } = twoSegments(t);
  const gateway = new Gateway({ config, buses: gatewayBuses, inactivityMs: 300 });
  t.after(() => gateway.stop());
  const atEdt = recorder(edt);
  const closed: string[] = [];
  gateway.on('closed', (state) => closed.push(state.closeReason!));

  gateway.open(['EDT']);
  let lastSent = 0;
  for (let i = 0; i < 10; i += 1) {
    await tmu.send(frame(0x730, [i]));
    lastSent = Date.now();
    await sleep(40);
  }
  assert.equal(gateway.firewall.open, true, '400 ms of traffic every 40 ms keeps it open');
  assert.equal(atEdt.length, 10);

  // Non-diagnostic traffic does not count as activity.
  const started = Date.now();
  while (gateway.firewall.open) {
    await tmu.send(frame(0x520));
    await sleep(10);
    assert.ok(Date.now() - started < 2000, 'closed within the period plus one check');
  }
  assert.ok(Date.now() - lastSent >= 300, `closed ${Date.now() - lastSent} ms after the last diagnostic frame, not before the period`);
  assert.deepEqual(closed, ['inactivity']);
  await tmu.send(frame(0x730));
  await sleep(20);
  assert.equal(atEdt.length, 10, 'no longer forwarded');
});

test('frame order is kept across the gateway, also on timed wires', async (t) => {
  for (const timed of [false, true]) {
    const { config, gatewayBuses, tmu, edt } = twoSegments(t, standardVehicleConfig(VIN), timed);
    const gateway = new Gateway({ config, buses: gatewayBuses });
    t.after(() => gateway.stop());
    gateway.open(['EDT']);
    const atEdt = recorder(edt);
    const sends = [];
    for (let i = 0; i < 300; i += 1) sends.push(tmu.send(frame(0x730, [i >> 8, i & 0xff], true)));
    await Promise.all(sends);
    await eventually(() => atEdt.length === 300, `300 frames (timed: ${timed})`);
    assert.deepEqual(atEdt.map((f) => (f.data[0]! << 8) | f.data[1]!), [...Array(300).keys()]);
    assert.ok(atEdt.every((f) => f.fd && f.brs), 'FD frames stay FD with bit rate switch');
  }
});

test('a UDS exchange to an ECU behind the gateway works only while the firewall is open', async (t) => {
  const { config, gatewayBuses, tmu, edt } = twoSegments(t);
  const gateway = new Gateway({ config, buses: gatewayBuses });
  t.after(() => gateway.stop());
  const isotp = isoTpFrameOptions(config.buses.canb!);
  const flash = new Uint8Array(96 * 1024);
  const server = new UdsServer({
    dids: { 0xf189: { read: () => new TextEncoder().encode('1.0.0') } },
    download: {
      maxNumberOfBlockLength: 4095,
      onRequestDownload: () => undefined,
      onTransferData: (data, { offset }) => { flash.set(data, offset); },
    },
  });
  server.listenOnBus(edt, { requestId: 0x730, responseId: 0x738, functionalId: 0x7df }, isotp);
  const channel = new IsoTpChannel(tmu, { txId: 0x730, rxId: 0x738, ...isotp });
  const client = new UdsClient(channel, { p2Ms: 200 });
  t.after(async () => {
    client.close();
    channel.close();
    await server.close();
  });

  await assert.rejects(client.readDataByIdentifier(0xf189), UdsTimeoutError, 'firewall closed: no answer');

  gateway.open(['EDT']);
  assert.equal(new TextDecoder().decode(await client.readDataByIdentifier(0xf189)), '1.0.0');
  await client.diagnosticSessionControl(0x02);
  const image = Uint8Array.from({ length: flash.length }, (_, i) => (i * 31 + 7) & 0xff);
  const result = await downloadImage(client, image, { memoryAddress: 0 });
  assert.equal(result.bytes, image.length);
  assert.deepEqual(flash, image, 'multi-frame transfers with flow control cross the gateway both ways');

  await client.diagnosticSessionControl(0x01);
  gateway.close('stop');
  await assert.rejects(client.readDataByIdentifier(0xf189), UdsTimeoutError, 'closed again');
  const statistics = gateway.statistics();
  assert.ok(statistics.segments.cant!.forwarded['0x730']! > 1000);
  assert.ok(statistics.segments.canb!.forwarded['0x738']! > 10, 'flow control and responses went back');
  assert.ok(statistics.segments.cant!.dropped['0x730']! >= 2);
});

test('an FD frame is not forwarded to a classic segment and is counted as unroutable', async (t) => {
  const base = standardVehicleConfig(VIN);
  const config = parseVehicleConfig({ ...base, buses: { ...base.buses, canb: { ...base.buses.canb, fd: false } } });
  const { gatewayBuses, tmu, edt } = twoSegments(t, config);
  const gateway = new Gateway({ config, buses: gatewayBuses });
  t.after(() => gateway.stop());
  const atEdt = recorder(edt);
  gateway.open(['EDT']);
  await tmu.send(frame(0x730, [1, 2, 3], true));
  await tmu.send(frame(0x730, [4, 5, 6], false));
  await eventually(() => atEdt.length === 1, 'the classic frame');
  const cant = gateway.statistics().segments.cant!;
  assert.equal(cant.unroutable, 1);
  assert.deepEqual(cant.forwarded, { '0x730': 1 });
  assert.deepEqual(cant.dropped, { '0x730': 1 });
});

test('a configured route may not carry a diagnostic id', () => {
  const base = standardVehicleConfig(VIN);
  const config = parseVehicleConfig({ ...base, gateway: { ecu: 'CGW', routes: [{ from: 'canb', to: 'cant', ids: [0x530, 0x738] }] } });
  assert.throws(() => new Gateway({ config, buses: {} }), (error: Error) =>
    error instanceof VehicleConfigError && /diagnostic id 0x738/.test(error.message));
});

test('statistics are written atomically to <state-dir>/ecus/CGW/firewall.json, only when they change', async (t) => {
  const { config, gatewayBuses, edt } = twoSegments(t);
  const gateway = new Gateway({ config, buses: gatewayBuses });
  t.after(() => gateway.stop());
  const stateDir = await tempDir(t);
  const path = firewallStatisticsPath(stateDir);
  assert.equal(path, `${stateDir}/ecus/CGW/firewall.json`);
  assert.equal(await readFirewallStatistics(path), null);

  const file = new StatisticsFile(path, () => gateway.statistics(), { intervalMs: 20 });
  file.start();
  t.after(() => file.stop());
  await edt.send(frame(0x530));
  await edt.send(frame(0x123));
  const statistics = await eventuallyAsync(async () => {
    const current = await readFirewallStatistics(path);
    return current?.totals.forwarded === 1 && current.totals.dropped === 1 && current;
  }, 'statistics written');
  assert.deepEqual(statistics.segments.canb!.forwarded, { '0x530': 1 });
  assert.equal(statistics.firewall.open, false);
  const firstUpdate = statistics.updatedAt;
  await sleep(80);
  assert.equal((await readFirewallStatistics(path))!.updatedAt, firstUpdate, 'unchanged counters are not rewritten');
  assert.deepEqual(await readdir(dirname(path)), ['firewall.json'], 'no temp files left behind');
  await file.stop();
});
