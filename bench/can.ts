/**
 * `npm run bench:can`: a UDS download (0x34 / 0x36… / 0x37) of an image from a tester (TMU) to an ECU
 * over ISO-TP on the virtual bus, side by side in one run:
 *
 * - WITH the bit-timing model (classic 500 kbit/s; CAN FD 500 kbit/s / 2 Mbit/s, 64-byte frames):
 *   achieved payload rate against the theoretical ISO-TP limit for the same frames — the image bytes
 *   divided by the wire time of the first and consecutive frames that carried them (stuff bits counted
 *   as the wire counts them), i.e. what those frames could do back to back with no gap, no flow control
 *   and no UDS request/response in between. Target: >= 0.9. The usual quoted limit (no stuff bits,
 *   computed by isoTpPayloadLimitBytesPerSecond: ~31.5 kB/s classic, ~189 kB/s FD-64) is printed too.
 * - WITHOUT the timing model: frames/s the stack sustains (CPU bound), both directions counted, against
 *   the bare virtual bus moving the same number of frames node to node in the same run. Target: >= 100,000 frames/s.
 *
 * The receiver announces BS = 0 and STmin = 0; the ECU accepts 64 KiB blocks.
 * Environment: BENCH_MIB (default 1) image size, BENCH_RUNS (default 3) runs of the CPU-bound part
 * (median reported), BENCH_TIMED_RUNS (default 1) runs of each timed download.
 */
import { performance } from 'node:perf_hooks';
import { randomBytes } from 'node:crypto';
import type { CanFrame } from '../src/can/bus/frame.ts';
import {
  frameDurationSeconds, isoTpPayloadLimitBytesPerSecond, type BusTiming,
} from '../src/can/bus/timing.ts';
import { VirtualBus, VirtualNetwork } from '../src/can/bus/virtual.ts';
import { IsoTpChannel, type IsoTpChannelOptions } from '../src/can/isotp/index.ts';
import {
  DiagnosticSessionType, UdsClient, UdsServer, computeSecurityKey, downloadImage,
} from '../src/can/uds/index.ts';

const imageBytes = Math.round(Number(process.env.BENCH_MIB ?? 1) * 1024 * 1024);
const cpuRuns = Number(process.env.BENCH_RUNS ?? 3);
const timedRuns = Number(process.env.BENCH_TIMED_RUNS ?? 1);
const BLOCK = 64 * 1024 + 2;
const SECRET = 'bench-secret';

interface Bus {
  name: string;
  fd: boolean;
  timing: BusTiming;
}

const buses: Bus[] = [
  { name: 'classic 500 kbit/s', fd: false, timing: { bitrate: 500_000 } },
  { name: 'FD 500k/2M, 64 B', fd: true, timing: { bitrate: 500_000, dataBitrate: 2_000_000 } },
];

interface DownloadRun {
  seconds: number;
  /** Frames on the bus during the download, both directions. */
  frames: number;
  /** Wire time of the FF/CF frames the tester sent (timed runs). */
  dataFrameSeconds: number;
  busLoadPercent: number | undefined;
}

/** One tester and one ECU (a flash image in memory) on a fresh virtual channel; one full download. */
async function download(bus: Bus, timed: boolean, image: Uint8Array): Promise<DownloadRun> {
  const network = new VirtualNetwork();
  const options = timed ? { channel: 'canb', network, timing: bus.timing } : { channel: 'canb', network };
  const testerBus = new VirtualBus(options);
  const ecuBus = new VirtualBus(options);
  const isotp: Omit<IsoTpChannelOptions, 'txId' | 'rxId'> = { fd: bus.fd, blockSize: 0, stMin: 0, maxMessageLength: BLOCK };
  const flash = new Uint8Array(image.length);
  const server = new UdsServer({
    security: { secret: SECRET },
    download: {
      maxNumberOfBlockLength: BLOCK,
      onRequestDownload: () => {},
      onTransferData: (data, { offset }) => { flash.set(data, offset); },
    },
  });
  server.listenOnBus(ecuBus, { requestId: 0x730, responseId: 0x738, functionalId: 0x7df }, isotp);
  const channel = new IsoTpChannel(testerBus, { ...isotp, txId: 0x730, rxId: 0x738 });
  const client = new UdsClient(channel, { p2Ms: 2000 });
  let dataFrameSeconds = 0;
  // Only the timed runs watch the traffic: computing a frame's exact bits costs more than moving it.
  const stopWatching = timed ? testerBus.onTraffic((frame: CanFrame, direction) => {
    const pci = frame.data[0]! >> 4;
    if (direction === 'tx' && frame.id === 0x730 && (pci === 1 || pci === 2)) dataFrameSeconds += frameDurationSeconds(frame, bus.timing);
  }) : () => {};
  try {
    await client.diagnosticSessionControl(DiagnosticSessionType.Programming);
    await client.unlock(1, (seed) => computeSecurityKey(SECRET, seed));
    const framesBefore = testerBus.statistics.framesSent + ecuBus.statistics.framesSent;
    const wireBefore = testerBus.wireStatistics();
    dataFrameSeconds = 0;
    const started = performance.now();
    await downloadImage(client, image, { memoryAddress: 0 });
    const seconds = (performance.now() - started) / 1000;
    const wireAfter = testerBus.wireStatistics();
    if (!Buffer.from(flash).equals(Buffer.from(image))) throw new Error('the ECU holds a different image');
    return {
      seconds,
      frames: testerBus.statistics.framesSent + ecuBus.statistics.framesSent - framesBefore,
      dataFrameSeconds,
      busLoadPercent: wireBefore && wireAfter
        ? (100 * (wireAfter.busySeconds - wireBefore.busySeconds)) / (wireAfter.elapsedSeconds - wireBefore.elapsedSeconds)
        : undefined,
    };
  } finally {
    stopWatching();
    client.close();
    await server.close();
    channel.close();
    await Promise.all([testerBus.close(), ecuBus.close()]);
  }
}

