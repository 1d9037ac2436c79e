import { randomBytes } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { z } from 'zod';
import { errorMessage } from '../../errors/error-message.ts';
import { writeFileAtomic } from '../../files/atomic-write.ts';
import { readOptional } from '../../files/read-optional.ts';
import { StateDirLockedError, StateLock } from '../../files/state-lock.ts';
import type { VehicleConfig } from '../config.ts';
import { ecuStateDir } from '../ecu/state-dir.ts';
import { keysHeldBy, vehicleKeyPlan } from './key-plan.ts';

/** 32 random bytes per key: HMAC-SHA256 keys (docs/in-vehicle-security.md). */
export const KEY_BYTES = 32;

export class EcuKeysError extends Error {
  override name = 'EcuKeysError';
}

const keysFileSchema = z.object({
  ecu: z.string(),
  keys: z.record(z.string(), z.string().regex(/^[0-9a-f]{64}$/, '32 bytes as 64 lowercase hex digits')),
}).strict();

type KeysFile = z.infer<typeof keysFileSchema>;

export const ecuKeysPath = (stateDir: string, ecu: string): string => join(ecuStateDir(stateDir, ecu), 'keys.json');

/**
 * The keys one ECU holds, read from its own `keys.json` (mode 0600) and nobody else's: the TMU process
 * never reads EDT's or the CGW's file.
 */
export class EcuKeys {
  readonly ecu: string;
  readonly #keys: ReadonlyMap<string, Uint8Array>;

  constructor(ecu: string, keys: ReadonlyMap<string, Uint8Array>) {
    this.ecu = ecu;
    this.#keys = keys;
  }

  has(name: string): boolean {
    return this.#keys.has(name);
  }

  /** The key `name`; EcuKeysError when this ECU does not hold it (it has no business with that relationship). */
  get(name: string): Uint8Array {
    const key = this.#keys.get(name);
    if (!key) throw new EcuKeysError(`${this.ecu} holds no key "${name}" (it holds ${[...this.#keys.keys()].join(', ') || 'none'})`);
    return key;
  }

  get names(): string[] {
    return [...this.#keys.keys()];
  }
}

/**
 * `ecu`'s keys from `<stateDir>/ecus/<ecu>/keys.json`, provisioning the vehicle first when the file is
 * missing or lacks a key the plan gives it (a first start, or an ECU added to the config).
 */
export async function loadEcuKeys(config: VehicleConfig, stateDir: string, ecu: string): Promise<EcuKeys> {
  const wanted = keysHeldBy(vehicleKeyPlan(config), ecu);
  let file = await readKeysFile(stateDir, ecu);
  if (!file || wanted.some((name) => !(name in file!.keys))) {
    await provisionVehicleKeys(config, stateDir);
    file = await readKeysFile(stateDir, ecu);
    if (!file) throw new EcuKeysError(`${ecuKeysPath(stateDir, ecu)} was not created`);
  }
  const keys = new Map<string, Uint8Array>();
  for (const name of wanted) keys.set(name, new Uint8Array(Buffer.from(file.keys[name]!, 'hex')));
  return new EcuKeys(ecu, keys);
}

/**
 * `ecu`'s keys as its file holds them, read only: null when there is no file (nothing is provisioned). For
 * tools that observe a car (`canota can dump --decode --state-dir`) and must never create keys.
 */
export async function readEcuKeys(stateDir: string, ecu: string): Promise<EcuKeys | null> {
  const file = await readKeysFile(stateDir, ecu);
  if (!file) return null;
  return new EcuKeys(ecu, new Map(Object.entries(file.keys).map(([name, hex]) => [name, new Uint8Array(Buffer.from(hex, 'hex'))])));
}

/** Provisionings in flight in this process, per state dir (the cross-process lock does not see them). */
const inFlight = new Map<string, Promise<string[]>>();

/**
 * The factory's end-of-line step for a simulated car: gives every ECU of `config` the keys the plan says it
 * holds, each in its own `ecus/<NAME>/keys.json` (mode 0600). Idempotent, and it completes a partial run
 * (a crash between two files): a key some holder already has is copied to the holders that lack it, and
 * only a key nobody holds is made new. Two holders with different values for one key is an error, never
 * silently "fixed". Serialised across processes by a lock in `ecus/`. Returns the ECUs whose file it wrote.
 */
export function provisionVehicleKeys(config: VehicleConfig, stateDir: string): Promise<string[]> {
  const running = inFlight.get(stateDir);
  const next = (running ?? Promise.resolve([])).catch(() => []).then(() => provisionLocked(config, stateDir));
  inFlight.set(stateDir, next);
  return next.finally(() => {
    if (inFlight.get(stateDir) === next) inFlight.delete(stateDir);
  });
}

async function provisionLocked(config: VehicleConfig, stateDir: string): Promise<string[]> {
  const directory = join(stateDir, 'ecus');
  await mkdir(directory, { recursive: true });
  const lock = new StateLock(directory);
  await acquireWithin(lock, 10_000);
  try {
    return await provision(config, stateDir);
  } finally {
    await lock.release();
  }
}

async function provision(config: VehicleConfig, stateDir: string): Promise<string[]> {
  const plan = vehicleKeyPlan(config);
  const files = new Map<string, KeysFile>();
  for (const ecu of config.ecus) {
    files.set(ecu.name, await readKeysFile(stateDir, ecu.name) ?? { ecu: ecu.name, keys: {} });
  }
  const changed = new Set<string>();
  for (const key of plan) {
    const known = new Map<string, string>();
    for (const holder of key.holders) {
      const value = files.get(holder)!.keys[key.name];
      if (value !== undefined) known.set(holder, value);
    }
    const values = new Set(known.values());
    if (values.size > 1) {
      throw new EcuKeysError(`key "${key.name}" differs between ${[...known.keys()].join(' and ')}: `
        + 'their keys.json files come from different vehicles; provision the vehicle again (new state dir)');
    }
    const value = values.values().next().value ?? randomBytes(KEY_BYTES).toString('hex');
    for (const holder of key.holders) {
      const file = files.get(holder)!;
      if (file.keys[key.name] === undefined) {
        file.keys[key.name] = value;
        changed.add(holder);
      }
    }
  }
  for (const ecu of changed) {
    await mkdir(ecuStateDir(stateDir, ecu), { recursive: true });
    await writeFileAtomic(ecuKeysPath(stateDir, ecu), `${JSON.stringify(files.get(ecu), null, 2)}\n`, { mode: 0o600 });
  }
  return [...changed];
}

async function readKeysFile(stateDir: string, ecu: string): Promise<KeysFile | null> {
  const path = ecuKeysPath(stateDir, ecu);
  const text = await readOptional(path);
  if (text === null) return null;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new EcuKeysError(`${path} is not JSON: ${errorMessage(error)}`);
  }
  const parsed = keysFileSchema.safeParse(value);
  if (!parsed.success) throw new EcuKeysError(`${path} is invalid:\n${z.prettifyError(parsed.error)}`);
  if (parsed.data.ecu !== ecu) throw new EcuKeysError(`${path} holds the keys of ${parsed.data.ecu}, not ${ecu}`);
  return parsed.data;
}

/** Another process provisioning the same car holds the lock for a moment: wait for it, within reason. */
async function acquireWithin(lock: StateLock, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      await lock.acquire();
      return;
    } catch (error) {
      if (!(error instanceof StateDirLockedError) || Date.now() > deadline) throw error;
      await sleep(50);
    }
  }
}
