import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { standardVehicleConfig, type VehicleConfig } from '../../../src/vehicle/config.ts';
import type { VehicleStatus } from '../../../src/vehicle/status.ts';
import type { TmuState } from '../../../src/vehicle/tmu/tmu-state.ts';
import type { VehicleReport } from '../../../src/vehicle/tmu/server-api.ts';
import { runCanota, startCanota, type CanotaProcess, type StartOptions } from '../../support/canota-process.ts';

export const sha256 = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex');

/** The server's release signing key as a vehicle config's `trustedKeys` takes it (`canota keys show`). */
export async function serverKey(dataDir: string): Promise<string> {
  const shown = await runCanota(['keys', 'show', '--data-dir', dataDir]);
  if (shown.code !== 0) throw new Error(`canota keys show failed (${shown.code}): ${shown.stderr}`);
  return shown.stdout.trim().split('\n').at(-1)!;
}

/** What the admin API (`GET /api/v1/vehicles/<vin>`) says about a vehicle. */
export interface VehicleHistory {
  vehicle: { vin: string; ecus: Record<string, { version: string | null; sha256: string | null; active_bank: string | null; state: string }> };
  reports: Array<{ campaign_id: string | null; outcome: string; message: string; updates: Array<Record<string, unknown>> }>;
}

/** `vehicle VIN ready` (group 1: the HMI URL when there is one). */
export const vehicleReady = /vehicle [A-HJ-NPR-Z0-9]{17} ready(?:; HMI at (http:\/\/[^\s"]+))?/;

/** Random bytes of `size`, the firmware image of a test release. */
export const firmware = (size: number): Buffer => randomBytes(size);

/**
 * Writes the standard car (with `change` applied) as `<stateDir>/vehicle.json`, the file every process on
 * that state dir shares.
 */
export async function writeCar(stateDir: string, vin: string, change: (config: VehicleConfig) => void = () => {}): Promise<VehicleConfig> {
  const config = standardVehicleConfig(vin);
  change(config);
  await writeFile(join(stateDir, 'vehicle.json'), JSON.stringify(config, null, 2), { mode: 0o600 });
  return config;
}

/** The vehicles started on each state dir, stopped before the dir is removed. */
const running = new Map<string, CanotaProcess[]>();

/**
 * A fresh vehicle state dir, removed after the test once every vehicle started on it has stopped (a
 * running TMU keeps writing into it).
 */
export async function carDir(t: Pick<TestContext, 'after'>): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'canota-vehicle-'));
  running.set(dir, []);
  t.after(async () => {
    for (const vehicle of running.get(dir) ?? []) {
      vehicle.child.stdin.end();
      await vehicle.stop();
    }
    running.delete(dir);
    await rm(dir, { recursive: true, force: true });
  });
  return dir;
}

/** A running `canota vehicle` on `stateDir` (from carDir), stopped (SIGTERM) after the test. */
export async function startVehicle(server: string, stateDir: string, args: string[] = [],
  options: Omit<StartOptions, 'ready'> = {}): Promise<CanotaProcess> {
  const vehicle = await startCanota(['vehicle', '--server', server, '--state-dir', stateDir, '--interval', '1', '--retry-backoff', '0.05', ...args],
    { ready: vehicleReady, timeoutMs: 30_000, ...options });
  const list = running.get(stateDir);
  if (!list) {
    vehicle.child.kill('SIGKILL');
    throw new Error(`${stateDir} is not a carDir(t): nothing would stop the vehicle`);
  }
  list.push(vehicle);
  return vehicle;
}

/** `canota vehicle status --state-dir D --json`. */
export async function vehicleStatus(stateDir: string): Promise<VehicleStatus> {
  const result = await runCanota(['vehicle', 'status', '--state-dir', stateDir, '--json']);
  if (result.code !== 0) throw new Error(`canota vehicle status failed (${result.code}): ${result.stderr}`);
  return JSON.parse(result.stdout) as VehicleStatus;
}

export async function tmuState(stateDir: string): Promise<TmuState> {
  return JSON.parse(await readFile(join(stateDir, 'tmu', 'state.json'), 'utf8')) as TmuState;
}

/** The reports the TMU keeps for the server (not sent yet), oldest first. */
export async function pendingReports(stateDir: string): Promise<VehicleReport[]> {
  const directory = join(stateDir, 'tmu', 'reports');
  const names = (await readdir(directory).catch(() => [] as string[])).filter((name) => name.endsWith('.json')).sort();
  return Promise.all(names.map(async (name) => JSON.parse(await readFile(join(directory, name), 'utf8')) as VehicleReport));
}

/** The process's JSON log lines with this `msg` (a RegExp tests it). */
export function logLines(process: CanotaProcess, msg: RegExp): Array<Record<string, unknown>> {
  return process.output.filter((line) => line.startsWith('{')).map((line) => JSON.parse(line) as Record<string, unknown>)
    .filter((line) => typeof line.msg === 'string' && msg.test(line.msg));
}

/** Resolves with the first JSON log line whose `msg` matches (seen or to come). */
export async function waitForLog(process: CanotaProcess, msg: RegExp, timeoutMs = 20_000): Promise<Record<string, unknown>> {
  const escaped = msg.source.replace(/^\^/, '').replace(/\$$/, '');
  await process.waitFor(new RegExp(`"msg":"${escaped}`), timeoutMs);
  return logLines(process, msg)[0]!;
}
