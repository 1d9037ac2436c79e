import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import type { TestContext } from 'node:test';
import { VirtualBus, VirtualNetwork } from '../../../src/can/bus/virtual.ts';
import { IsoTpChannel } from '../../../src/can/isotp/index.ts';
import { NegativeResponseError, UdsClient, type UdsClientOptions } from '../../../src/can/uds/index.ts';
import { generateSigningKey, publicKeyToText, type SigningKey } from '../../../src/crypto/ed25519.ts';
import { signManifest, type ReleaseManifest, type SignedManifest } from '../../../src/crypto/manifest.ts';
import { standardVehicleConfig, type VehicleConfig } from '../../../src/vehicle/config.ts';
import { Ecu, type EcuOptions } from '../../../src/vehicle/ecu/ecu.ts';
import { ecuByName, isoTpFrameOptions } from '../../../src/vehicle/network.ts';
import { FlashSession, type FlashImage, type FlashSessionOptions } from '../../../src/vehicle/tmu/flash-session.ts';
import type { SignedManifest as Manifest } from '../../../src/crypto/manifest.ts';
import { readFile } from 'node:fs/promises';
import { tempDir } from '../../support/temp-dir.ts';
import { TestCgw } from '../support/test-cgw.ts';

export const VIN = 'WCANTA10000000042';
export const sha256 = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex');

/** The standard car; with `signed`, one release key the ECUs trust. */
export function testCar(options: { signed?: boolean; fd?: boolean } = {}): { config: VehicleConfig; key: SigningKey } {
  const key = generateSigningKey();
  const config = standardVehicleConfig(VIN, { fd: options.fd ?? true });
  if (options.signed) config.trustedKeys = [publicKeyToText(key.publicKey)];
  return { config, key };
}

export function releaseFor(image: Uint8Array, fields: Partial<ReleaseManifest> = {}): ReleaseManifest {
  return {
    _type: 'canota/release',
    release_id: randomBytes(8).toString('hex'),
    filename: 'edt.bin',
    ecu: 'EDT',
    firmware_version: '2.0.0',
    size: image.length,
    sha256: sha256(image),
    created_at: new Date().toISOString(),
    ...fields,
  };
}

/** A manifest for `image`: signed by `key`, or with no signatures at all. */
export function manifestFor(image: Uint8Array, key: SigningKey | null, fields: Partial<ReleaseManifest> = {}): SignedManifest {
  const release = releaseFor(image, fields);
  return key ? signManifest(release, key) : { signed: release, signatures: [] };
}

export interface Bench {
  config: VehicleConfig;
  key: SigningKey;
  stateDir: string;
  network: VirtualNetwork;
  ecu: Ecu;
  client: UdsClient;
  channel: IsoTpChannel;
  session: FlashSession;
  /** The CGW's grants for the session: approve an image before programming it. */
  cgw: TestCgw;
  /** Approves `image` for EDT (bytes) at the CGW: what the driver does before an update. */
  approve(image: Uint8Array): void;
  /** Programming session, the CGW's grant for an approved image of `size` bytes, and the erase. */
  eraseFor(size: number): Promise<void>;
  /** Stops the ECU and starts it again on the same state dir (a power cycle, or a new process). */
  restartEcu(): Promise<Ecu>;
}

/**
 * EDT on a fresh virtual CAN-B, and a tester (a UDS client on 0x730/0x738) flashing it: the real
 * bootloader, ISO-TP and UDS stack, nothing simulated but the flash chips. Stopped after the test.
 */
export async function ecuBench(
  t: Pick<TestContext, 'after'>,
  options: {
    signed?: boolean;
    fd?: boolean;
    ecu?: Partial<EcuOptions>;
    client?: UdsClientOptions;
    session?: Partial<FlashSessionOptions>;
    stateDir?: string;
  } = {},
): Promise<Bench> {
  const { config, key } = testCar(options);
  const stateDir = options.stateDir ?? await tempDir(t);
  const network = new VirtualNetwork();
  // 4095-byte blocks (the classic ISO-TP size) so the tests' small images still span many TransferData blocks.
  const start = () => Ecu.start({ config, name: 'EDT', stateDir, virtualNetwork: network, rebootMs: 20, maxBlockLength: 4095, ...options.ecu });
  let ecu = await start();
  const edt = ecuByName(config, 'EDT');
  const testerBus = new VirtualBus({ channel: 'canb', network });
  const channel = new IsoTpChannel(testerBus, { txId: edt.requestId, rxId: edt.responseId, ...isoTpFrameOptions(config.buses.canb!) });
  const client = new UdsClient(channel, options.client);
  const cgw = await TestCgw.open(config, stateDir);
  const session = new ApprovingFlashSession(cgw, { client, ecu: edt, authority: cgw, rebootTimeoutMs: 3000, pollIntervalMs: 10, ...options.session });
  const bench: Bench = {
    config, key, stateDir, network, ecu, client, channel, session, cgw,
    approve(image) {
      cgw.approve('EDT', image);
    },
    async eraseFor(size) {
      cgw.approve('EDT', new Uint8Array(size));
      await session.erase(await session.openProgrammingSession('program'));
    },
    async restartEcu() {
      await bench.ecu.close();
      ecu = await start();
      bench.ecu = ecu;
      return ecu;
    },
  };
  t.after(async () => {
    client.close();
    channel.close();
    await bench.ecu.close();
    await testerBus.close();
  });
  return bench;
}

/**
 * A tester whose every program() the driver approved: the CGW (a TestCgw) is told to approve exactly the
 * image about to be flashed. Tests of the bootloader's own checks use it; tests of the grants themselves
 * approve (or do not) explicitly.
 */
export class ApprovingFlashSession extends FlashSession {
  readonly #cgw: TestCgw;

  constructor(cgw: TestCgw, options: FlashSessionOptions) {
    super(options);
    this.#cgw = cgw;
  }

  override async program(image: FlashImage, manifest: Manifest): Promise<void> {
    this.#cgw.approve(this.ecu, image instanceof Uint8Array ? image : new Uint8Array(await readFile(image.path)));
    return super.program(image, manifest);
  }
}

/** A request written as hex with spaces ("31 01 FF00") as bytes. */
export const hex = (text: string): Uint8Array => Uint8Array.from(Buffer.from(text.replace(/\s/g, ''), 'hex'));

/** The NRC the bench's ECU answers `request` (hex) with; fails the test when it answers positively. */
export async function nrcOf(bench: Bench, request: string): Promise<number> {
  try {
    await bench.client.exchange(hex(request));
  } catch (error) {
    if (error instanceof NegativeResponseError) return error.nrc;
    throw error;
  }
  assert.fail(`${request} was answered positively`);
}
