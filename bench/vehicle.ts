/**
 * npm run bench:vehicle — time to flash a 1 MiB image into EDT, the way the TMU does it: through the CGW
 * (tester on CAN-T, EDT on CAN-B, the firewall opened by a real approval), with the real bootloader,
 * FlashSession (programming session, security access, erase, 0x34/0x36…/0x37, the signed-manifest check),
 * A/B banks on disk and flash time set to zero, over virtual buses with the bit-timing model. Printed as a
 * ratio to the theoretical ISO-TP limit of that bus (back-to-back consecutive frames, no stuff bits), computed
 * in the same run. Target: >= 0.85, classic 500 kbit/s and CAN FD 500k/2M.
 *
 * Then what authentication costs (issue 10, docs/in-vehicle-security.md): the wire time of the approval
 * and grant messages (128-bit MACs, 64-bit freshness) inside the flash above, the status frames' bus load
 * before (CRC-8) and after (SecOC: 8-bit freshness, 24-bit MAC) on the nominal 500 kbit/s phase, and the
 * CPU time per status-frame MAC computed and verified.
 *
 * Then issue 13: the firmware corpus (npm run corpus, built first if missing; skipped without
 * gcc-arm-none-eabi) flashed plain, deflate- and xz-compressed, as effective image bytes/s against the raw ISO-TP
 * limit, with EDT's measured decoder memory; the server-side cost of xdelta3 deltas per release pair, and each
 * pair flashed as a delta (0x30) into an EDT that runs the older release, with the patcher's memory.
 *
 *   npm run bench:vehicle [-- --size BYTES] [--corpus (the corpus transfers only)]
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { Writable } from 'node:stream';
import {
  VirtualBus, VirtualNetwork, canFrame, frameBitLength, frameDurationSeconds, isoTpPayloadLimitBytesPerSecond, type CanFrame,
} from '../src/can/bus/index.ts';
import { FreshnessCounter, STATUS_FRAME_PROFILE, SecOcReceiver } from '../src/can/secoc/index.ts';
import { encodeStatusFrame, type EcuState, type EcuStatus } from '../src/vehicle/ecu/status-frame.ts';
import { IsoTpChannel } from '../src/can/isotp/index.ts';
import { UdsClient } from '../src/can/uds/index.ts';
import { generateSigningKey, publicKeyToText } from '../src/crypto/ed25519.ts';
import { signManifest } from '../src/crypto/manifest.ts';
import { parseVehicleConfig, standardVehicleConfig, type CompressionMethod } from '../src/vehicle/config.ts';
import { Ecu } from '../src/vehicle/ecu/ecu.ts';
import { ApprovalClient } from '../src/vehicle/cgw/approval-client.ts';
import { CentralGateway } from '../src/vehicle/cgw/central-gateway.ts';
import { PolicyHmi } from '../src/vehicle/cgw/hmi/policy.ts';
import { ecuByName, isoTpFrameOptions } from '../src/vehicle/network.ts';
import { FlashSession } from '../src/vehicle/tmu/flash-session.ts';
import { ApprovalChannelTester } from '../src/vehicle/cgw/approval-channel.ts';
import { firmwareCorpus, type Corpus, type CorpusImage } from '../scripts/firmware-corpus.ts';
import { FlashBanks } from '../src/vehicle/ecu/flash-banks.ts';
import { ecuStateDir } from '../src/vehicle/ecu/state-dir.ts';
import { makeDelta, type MadeDelta } from '../src/server/releases/delta-maker.ts';
import type { DeltaImage } from '../src/vehicle/tmu/delta-image.ts';

const sizeArgument = process.argv.indexOf('--size');
const size = sizeArgument > 0 ? Number(process.argv[sizeArgument + 1]) : 1 << 20;
const corpusOnly = process.argv.includes('--corpus');
const TARGET = 0.85;
/** Issue 13: compressed transfers carry the image at >= 1.5 × the raw ISO-TP limit (reported, not failed on). */
const COMPRESSED_TARGET = 1.5;
/** Issue 13: delta transfers carry the image at >= 5 × the raw ISO-TP limit (reported, not failed on). */
const DELTA_TARGET = 5;

interface Result {
  label: string;
  imageBytes: number;
  /** TransferData bytes EDT received, and its decoder's peak working memory (0 for plain data). */
  transferred: number;
  decoderPeakBytes: number;
  programSeconds: number;
  activateSeconds: number;
  limitBytesPerSecond: number;
  /** The TMU↔CGW messages during programming (approval channel, grants): frames and their wire time. */
  approvalFrames: number;
  approvalWireSeconds: number;
}

