import type { ReleaseRecord, ReleaseStore } from '../storage/releases.ts';
import { PolledAnswerCache } from './polled-answer-cache.ts';

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
 * often than anyone uploads.
 */
export class LatestRelease {
  readonly #cache: PolledAnswerCache<LatestAnswer>;

  constructor(releases: ReleaseStore, maxAgeMs = 1000, clock: () => number = Date.now) {
    this.#cache = new PolledAnswerCache(async () => {
      const latest = latestVersionOf(await releases.latest());
      return { json: JSON.stringify(latest), etag: etagOf(latest) };
    }, maxAgeMs, clock);
  }

  /** The serialised `LatestVersion`. */
  async json(): Promise<string> {
    return (await this.answer()).json;
  }

  answer(): Promise<LatestAnswer> {
    return this.#cache.get();
  }

  invalidate(): void {
    this.#cache.invalidate();
  }
}
