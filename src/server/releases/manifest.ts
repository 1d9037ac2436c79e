import type { ReleaseDelta, ReleaseManifest } from '../../crypto/manifest.ts';
import type { ReleaseRecord } from '../storage/releases.ts';

/**
 * The manifest of a release, derived from its row alone (so it never drifts from what is served):
 * which bytes (size, SHA-256), for which ECU (its canonical, upper-case name, as ECUs call themselves),
 * as which firmware version, for which hardware, and the deltas made to it from earlier releases. Undefined,
 * with the reason, for a release that names no ECU or no firmware version: no ECU could check such an image
 * against anything.
 */
export function releaseManifest(release: ReleaseRecord, deltas: readonly ReleaseDelta[] = []): { manifest: ReleaseManifest } | { problem: string } {
  if (!release.ecu) return { problem: `release ${release.id} (${release.filename}) names no target ECU` };
  if (!release.firmware_version) return { problem: `release ${release.id} (${release.filename}) names no firmware version` };
  return {
    manifest: {
      _type: 'canota/release',
      release_id: String(release.id),
      filename: release.filename,
      ecu: release.ecu.toUpperCase(),
      firmware_version: release.firmware_version,
      ...(release.hardware_id ? { hardware_id: release.hardware_id } : {}),
      size: release.size,
      sha256: release.sha256,
      created_at: new Date(release.uploaded_at).toISOString(),
      ...(deltas.length > 0 ? { deltas: [...deltas] } : {}),
    },
  };
}
