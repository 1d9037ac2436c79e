import type { ReleaseRecord, ReleaseStore } from '../storage/releases.ts';
import type { ManifestSigner } from './manifest-signer.ts';

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
 * cached like `/latest_version` (every vehicle polls it): refreshed at once by a local upload, within
 * `maxAgeMs` after an upload through another server sharing the database.
 */
export class LatestReleasePerEcu {
  private cached: { json: string; at: number } | undefined;
  private loading: Promise<string> | undefined;
  private generation = 0;

  constructor(
    private readonly releases: ReleaseStore,
    private readonly signer: ManifestSigner,
    private readonly maxAgeMs = 1000,
    private readonly clock: () => number = Date.now,
  ) {}

  async json(): Promise<string> {
    const cached = this.cached;
    if (cached && this.clock() - cached.at < this.maxAgeMs) return cached.json;
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

  private async load(): Promise<string> {
    const at = this.clock();
    const generation = this.generation;
    const releases = await this.releases.newestPerEcu();
    const json = JSON.stringify({ releases: releases.map((release) => vehicleReleaseOf(release, this.signer)) });
    if (generation === this.generation) this.cached = { json, at };
    return json;
  }
}
