import type { KeyObject } from 'node:crypto';
import { ManifestError, verifyManifest, type SignedManifest } from '../../crypto/manifest.ts';
import { ReleaseRejectedError } from './errors.ts';
import type { AnnouncedRelease } from './server-api.ts';

/**
 * Decides which manifest the target ECU will check (0xFF01), before anything is downloaded and again
 * once the bytes are in (the download agent's verify step):
 *
 * - the server's signed manifest, which must describe exactly the announced file (ECU, version, size,
 *   SHA-256) and, when the vehicle trusts keys, carry a valid signature by one of them;
 * - no manifest (a server with only the seed's routes): allowed only on a vehicle that trusts no keys, and
 *   then the TMU writes an unsigned one from the announcement, so the ECU still checks length, SHA-256,
 *   target and version. A vehicle with trusted keys refuses such a release outright: otherwise anyone who
 *   can answer `/latest_version` could install anything.
 */
export function manifestForRelease(announced: AnnouncedRelease, trustedKeys: readonly KeyObject[], size?: number): SignedManifest {
  const { ecu, release } = announced;
  if (!announced.manifest) {
    if (trustedKeys.length > 0) {
      throw new ReleaseRejectedError(ecu,
        `${release.filename} comes without a signed manifest, and this vehicle installs only releases signed by a trusted key`);
    }
    const bytes = size ?? release.size;
    if (bytes === undefined) throw new ReleaseRejectedError(ecu, `${release.filename}: the size is unknown until it is downloaded`);
    return {
      signed: {
        _type: 'canota/release',
        release_id: release.releaseId ?? release.sha256.slice(0, 16),
        filename: release.filename,
        ecu,
        firmware_version: announced.firmwareVersion,
        size: bytes,
        sha256: release.sha256,
        created_at: release.uploadedAt ?? new Date(release.mtime * 1000).toISOString(),
      },
      signatures: [],
    };
  }
  const manifest = announced.manifest;
  const signed = manifest.signed;
  const mismatches: string[] = [];
  if (signed.ecu.toUpperCase() !== ecu) mismatches.push(`ECU ${signed.ecu}, announced ${ecu}`);
  if (signed.sha256 !== release.sha256) mismatches.push(`SHA-256 ${signed.sha256}, announced ${release.sha256}`);
  if (signed.firmware_version !== announced.firmwareVersion) {
    mismatches.push(`version ${signed.firmware_version}, announced ${announced.firmwareVersion}`);
  }
  const bytes = size ?? release.size;
  if (bytes !== undefined && signed.size !== bytes) mismatches.push(`size ${signed.size}, the file has ${bytes}`);
  if (mismatches.length > 0) {
    throw new ReleaseRejectedError(ecu, `the manifest of ${release.filename} does not describe it: ${mismatches.join('; ')}`);
  }
  if (trustedKeys.length > 0) {
    if (manifest.signatures.length === 0) {
      throw new ReleaseRejectedError(ecu, `the manifest of ${release.filename} is unsigned; this vehicle installs only releases signed by a trusted key`);
    }
    try {
      verifyManifest(manifest, trustedKeys);
    } catch (error) {
      if (error instanceof ManifestError) throw new ReleaseRejectedError(ecu, `${release.filename}: ${error.message}`, { cause: error });
      throw error;
    }
  }
  return manifest;
}
