import type { Insertable, Kysely, Selectable } from 'kysely';
import type { ReleasesTable, Schema } from './schema.ts';
import { StorageError } from './errors.ts';
import { isUniqueViolation } from './unique-violation.ts';
import { compareFirmwareVersions } from '../../firmware/version-order.ts';

export type ReleaseRecord = Selectable<ReleasesTable>;
/** What an upload stores; the withdrawal columns start empty and the version key follows from ECU and version. */
export type NewRelease = Omit<Insertable<ReleasesTable>, 'version_key' | 'withdrawn_at' | 'withdrawn_by' | 'withdrawal_reason'>;

/** Another release already has this ECU and version (`holder`, when it could be read back). */
export class DuplicateReleaseError extends StorageError {
  override name = 'DuplicateReleaseError';
  constructor(readonly holder: ReleaseRecord | undefined, key: string) {
    super(`there is already a release ${key}`);
  }
}

/**
 * Two versions that differ only in build metadata have the same precedence (SemVer §10), so they are the
 * same version for "one release per ECU and version": the key leaves the build out.
 */
export function versionKeyOf(ecu: string, version: string): string {
  return `${ecu.trim().toUpperCase()} ${version.trim().replace(/\+.*$/, '')}`;
}

export interface Withdrawal {
  id: number;
  by: string;
  at: number;
  reason: string | null;
}

/**
 * Releases are never changed, except to be withdrawn, which only ever happens once: a re-upload of the same
 * filename is a new, newer release; a release of an ECU's existing version is refused.
 */
export class ReleaseStore {
  constructor(private readonly db: Kysely<Schema>) {}

  /**
   * Throws DuplicateReleaseError when the ECU already has a release of this version (withdrawn or not).
   * `beforeCommit` runs after the row is written and before anyone can see it (one transaction): the
   * upload moves its file into the blob store there, so a refused row leaves no file, and a visible row
   * always has its file.
   */
  async add(release: NewRelease, options: { beforeCommit?: () => Promise<void> } = {}): Promise<ReleaseRecord> {
    const key = release.ecu && release.firmware_version ? versionKeyOf(release.ecu, release.firmware_version) : null;
    const insert = (db: Kysely<Schema>) => db.insertInto('releases').values({ ...release, version_key: key }).returningAll().executeTakeFirstOrThrow();
    const { beforeCommit } = options;
    try {
      if (!beforeCommit) return await insert(this.db);
      return await this.db.transaction().execute(async (trx) => {
        const stored = await insert(trx);
        await beforeCommit();
        return stored;
      });
    } catch (error) {
      if (key !== null && isUniqueViolation(error)) throw new DuplicateReleaseError(await this.holderOf(key), key);
      throw error;
    }
  }

  /** The release that has this ECU and version, if any (withdrawn ones included: a version is used once). */
  async holder(ecu: string, version: string): Promise<ReleaseRecord | undefined> {
    return this.holderOf(versionKeyOf(ecu, version));
  }

  private async holderOf(key: string): Promise<ReleaseRecord | undefined> {
    return this.db.selectFrom('releases').selectAll().where('version_key', '=', key).executeTakeFirst();
  }

  /** The newest release still offered (the id grows with every upload): what `/latest_version` names. */
  async latest(): Promise<ReleaseRecord | undefined> {
    return this.db.selectFrom('releases').selectAll().where('withdrawn_at', 'is', null)
      .orderBy('id', 'desc').limit(1).executeTakeFirst();
  }

  /** The newest release stored under `filename`, withdrawn or not (an admin's check-out). */
  async newestNamed(filename: string): Promise<ReleaseRecord | undefined> {
    return this.db.selectFrom('releases').selectAll().where('filename', '=', filename)
      .orderBy('id', 'desc').limit(1).executeTakeFirst();
  }

  /** The newest release stored under `filename` that is still offered (a vehicle's download). */
  async newestOfferedNamed(filename: string): Promise<ReleaseRecord | undefined> {
    return this.db.selectFrom('releases').selectAll().where('filename', '=', filename).where('withdrawn_at', 'is', null)
      .orderBy('id', 'desc').limit(1).executeTakeFirst();
  }

  async find(id: number): Promise<ReleaseRecord | undefined> {
    return this.db.selectFrom('releases').selectAll().where('id', '=', id).executeTakeFirst();
  }

  /**
   * The latest release of each target ECU, by ECU name, ordered by name: the highest version by
   * `compareFirmwareVersions` (the order ECUs refuse downgrades by), not the newest upload; withdrawn
   * releases are never latest. Names compare case-insensitively (an older upload for "edt" is one for
   * EDT); releases that name no ECU are for no vehicle ECU and are left out. Equal versions (only older
   * databases have them): the newer upload.
   */
  async newestPerEcu(): Promise<ReleaseRecord[]> {
    const offered = await this.db.selectFrom('releases').selectAll()
      .where('ecu', 'is not', null).where('withdrawn_at', 'is', null).orderBy('id').execute();
    const latest = new Map<string, ReleaseRecord>();
    for (const release of offered) {
      const ecu = release.ecu!.toUpperCase();
      const best = latest.get(ecu);
      if (!best || compareFirmwareVersions(release.firmware_version ?? '', best.firmware_version ?? '') >= 0) latest.set(ecu, release);
    }
    return [...latest].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, release]) => release);
  }

  /** Releases a deployment can send (an ECU and a version, not withdrawn), newest upload first. */
  async deployable(limit: number): Promise<ReleaseRecord[]> {
    return this.db.selectFrom('releases').selectAll().where('ecu', 'is not', null).where('firmware_version', 'is not', null)
      .where('withdrawn_at', 'is', null).orderBy('id', 'desc').limit(limit).execute();
  }

  /** Newest upload first. */
  async list(options: { limit: number; offset?: number }): Promise<ReleaseRecord[]> {
    return this.db.selectFrom('releases').selectAll().orderBy('id', 'desc')
      .limit(options.limit).offset(options.offset ?? 0).execute();
  }

  async count(): Promise<number> {
    const row = await this.db.selectFrom('releases').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
    return Number(row.n);
  }

  /**
   * Withdraws a release once: `changed` is false when it was withdrawn before (then it keeps its first
   * withdrawal's time, author and reason); undefined for an unknown release.
   */
  async withdraw(withdrawal: Withdrawal): Promise<{ release: ReleaseRecord; changed: boolean } | undefined> {
    const updated = await this.db.updateTable('releases')
      .set({ withdrawn_at: withdrawal.at, withdrawn_by: withdrawal.by, withdrawal_reason: withdrawal.reason })
      .where('id', '=', withdrawal.id).where('withdrawn_at', 'is', null).returningAll().executeTakeFirst();
    if (updated) return { release: updated, changed: true };
    const release = await this.find(withdrawal.id);
    return release ? { release, changed: false } : undefined;
  }
}
