import { test } from 'node:test';
import assert from 'node:assert/strict';
import { VirtualBus, VirtualNetwork } from '../../../src/can/bus/index.ts';
import { IsoTpChannel } from '../../../src/can/isotp/index.ts';
import { DiagnosticSessionType, NegativeResponseCode, NegativeResponseError, UdsClient } from '../../../src/can/uds/index.ts';
import { standardVehicleConfig } from '../../../src/vehicle/config.ts';
import { BootloaderDid, decodeBootState } from '../../../src/vehicle/ecu/protocol.ts';
import { isoTpFrameOptions } from '../../../src/vehicle/network.ts';
import { LocalTarget } from '../../../src/vehicle/tmu/local-target.ts';
import { startTmuDiagnostics } from '../../../src/vehicle/tmu/tmu-diagnostics.ts';
import { tempDir } from '../../support/temp-dir.ts';

test('a workshop tester reads the TMU on 0x720/0x728 like any ECU; the TMU refuses to be flashed or reset over the bus', async (t) => {
  const stateDir = await tempDir(t, 'canota-tmu-diag-');
  const config = standardVehicleConfig('WVWZZZ1JZXW000001');
  const network = new VirtualNetwork();
  const tmuBus = new VirtualBus({ channel: 'cant', network });
  const testerBus = new VirtualBus({ channel: 'cant', network });
  const local = await LocalTarget.open({ config, stateDir });
  const server = startTmuDiagnostics({ config, bus: tmuBus, local });
  const channel = new IsoTpChannel(testerBus, { txId: 0x720, rxId: 0x728, ...isoTpFrameOptions(config.buses.cant!) });
  const client = new UdsClient(channel, { testerPresentIntervalMs: 0 });
  t.after(async () => {
    client.close();
    channel.close();
    await server.close();
    await Promise.all([tmuBus.close(), testerBus.close()]);
  });

  const text = async (did: number) => Buffer.from(await client.readDataByIdentifier(did)).toString('ascii');
  assert.equal(await text(BootloaderDid.EcuName), 'TMU');
  assert.equal(await text(BootloaderDid.SoftwareVersion), '1.0.0');
  assert.equal(await text(BootloaderDid.Vin), 'WVWZZZ1JZXW000001');
  assert.equal(Buffer.from(await client.readDataByIdentifier(BootloaderDid.ImageSha256)).toString('hex'), local.banks.activeBank.sha256);
  const boot = decodeBootState(await client.readDataByIdentifier(BootloaderDid.BootState));
  assert.deepEqual([boot.ecu, boot.active, boot.state], ['TMU', 'A', 'Running']);

  const refusedWith = (nrc: number) => (error: Error) => error instanceof NegativeResponseError && error.nrc === nrc;
  await assert.rejects(client.ecuReset(1), refusedWith(NegativeResponseCode.ServiceNotSupported), 'no reset from the bus');
  await client.diagnosticSessionControl(DiagnosticSessionType.ExtendedDiagnostic);
  await assert.rejects(client.diagnosticSessionControl(DiagnosticSessionType.Programming), refusedWith(NegativeResponseCode.ConditionsNotCorrect));
  await assert.rejects(client.ecuReset(1), refusedWith(NegativeResponseCode.ServiceNotSupported), 'in no session');
});
