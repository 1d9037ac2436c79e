import type { KeyObject } from 'node:crypto';
import { ManifestError, decodeManifest, verifyManifest, type ReleaseManifest, type SignedManifest } from '../../crypto/manifest.ts';
import { compareFirmwareVersions } from '../../firmware/version-order.ts';
import { EcuError } from './errors.ts';
import { errorMessage } from '../../errors/error-message.ts';

/** Who is checking: the ECU's identity and what it runs. */
export interface ReleaseCheckContext {
  ecu: string;
  hardwareId: string;
  /** Version of the running image (null: unknown, any version goes). */
  runningVersion: string | null;
  /** The anti-rollback floor (FlashBanks.floor): nothing older is accepted, whatever runs now. */
  floor?: string | null;
  /** Keys whose signatures the ECU accepts; empty means the vehicle checks no signatures. */
  trustedKeys: readonly KeyObject[];
}

/** The manifest is refused; `message` is the reason the ECU sends back to the tester. */
export class ReleaseRefusedError extends EcuError {
  override name = 'ReleaseRefusedError';
}

export interface AcceptedRelease {
  signed: SignedManifest;
  release: ReleaseManifest;
}

/**
 * The policy half of 0xFF01 (docs/vehicle-protocol.md): is this release meant for this ECU and may it
 * replace what runs? Whether the bank holds exactly the release's bytes is FlashBanks.verifyInactive's job.
 * With trusted keys configured an unsigned manifest is refused outright: otherwise anyone on the bus could
 * install an image by sending a manifest that simply lacks signatures.
 */
export function checkRelease(manifestBytes: Uint8Array, context: ReleaseCheckContext): AcceptedRelease {
  let signed: SignedManifest;
  try {
    signed = decodeManifest(manifestBytes);
  } catch (error) {
    throw new ReleaseRefusedError(errorMessage(error));
  }
  if (context.trustedKeys.length > 0) {
    if (signed.signatures.length === 0) {
      throw new ReleaseRefusedError('release manifest is unsigned; this ECU accepts only releases signed by a trusted key');
    }
    try {
      verifyManifest(signed, context.trustedKeys);
    } catch (error) {
      if (error instanceof ManifestError) throw new ReleaseRefusedError(error.message);
      throw error;
    }
  }
  const release = signed.signed;
  if (release.ecu !== context.ecu) {
    throw new ReleaseRefusedError(`release is for ECU ${release.ecu}, this is ${context.ecu}`);
  }
  if (release.hardware_id !== undefined && release.hardware_id !== context.hardwareId) {
    throw new ReleaseRefusedError(`release is for hardware ${release.hardware_id}, this ECU is ${context.hardwareId}`);
  }
  if (context.runningVersion !== null && compareFirmwareVersions(release.firmware_version, context.runningVersion) < 0) {
    throw new ReleaseRefusedError(
      `version ${release.firmware_version} is older than the running ${context.runningVersion} (downgrade refused)`,
    );
  }
  // What runs may be older than the floor (a fall-back to the other bank): the floor still holds.
  if (context.floor && compareFirmwareVersions(release.firmware_version, context.floor) < 0) {
    throw new ReleaseRefusedError(
      `version ${release.firmware_version} is below the anti-rollback floor ${context.floor} (the newest version this ECU confirmed)`,
    );
  }
  return { signed, release };
}
