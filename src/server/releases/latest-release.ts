import type { ReleaseRecord, ReleaseStore } from '../storage/releases.ts';

/** The `/latest_version` answer: the seed's three fields first, then ours. */
export interface LatestVersion {
  version: string | null;
  mtime: number | null;
  sha256: string | null;
  size: number | null;
  ecu: string | null;
  firmware_version: string | null;
  release_id: number | null;
  uploaded_at: string | null;
}

export function latestVersionOf(release: ReleaseRecord | undefined): LatestVersion {
  if (!release) {
    return { version: null, mtime: null, sha256: null, size: null, ecu: null, firmware_version: null, release_id: null, uploaded_at: null };
  }
  return {
    version: release.filename,
    mtime: release.uploaded_at / 1000,
    sha256: release.sha256,
    size: release.size,
    ecu: release.ecu,
    firmware_version: release.firmware_version,
    release_id: release.id,
    uploaded_at: new Date(release.uploaded_at).toISOString(),
  };
}

/** The serialised `LatestVersion` and its entity tag. */
export interface LatestAnswer {
  json: string;
  /**
   * Weak (`W/"<release id>-<sha256>"`): it names the newest release, and the answer's bytes follow from
   * it, but a server upgrade that adds a field changes them without a new release.
   */
  etag: string;
}

export function etagOf(latest: LatestVersion): string {
  return latest.release_id === null ? 'W/"none"' : `W/"${latest.release_id}-${latest.sha256}"`;
}

/**
 * The newest release, cached with its JSON already serialised: vehicles poll `/latest_version` far more
 * often than anyone uploads. An upload through this process refreshes it at once; an upload through
 * another server sharing the database shows up within `maxAgeMs`.
 */
export class LatestRelease {
  private cached: (LatestAnswer & { at: number }) | undefined;
  private loading: Promise<LatestAnswer> | undefined;
  /** Bumped by every invalidation, so a query that started before an upload cannot cache the old answer. */
  private generation = 0;

  constructor(
    private readonly releases: ReleaseStore,
    private readonly maxAgeMs = 1000,
    private readonly clock: () => number = Date.now,
  ) {}

  /** The serialised `LatestVersion`. */
  async json(): Promise<string> {
    return (await this.answer()).json;
  }

  async answer(): Promise<LatestAnswer> {
    const cached = this.cached;
    if (cached && this.clock() - cached.at < this.maxAgeMs) return cached;
    // Concurrent pollers share one query instead of stampeding the database when the cache expires.
    if (!this.loading) {
      const loading = this.load().finally(() => { if (this.loading === loading) this.loading = undefined; });
      this.loading = loading;
    }
    return this.loading;
  }

  invalidate(): void {
    this.generation++;
    this.cached = undefined;
    this.loading = undefined;
  }

  private async load(): Promise<LatestAnswer> {
    const at = this.clock();
    const generation = this.generation;
    const latest = latestVersionOf(await this.releases.latest());
    const answer = { json: JSON.stringify(latest), etag: etagOf(latest) };
    if (generation === this.generation) this.cached = { ...answer, at };
    return answer;
  }
}