/** `delta`: EDT runs `delta.running` (written as its factory image) and gets the image as the delta from it. */
interface DeltaRun {
  running: CorpusImage;
  imagePath: string;
  delta: DeltaImage;
}

async function flashEdt(
  fd: boolean, options: { image?: Uint8Array; compression?: { window: number; methods?: CompressionMethod[] } | null; delta?: DeltaRun } = {},
): Promise<Result> {
  const key = generateSigningKey();
  const base = standardVehicleConfig('WVWZZZ1JZXW000001', { fd, timing: true });
  const config = parseVehicleConfig({ ...base, trustedKeys: [publicKeyToText(key.publicKey)] });
  if (options.compression) {
    ecuByName(config, 'EDT').transfer = { compression: options.compression.methods ?? 'deflate', window: options.compression.window, delta: 'vcdiff' };
  }
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
  if (options.delta) {
    // The car runs the delta's base: EDT's flash starts with it, as if it had been installed before.
    const running = options.delta.running;
    await FlashBanks.open({ directory: ecuStateDir(stateDir, 'EDT'), ecu: 'EDT', factory: { version: running.version, image: await readFile(running.path) } });
  }
  const edt = await Ecu.start({ config, name: 'EDT', stateDir, bus: open('canb'), rebootMs: 0 });
  const approval = ApprovalClient.forVehicle(tmuBus, config, await ApprovalChannelTester.forTester(config, stateDir));
  const channel = new IsoTpChannel(tmuBus, { txId: 0x730, rxId: 0x738, ...isoTpFrameOptions(bus) });
  const client = new UdsClient(channel);
  const session = new FlashSession({ client, ecu: ecuByName(config, 'EDT'), authority: approval, compression: options.compression ?? null });
  // Every frame to and from the CGW's own ids while EDT is programmed: the authenticated grant requests.
  const cgwIds = new Set([ecuByName(config, 'CGW').requestId, ecuByName(config, 'CGW').responseId]);
  let counting = false;
  let approvalFrames = 0;
  let approvalWireSeconds = 0;
  const stopCounting = tmuBus.onTraffic((frame) => {
    if (!counting || !cgwIds.has(frame.id)) return;
    approvalFrames += 1;
    approvalWireSeconds += frameDurationSeconds(frame, timing);
  });
  try {
    const image: Uint8Array = options.image ?? randomBytes(size);
    const imageSize = image.length;
    const sha256 = createHash('sha256').update(image).digest('hex');
    await approval.offer({ campaign_id: 'bench', ecus: [{ name: 'EDT', from: '1.0.0', to: '2.0.0', size: imageSize, sha256 }] });
    const decision = await approval.waitForDecision({ intervalMs: 10 });
    if (decision.state !== 'approved') throw new Error(`the CGW did not approve: ${decision.state}`);
    const manifest = signManifest({
      _type: 'canota/release', release_id: 'bench', filename: 'edt.bin', ecu: 'EDT', firmware_version: '2.0.0',
      size: imageSize, sha256, created_at: new Date().toISOString(),
    }, key);
    const started = performance.now();
    counting = true;
    await session.program(options.delta ? { path: options.delta.imagePath, delta: options.delta.delta } : image, manifest);
    counting = false;
    const programmed = performance.now();
    const transfer = edt.transferStatistics();
    const boot = await session.activate();
    const activated = performance.now();
    if (boot.version !== '2.0.0' || boot.sha256 !== sha256) throw new Error(`EDT booted ${boot.version} (${boot.sha256})`);
    await approval.finish({ outcome: 'success', ecus: { EDT: { outcome: 'success', version: '2.0.0' } } });
    return {
      label: fd ? 'CAN FD 500 kbit/s / 2 Mbit/s, 64-byte frames' : 'classic CAN 500 kbit/s, 8-byte frames',
      imageBytes: imageSize,
      transferred: transfer?.transferred ?? imageSize,
      decoderPeakBytes: transfer?.decoderMemory?.peak ?? 0,
      programSeconds: (programmed - started) / 1000,
      activateSeconds: (activated - programmed) / 1000,
      limitBytesPerSecond: isoTpPayloadLimitBytesPerSecond({ timing, fd, frameDataLength: fd ? 64 : 8 }),
      approvalFrames,
      approvalWireSeconds,
    };
  } finally {
    stopCounting();
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
for (const fd of corpusOnly ? [] : [false, true]) {
  const result = await flashEdt(fd);
  const limitSeconds = size / result.limitBytesPerSecond;
  const ratio = limitSeconds / result.programSeconds;
  failed ||= ratio < TARGET;
  console.log(`\n${result.label}`);
  console.log(`  ISO-TP limit of the bus (reference): ${(result.limitBytesPerSecond / 1000).toFixed(1)} kB/s → ${limitSeconds.toFixed(2)} s`);
  console.log(`  session + security + erase + download + check: ${result.programSeconds.toFixed(2)} s (${(size / result.programSeconds / 1000).toFixed(1)} kB/s)`);
  console.log(`  reset, boot check, confirm: ${(result.activateSeconds * 1000).toFixed(0)} ms`);
  console.log(`  ratio to the limit: ${ratio.toFixed(3)} (target >= ${TARGET}) ${ratio >= TARGET ? 'ok' : 'BELOW TARGET'}`);
  console.log(`  authenticated approval/grant messages during it: ${result.approvalFrames} frames, ${(result.approvalWireSeconds * 1000).toFixed(1)} ms of wire time `
    + `(${(100 * result.approvalWireSeconds / result.programSeconds).toFixed(2)} % of the programming time)`);
}

if (!corpusOnly) await statusFrameCosts();
failed = (await corpusTransfers()) || failed;
process.exitCode = failed ? 1 : 0;

/**
 * Issue 13: the firmware corpus (npm run corpus: real Cortex-M4 builds) flashed plain and compressed, as
 * effective image bytes/s against the raw ISO-TP limit (> 1: faster than the bus carries plain bytes),
 * with EDT's decoder memory; then the server-side cost of binary deltas between the releases (xdelta3).
 */
async function corpusTransfers(): Promise<boolean> {
  let corpus: Corpus;
  try {
    corpus = await firmwareCorpus((line) => console.log(line));
  } catch (error) {
    console.log(`\nfirmware corpus: skipped (${error instanceof Error ? error.message : String(error)})`);
    return false;
  }
  const image = corpus.images.at(-1)!;
  const bytes = new Uint8Array(await readFile(image.path));
  console.log(`\nfirmware corpus: EDT ${image.version}, ${bytes.length} bytes (${corpus.compiler}; SQLite ${corpus.sqlite}, newlib, Cortex-M4 Thumb-2 -Os)`);
  let below = false;
  for (const fd of [false, true]) {
    const rows: { name: string; compression: { window: number; methods: CompressionMethod[] } | null; bound?: string }[] = [
      { name: 'plain', compression: null },
      { name: 'deflate, 32 KiB window', compression: { window: 32 * 1024, methods: ['deflate'] }, bound: 'window + 12 KiB' },
      { name: 'deflate, 4 KiB window', compression: { window: 4 * 1024, methods: ['deflate'] }, bound: 'window + 12 KiB' },
      // 0x20: ARM-Thumb BCJ + LZMA2 (docs/ecu.md); the decoder's bound is the dictionary, probabilities, header buffer, page.
      { name: 'xz, 32 KiB dictionary', compression: { window: 32 * 1024, methods: ['xz'] }, bound: 'window + 33 KiB' },
      { name: 'xz, 4 KiB dictionary', compression: { window: 4 * 1024, methods: ['xz'] }, bound: 'window + 33 KiB' },
    ];
    let best = 0;
    for (const row of rows) {
      const result = await flashEdt(fd, { image: bytes, compression: row.compression });
      if (row === rows[0]) console.log(`  ${result.label}: ISO-TP limit ${(result.limitBytesPerSecond / 1000).toFixed(1)} kB/s (reference, this run)`);
      const effective = result.imageBytes / result.programSeconds;
      const ratio = effective / result.limitBytesPerSecond;
      if (row.compression) best = Math.max(best, ratio);
      console.log(`    ${row.name.padEnd(24)} ${result.programSeconds.toFixed(2).padStart(6)} s, ${String(result.transferred).padStart(7)} bytes on the bus `
        + `(${(result.imageBytes / result.transferred).toFixed(2)}:1), effective ${(effective / 1000).toFixed(1)} kB/s = ${ratio.toFixed(3)} × the limit`
        + `${row.compression ? `, EDT decoder peak ${(result.decoderPeakBytes / 1024).toFixed(1)} KiB (bound: ${row.bound})` : ''}`);
    }
    below ||= best < COMPRESSED_TARGET;
  }
  console.log(`  target for compressed (the best method on each bus): >= ${COMPRESSED_TARGET} × the limit${below ? ' — NOT MET on this corpus' : ' — met'}`);
  const deltas = await deltaCosts(corpus);
  if (deltas.length > 0) await deltaTransfers(deltas);
  return false;
}

/**
 * Delta transfers (0x30): EDT runs the pair's older release and gets the newer one as the xdelta3 delta,
 * applied against its active bank; effective image bytes/s against the raw limit, and the patcher's memory.
 */
async function deltaTransfers(deltas: { from: CorpusImage; to: CorpusImage; made: MadeDelta }[]): Promise<void> {
  console.log(`
delta transfers (dataFormatIdentifier 0x30: EDT applies the VCDIFF delta against the release it runs; target >= ${DELTA_TARGET} × the limit)`);
  for (const fd of [false, true]) {
    for (const { from, to, made } of deltas) {
      const delta: DeltaRun = { running: from, imagePath: to.path, delta: { path: made.path, size: made.size, base: { version: from.version, sha256: from.sha256 } } };
      const result = await flashEdt(fd, { image: new Uint8Array(await readFile(to.path)), delta });
      const effective = result.imageBytes / result.programSeconds;
      const ratio = effective / result.limitBytesPerSecond;
      if (result.transferred !== made.size) throw new Error(`EDT received ${result.transferred} bytes, not the ${made.size}-byte delta`);
      console.log(`  ${result.label}: ${from.version} → ${to.version} ${result.programSeconds.toFixed(2).padStart(6)} s, ${String(result.transferred).padStart(7)} bytes on the bus `
        + `(${(result.imageBytes / result.transferred).toFixed(2)}:1), effective ${(effective / 1000).toFixed(1)} kB/s = ${ratio.toFixed(3)} × the limit `
        + `(limit ${(result.limitBytesPerSecond / 1000).toFixed(1)} kB/s, this run) ${ratio >= DELTA_TARGET ? 'ok' : 'BELOW TARGET'}, `
        + `EDT patcher peak ${(result.decoderPeakBytes / 1024).toFixed(1)} KiB (bound: 3 × 16 KiB + 3 KiB + header)`);
    }
  }
  await rm(dirname(deltas[0]!.made.path), { recursive: true, force: true });
}

/**
 * Server-side cost of a binary delta per release pair, made as the server makes it at upload
 * (src/server/releases/delta-maker.ts: xdelta3 -9 -S none -W 16384, VCDIFF, RFC 3284).
 */
async function deltaCosts(corpus: Corpus): Promise<{ from: CorpusImage; to: CorpusImage; made: MadeDelta }[]> {
  console.log('\nbinary deltas between the corpus releases (server side, at upload: xdelta3 -e -9 -S none -W 16384)');
  const directory = await mkdtemp(join(tmpdir(), 'canota-bench-deltas-'));
  const deltas: { from: CorpusImage; to: CorpusImage; made: MadeDelta }[] = [];
  for (let index = 1; index < corpus.images.length; index += 1) {
    const from = corpus.images[index - 1]!;
    const to = corpus.images[index]!;
    let made: MadeDelta;
    try {
      made = await makeDelta({ base: from.path, baseSha256: from.sha256, target: to.path, out: join(directory, `${from.version}-${to.version}.vcdiff`) });
    } catch (error) {
      console.log(`  skipped: ${error instanceof Error ? error.message : String(error)}`);
      return [];
    }
    deltas.push({ from, to, made });
    console.log(`  ${from.version} → ${to.version}: ${made.size} bytes for a ${to.size}-byte image (${(to.size / made.size).toFixed(1)}:1), made in ${made.milliseconds.toFixed(0)} ms`);
  }
  return deltas;
}

/** The status frames before and after authentication: bits on the wire, bus load, CPU per MAC. */
async function statusFrameCosts(): Promise<void> {
  const samples = 2000;
  const status = (i: number): EcuStatus => ({
    version: [1 + (i % 3), i % 10, i % 7], state: (i % 8) as EcuState, activeBank: i % 2 ? 'B' : 'A', trialPending: i % 5 === 0,
    lastBootRolledBack: false, vehicleMoving: i % 4 === 0,
  });
  const key = randomBytes(32);
  const frames = { before: [] as CanFrame[], after: [] as CanFrame[] };
  for (let i = 0; i < samples; i += 1) {
    frames.before.push(canFrame({ id: 0x530, data: crcStatusFrame(status(i), i) }));
    frames.after.push(canFrame({ id: 0x530, data: encodeStatusFrame(key, 0x530, status(i), BigInt(i + 1)) }));
  }
  const meanBits = (list: CanFrame[]) => list.reduce((sum, frame) => sum + frameBitLength(frame), 0) / list.length;
  const before = meanBits(frames.before);
  const after = meanBits(frames.after);
  // 3 ECUs × 10 frames/s, classic frames at the nominal 500 kbit/s (also on the FD buses: no BRS).
  const load = (bits: number) => (100 * bits * 3 * 10) / 500_000;
  console.log('\nstatus frames (CAN-T: TMU, CGW and the forwarded EDT, 10 frames/s each; classic 8-byte frames at 500 kbit/s, exact stuffing, mean of '
    + `${samples} frames)`);
  console.log(`  before (CRC-8, alive counter, boot count): ${before.toFixed(1)} bits per frame → ${load(before).toFixed(3)} % bus load`);
  console.log(`  after (SecOC: 8-bit freshness, 24-bit MAC): ${after.toFixed(1)} bits per frame → ${load(after).toFixed(3)} % bus load`);
  console.log(`  the same 8-byte frame: ${(after - before).toFixed(1)} bits of stuffing difference, no extra frame, no extra id`);

  const iterations = 20_000;
  const payloadKey = randomBytes(32);
  let t0 = performance.now();
  const secured: Uint8Array[] = [];
  for (let i = 0; i < iterations; i += 1) secured.push(encodeStatusFrame(payloadKey, 0x530, status(i), BigInt(i + 1)));
  const computeUs = ((performance.now() - t0) * 1000) / iterations;
  const receiver = new SecOcReceiver({ key: payloadKey, dataId: 0x530, profile: STATUS_FRAME_PROFILE, authenticLength: 4, resyncAfterSilenceMs: Infinity });
  t0 = performance.now();
  for (const data of secured) if (receiver.verify(data).result !== 'verified') throw new Error('a genuine frame did not verify');
  const verifyUs = ((performance.now() - t0) * 1000) / iterations;
  const forged = secured.map((data) => Uint8Array.from([...data.subarray(0, 5), 0, 0, 0]));
  t0 = performance.now();
  for (const data of forged) receiver.verify(data);
  const rejectUs = ((performance.now() - t0) * 1000) / iterations;
  const silent = new SecOcReceiver({ key: payloadKey, dataId: 0x530, profile: STATUS_FRAME_PROFILE, authenticLength: 4, resyncAfterSilenceMs: 0 });
  t0 = performance.now();
  for (const data of forged.slice(0, 2000)) silent.verify(data);
  const resyncUs = ((performance.now() - t0) * 1000) / 2000;
  console.log('\nstatus-frame MAC, CPU per frame (HMAC-SHA256, node:crypto, this machine)');
  console.log(`  compute (sender): ${computeUs.toFixed(1)} µs; verify a genuine frame: ${verifyUs.toFixed(1)} µs`);
  console.log(`  reject a forged frame: ${rejectUs.toFixed(1)} µs (2 MACs: the candidate and the replay check); `
    + `${resyncUs.toFixed(1)} µs after a silence (18 MACs: 16 resynchronisation attempts)`);
  const counter = await freshnessWriteCost();
  console.log(`  sender freshness: one fsynced file write per ${counter.block} frames (${counter.writeMs.toFixed(1)} ms each here), `
    + `every ${(counter.block / 10 / 60).toFixed(1)} min at 10 frames/s`);
}

/** The status frame as it was before issue 10 (bytes 5–6 boot count and alive counter, byte 7 CRC-8/SAE-J1850). */
function crcStatusFrame(status: EcuStatus, alive: number): Uint8Array {
  const data = new Uint8Array(8);
  data.set(status.version, 0);
  data[3] = status.state;
  data[4] = (status.activeBank === 'B' ? 1 : 0) | (status.trialPending ? 2 : 0) | (status.lastBootRolledBack ? 4 : 0);
  data[5] = 1;
  data[6] = alive & 0xff;
  let crc = 0xff;
  for (const byte of data.subarray(0, 7)) {
    crc ^= byte;
    for (let bit = 0; bit < 8; bit += 1) crc = crc & 0x80 ? ((crc << 1) ^ 0x1d) & 0xff : (crc << 1) & 0xff;
  }
  data[7] = crc ^ 0xff;
  return data;
}

async function freshnessWriteCost(): Promise<{ block: number; writeMs: number }> {
  const dir = await mkdtemp(join(tmpdir(), 'canota-bench-freshness-'));
  try {
    const block = 1024;
    const t0 = performance.now();
    const counter = await FreshnessCounter.open(join(dir, 'status-freshness.json'), { block });
    const writeMs = performance.now() - t0;
    await counter.close();
    return { block, writeMs };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