/** The reference: the bare virtual bus moving `count` frames from one node to a listening other, 32 in flight. */
async function rawBus(fd: boolean, count: number): Promise<number> {
  const network = new VirtualNetwork();
  const a = new VirtualBus({ channel: 'raw', network });
  const b = new VirtualBus({ channel: 'raw', network });
  let received = 0;
  b.onFrame(() => { received += 1; });
  const data = new Uint8Array(fd ? 64 : 8);
  const frame: CanFrame = { id: 0x730, extended: false, fd, brs: fd, esi: false, remote: false, error: false, data, dlc: data.length };
  const started = performance.now();
  const window: Promise<void>[] = [];
  for (let sent = 0; sent < count; sent += 1) {
    if (window.length === 32) await window.shift();
    window.push(a.send(frame));
  }
  await Promise.all(window);
  const seconds = (performance.now() - started) / 1000;
  if (received !== count) throw new Error(`raw bus delivered ${received} of ${count}`);
  await Promise.all([a.close(), b.close()]);
  return count / seconds;
}

const median = (values: number[]): number => [...values].sort((x, y) => x - y)[Math.floor(values.length / 2)]!;
const kB = (bytesPerSecond: number): string => `${(bytesPerSecond / 1000).toFixed(1)} kB/s`;
const pad = (text: string, width: number): string => text.padEnd(width);

async function main(): Promise<void> {
  const image = new Uint8Array(randomBytes(imageBytes));
  console.log(`UDS download of ${(imageBytes / 1024 / 1024).toFixed(2)} MiB (random data), blocks of ${BLOCK - 2} B, BS=0 STmin=0\n`);

  console.log('WITH the bit-timing model (exact stuff bits):');
  for (const bus of buses) {
    const quoted = isoTpPayloadLimitBytesPerSecond({ timing: bus.timing, fd: bus.fd, frameDataLength: bus.fd ? 64 : 8 });
    for (let run = 0; run < timedRuns; run += 1) {
      const result = await download(bus, true, image);
      const achieved = imageBytes / result.seconds;
      const sameFrames = imageBytes / result.dataFrameSeconds;
      console.log(`  ${pad(bus.name, 20)} ${result.seconds.toFixed(2)} s  achieved ${pad(kB(achieved), 12)}`
        + ` limit for the same frames ${pad(kB(sameFrames), 12)} ratio ${(achieved / sameFrames).toFixed(3)} (target >= 0.9)`
        + `  | quoted limit without stuffing ${kB(quoted)} (${(achieved / quoted).toFixed(3)}), bus load ${result.busLoadPercent?.toFixed(1)} %`);
    }
  }

  console.log('\nWITHOUT the timing model (CPU bound):');
  for (const bus of buses) {
    const stack: number[] = [];
    const raw: number[] = [];
    let frames = 0;
    for (let run = 0; run < cpuRuns; run += 1) {
      const result = await download(bus, false, image);
      frames = result.frames;
      stack.push(result.frames / result.seconds);
      raw.push(await rawBus(bus.fd, result.frames));
    }
    const stackRate = median(stack);
    const rawRate = median(raw);
    console.log(`  ${pad(bus.name, 20)} ${frames} frames  stack ${pad(`${Math.round(stackRate).toLocaleString('en')} frames/s`, 20)}`
      + ` (target >= 100,000)  bare virtual bus ${Math.round(rawRate).toLocaleString('en')} frames/s  ratio ${(stackRate / rawRate).toFixed(2)}`
      + `  [runs: ${stack.map((rate) => Math.round(rate / 1000)).join(', ')} k]`);
  }
}

await main();
