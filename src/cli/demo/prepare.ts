import { randomBytes } from 'node:crypto';
import { access, mkdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { writeFileAtomic } from '../../files/atomic-write.ts';
import { readOptional } from '../../files/read-optional.ts';
import { publicKeyToText } from '../../crypto/ed25519.ts';
import { loadReleaseSigningKey } from '../../server/releases/signing-key.ts';
import { registerVehicle } from '../../server/vehicles/registration.ts';
import { addUser, changePassword } from '../../server/users.ts';
import { AlreadyExistsError } from '../../server/storage/errors.ts';
import { parseVehicleConfig, standardVehicleConfig, type VehicleConfig } from '../../vehicle/config.ts';
import { withServerData } from '../commands/server.ts';
import { CommandFailedError } from '../exit-codes.ts';

/** Where the demo keeps everything (one folder, so `rm -rf demo` starts over). */
export interface DemoLayout {
  root: string;
  serverDataDir: string;
  vehicleStateDir: string;
  firmwareDir: string;
  logsDir: string;
}

export function demoLayout(root: string): DemoLayout {
  const absolute = resolve(root);
  return {
    root: absolute,
    serverDataDir: join(absolute, 'server'),
    vehicleStateDir: join(absolute, 'vehicle'),
    firmwareDir: join(absolute, 'firmware'),
    logsDir: join(absolute, 'logs'),
  };
}

export interface DemoCredentials {
  admin: { username: string; password: string };
  vehicleToken: string;
  /** The server's release key, as the vehicle trusts it. */
  trustedKey: string;
}

/**
 * Server side of the demo: an admin with a fresh random password (created, or its password replaced —
 * it is shown on every start, never a fixed default), the demo vehicle with a fresh token, and the
 * server's release signing key (generated on first use).
 */
export async function prepareServerData(layout: DemoLayout, vin: string): Promise<DemoCredentials> {
  await mkdir(layout.serverDataDir, { recursive: true, mode: 0o700 });
  const { admin, vehicleToken } = await withServerData({ dataDir: layout.serverDataDir }, async ({ storage, audit }) => {
    const username = 'admin';
    let password: string;
    try {
      password = (await addUser(storage, audit, { username, role: 'admin', by: 'demo' })).generatedPassword!;
    } catch (error) {
      if (!(error instanceof AlreadyExistsError)) throw error;
      password = (await changePassword(storage, audit, { username, by: 'demo' })).generatedPassword!;
    }
    let registered;
    try {
      registered = await registerVehicle(storage, audit, { vin, by: 'demo' });
    } catch (error) {
      if (!(error instanceof AlreadyExistsError)) throw error;
      registered = await registerVehicle(storage, audit, { vin, rotate: true, by: 'demo' });
    }
    return { admin: { username, password }, vehicleToken: registered.token };
  });
  const signing = await loadReleaseSigningKey(layout.serverDataDir);
  return { admin, vehicleToken, trustedKey: publicKeyToText(signing.key.publicKey) };
}

/**
 * Vehicle side: the standard car that trusts the demo server's release key, kept in the vehicle's state dir
 * so restarts find the same car (its ECUs' keys are made beside it at the first start). An existing config
 * keeps its ECUs; only the trusted key is brought up to date (the server dir may have been reset).
 */
export async function prepareVehicleConfig(layout: DemoLayout, vin: string, trustedKey: string): Promise<VehicleConfig> {
  await mkdir(layout.vehicleStateDir, { recursive: true, mode: 0o700 });
  const path = join(layout.vehicleStateDir, 'vehicle.json');
  const stored = await readOptional(path);
  let config = stored === null ? standardVehicleConfig(vin) : parseVehicleConfig(JSON.parse(stored), path);
  if (config.vin !== vin) throw new CommandFailedError(`${path} describes vehicle ${config.vin}, not ${vin}: remove ${layout.root} to start over`);
  if (!config.trustedKeys.includes(trustedKey)) {
    config = { ...config, trustedKeys: [trustedKey] };
  }
  await writeFileAtomic(path, `${JSON.stringify(config, null, 2)}\n`);
  return config;
}

export interface SampleFirmware {
  path: string;
  ecu: string;
  version: string;
}

/** Firmware images to try the demo with (random bytes: the ECUs check integrity and signatures, not content). */
export async function writeSampleFirmware(layout: DemoLayout): Promise<SampleFirmware[]> {
  await mkdir(layout.firmwareDir, { recursive: true });
  const samples = [
    { ecu: 'EDT', version: '2.0.0', size: 256 * 1024 },
    { ecu: 'CGW', version: '1.1.0', size: 128 * 1024 },
  ];
  const written: SampleFirmware[] = [];
  for (const sample of samples) {
    const path = join(layout.firmwareDir, `${sample.ecu.toLowerCase()}-${sample.version}.bin`);
    const exists = await access(path).then(() => true, () => false);
    if (!exists) await writeFileAtomic(path, randomBytes(sample.size));
    written.push({ path, ecu: sample.ecu, version: sample.version });
  }
  return written;
}
