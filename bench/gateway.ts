/**
 * The CGW's cost on a flash: a 1 MiB UDS download (0x34/0x36…/0x37) to EDT over bit-timed virtual buses,
 * once with tester and ECU on one segment (the reference, measured in the same run) and once through the
 * gateway (tester on CAN-T, ECU on CAN-B). Prints both times and the ratio; the target is ≥ 0.9.
 *
 *   node --import tsx bench/gateway.ts [--classic] [--size BYTES]
 */
import { performance } from 'node:perf_hooks';
import { VirtualBus, VirtualNetwork, type Bus } from '../src/can/bus/index.ts';
import { IsoTpChannel } from '../src/can/isotp/index.ts';
import { UdsClient, UdsServer, downloadImage } from '../src/can/uds/index.ts';
import { parseVehicleConfig, standardVehicleConfig, type VehicleConfig } from '../src/vehicle/config.ts';
import { isoTpFrameOptions } from '../src/vehicle/network.ts';
import { Gateway } from '../src/vehicle/cgw/gateway.ts';

const classic = process.argv.includes('--classic');
const sizeArgument = process.argv.indexOf('--size');
const size = sizeArgument > 0 ? Number(process.argv[sizeArgument + 1]) : 1 << 20;

function vehicleConfig(): VehicleConfig {
  const base = standardVehicleConfig('WVWZZZ1JZXW000001', { fd: !classic, timing: true });
  return parseVehicleConfig(base);
}

async function flash(config: VehicleConfig, throughGateway: boolean): Promise<number> {
  const network = new VirtualNetwork();
  const timing = (name: string) => {
    const bus = config.buses[name]!;
    return { bitrate: bus.bitrate, ...(bus.fd ? { dataBitrate: bus.dataBitrate } : {}) };
  };
  const open = (name: string): Bus => new VirtualBus({ channel: name, network, timing: timing(name) });
  const testerBus = open(throughGateway ? 'cant' : 'canb');
  const ecuBus = open('canb');
  const gatewayBuses = throughGateway ? { cant: open('cant'), canb: open('canb') } : null;
  const gateway = gatewayBuses ? new Gateway({ config, buses: gatewayBuses }) : null;
  gateway?.open(['EDT']);

  const isotp = isoTpFrameOptions(config.buses.canb!);
  const server = new UdsServer({
    download: { maxNumberOfBlockLength: 4095, onRequestDownload: () => undefined, onTransferData: () => undefined },
  });
  server.listenOnBus(ecuBus, { requestId: 0x730, responseId: 0x738 }, isotp);
  const channel = new IsoTpChannel(testerBus, { txId: 0x730, rxId: 0x738, ...isotp });
  const client = new UdsClient(channel, { p2Ms: 1000 });
  try {
    await client.diagnosticSessionControl(0x02);
    const image = new Uint8Array(size).fill(0x5a);
    const started = performance.now();
    await downloadImage(client, image, { memoryAddress: 0 });
    return (performance.now() - started) / 1000;
  } finally {
    client.close();
    channel.close();
    await server.close();
    gateway?.stop();
    await Promise.all([testerBus, ecuBus, ...Object.values(gatewayBuses ?? {})].map((bus) => bus.close()));
  }
}

const config = vehicleConfig();
const label = classic ? 'classic CAN 500 kbit/s' : 'CAN FD 500 kbit/s / 2 Mbit/s';
const direct = await flash(config, false);
const gatewayed = await flash(config, true);
console.log(`${(size / 1024).toFixed(0)} KiB UDS download, ${label}`);
console.log(`  one segment (reference): ${direct.toFixed(2)} s (${(size / 1024 / direct).toFixed(1)} KiB/s)`);
console.log(`  through the CGW:         ${gatewayed.toFixed(2)} s (${(size / 1024 / gatewayed).toFixed(1)} KiB/s)`);
console.log(`  ratio (reference / through the CGW): ${(direct / gatewayed).toFixed(3)}`);
