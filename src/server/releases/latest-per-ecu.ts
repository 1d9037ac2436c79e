import type { ReleaseRecord, ReleaseStore } from '../storage/releases.ts';
import type { ManifestSigner } from './manifest-signer.ts';
import { PolledAnswerCache } from './polled-answer-cache.ts';

/** One entry of `GET /api/v1/releases/latest` (docs/vehicle-protocol.md). */
export function vehicleReleaseOf(release: ReleaseRecord, signer: ManifestSigner) {
  const manifest = signer.sign(release);
  return {
    release_id: release.id,
    filename: release.filename,
    ecu: release.ecu?.toUpperCase() ?? null,
    firmware_version: release.firmware_version,
    hardware_id: release.hardware_id,
    size: release.size,
    sha256: release.sha256,
    uploaded_at: new Date(release.uploaded_at).toISOString(),
    notes: release.notes,
    manifest: 'signed' in manifest ? manifest.signed : null,
  };
}

/**
 * `{"releases": [...]}`: the newest release of each ECU with its signed manifest, serialised once and
 * cached like `/latest_version` (every vehicle polls it).
 */
export class LatestReleasePerEcu {
  readonly #cache: PolledAnswerCache<string>;

  constructor(releases: ReleaseStore, signer: ManifestSigner, maxAgeMs = 1000, clock: () => number = Date.now) {
    this.#cache = new PolledAnswerCache(async () => {
      const newest = await releases.newestPerEcu();
      return JSON.stringify({ releases: newest.map((release) => vehicleReleaseOf(release, signer)) });
    }, maxAgeMs, clock);
  }

  json(): Promise<string> {
    return this.#cache.get();
  }

  invalidate(): void {
    this.#cache.invalidate();
  }
}
