/**
 * npm run bench:vehicle — time to flash a 1 MiB image into EDT, the way the TMU does it: through the CGW
 * (tester on CAN-T, EDT on CAN-B, the firewall opened by a real approval), with the real bootloader,
 * FlashSession (programming session, security access, erase, 0x34/0x36…/0x37, the signed-manifest check),
 * A/B banks on disk and flash time set to zero, over virtual buses with the bit-timing model. Printed as a
 * ratio to the theoretical ISO-TP limit of that bus (back-to-back consecutive frames, no stuff bits), computed
 * in the same run. Target: >= 0.85, classic 500 kbit/s and CAN FD 500k/2M.
 *
 *   npm run bench:vehicle [-- --size BYTES]
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { Writable } from 'node:stream';
import { VirtualBus, VirtualNetwork, isoTpPayloadLimitBytesPerSecond } from '../src/can/bus/index.ts';
import { IsoTpChannel } from '../src/can/isotp/index.ts';
import { UdsClient } from '../src/can/uds/index.ts';
import { generateSigningKey, publicKeyToText } from '../src/crypto/ed25519.ts';
import { signManifest } from '../src/crypto/manifest.ts';
import { parseVehicleConfig, standardVehicleConfig } from '../src/vehicle/config.ts';
import { Ecu } from '../src/vehicle/ecu/ecu.ts';
import { ApprovalClient } from '../src/vehicle/cgw/approval-client.ts';
import { CentralGateway } from '../src/vehicle/cgw/central-gateway.ts';
import { PolicyHmi } from '../src/vehicle/cgw/hmi/policy.ts';
import { ecuByName, isoTpFrameOptions } from '../src/vehicle/network.ts';
import { FlashSession } from '../src/vehicle/tmu/flash-session.ts';
import { ApprovalChannelTester } from '../src/vehicle/cgw/approval-channel.ts';

const sizeArgument = process.argv.indexOf('--size');
const size = sizeArgument > 0 ? Number(process.argv[sizeArgument + 1]) : 1 << 20;
const TARGET = 0.85;

interface Result { label: string; programSeconds: number; activateSeconds: number; limitBytesPerSecond: number }

async function flashEdt(fd: boolean): Promise<Result> {
  const key = generateSigningKey();
  const base = standardVehicleConfig('WVWZZZ1JZXW000001', { fd, timing: true });
  const config = parseVehicleConfig({ ...base, trustedKeys: [publicKeyToText(key.publicKey)] });
  const bus = config.buses.canb!;
  const timing = { bitrate: bus.bitrate, ...(fd ? { dataBitrate: bus.dataBitrate } : {}) };
  const stateDir = await mkdtemp(join(tmpdir(), 'canota-bench-vehicle-'));
  const network = new VirtualNetwork();
  const open = (channel: string) => new VirtualBus({ channel, network, timing });
  const tmuBus = open('cant');
  const quiet = new Writable({ write: (_chunk, _encoding, done) => done() });
  const cgw = await CentralGateway.start({
    config, hmi: new PolicyHmi('auto', { warn: quiet }), stateDir, buses: { cant: open('cant'), canb: open('canb') },
    ecu: { rebootMs: 0 },
  });
  const edt = await Ecu.start({ config, name: 'EDT', stateDir, bus: open('canb'), rebootMs: 0 });
  const approval = ApprovalClient.forVehicle(tmuBus, config, await ApprovalChannelTester.forTester(config, stateDir));
  const channel = new IsoTpChannel(tmuBus, { txId: 0x730, rxId: 0x738, ...isoTpFrameOptions(bus) });
  const client = new UdsClient(channel);
  const session = new FlashSession({ client, ecu: ecuByName(config, 'EDT'), authority: approval });
  try {
    const image = randomBytes(size);
    const sha256 = createHash('sha256').update(image).digest('hex');
    await approval.offer({ campaign_id: 'bench', ecus: [{ name: 'EDT', from: '1.0.0', to: '2.0.0', size, sha256 }] });
    const decision = await approval.waitForDecision({ intervalMs: 10 });
    if (decision.state !== 'approved') throw new Error(`the CGW did not approve: ${decision.state}`);
    const manifest = signManifest({
      _type: 'canota/release', release_id: 'bench', filename: 'edt.bin', ecu: 'EDT', firmware_version: '2.0.0',
      size, sha256, created_at: new Date().toISOString(),
    }, key);
    const started = performance.now();
    await session.program(image, manifest);
    const programmed = performance.now();
    const boot = await session.activate();
    const activated = performance.now();
    if (boot.version !== '2.0.0' || boot.sha256 !== sha256) throw new Error(`EDT booted ${boot.version} (${boot.sha256})`);
    await approval.finish({ outcome: 'success', ecus: { EDT: { outcome: 'success', version: '2.0.0' } } });
    return {
      label: fd ? 'CAN FD 500 kbit/s / 2 Mbit/s, 64-byte frames' : 'classic CAN 500 kbit/s, 8-byte frames',
      programSeconds: (programmed - started) / 1000,
      activateSeconds: (activated - programmed) / 1000,
      limitBytesPerSecond: isoTpPayloadLimitBytesPerSecond({ timing, fd, frameDataLength: fd ? 64 : 8 }),
    };
  } finally {
    client.close();
    channel.close();
    await approval.close();
    await edt.close();
    await cgw.close();
    await tmuBus.close();
    await rm(stateDir, { recursive: true, force: true });
  }
}

console.log(`bench:vehicle — flashing ${(size / 1024).toFixed(0)} KiB into EDT through the CGW, bit-timed buses, flash time 0`);
let failed = false;
for (const fd of [false, true]) {
  const result = await flashEdt(fd);
  const limitSeconds = size / result.limitBytesPerSecond;
  const ratio = limitSeconds / result.programSeconds;
  failed ||= ratio < TARGET;
  console.log(`\n${result.label}`);
  console.log(`  ISO-TP limit of the bus (reference): ${(result.limitBytesPerSecond / 1000).toFixed(1)} kB/s → ${limitSeconds.toFixed(2)} s`);
  console.log(`  session + security + erase + download + check: ${result.programSeconds.toFixed(2)} s (${(size / result.programSeconds / 1000).toFixed(1)} kB/s)`);
  console.log(`  reset, boot check, confirm: ${(result.activateSeconds * 1000).toFixed(0)} ms`);
  console.log(`  ratio to the limit: ${ratio.toFixed(3)} (target >= ${TARGET}) ${ratio >= TARGET ? 'ok' : 'BELOW TARGET'}`);
}
process.exitCode = failed ? 1 : 0;
