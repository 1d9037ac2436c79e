import { compareFirmwareVersions } from '../../firmware/version-order.ts';
import { errorMessage } from '../../errors/error-message.ts';
import type { ServerContext } from '../context.ts';
import type { ReleaseRecord } from '../storage/releases.ts';
import type { DeltaBaseRelease } from './delta-store.ts';

/** Deltas are made from this many of the ECU's newest earlier releases: what most of its cars run. */
export const DELTA_BASES = 3;
/**
 * No deltas for larger images: 64 MiB is an ECU's largest bank by default and xdelta3's default source
 * window (beyond it the delta finds fewer copies), and the upload waits while deltas are made.
 */
export const DELTA_MAX_IMAGE_BYTES = 64 * 1024 * 1024;

/**
 * At upload (issue 13): binary deltas to the new release from the ECU's newest earlier releases that are
 * still offered, so a car running one of them gets a few kilobytes instead of the image. Never fails the
 * upload: whatever goes wrong is logged and the release is offered without (some) deltas.
 */
export async function makeReleaseDeltas(ctx: ServerContext, release: ReleaseRecord): Promise<void> {
  const store = ctx.deltas;
  if (!store || !release.ecu || !release.firmware_version) return;
  if (release.size > DELTA_MAX_IMAGE_BYTES) {
    ctx.logger.info({ release_id: release.id, size: release.size }, `no deltas for release ${release.id}: images over ${DELTA_MAX_IMAGE_BYTES} bytes go whole`);
    return;
  }
  try {
    const bases = await earlierReleases(ctx, release);
    if (bases.length === 0) return;
    await store.make({ id: release.id, path: ctx.blobs.pathOf(release.sha256), size: release.size }, bases);
    ctx.signer.forget(release.id);
    ctx.latestPerEcu.invalidate();
  } catch (error) {
    ctx.logger.warn({ release_id: release.id, reason: errorMessage(error) }, `no deltas for release ${release.id}: it is offered without them`);
  }
}

async function earlierReleases(ctx: ServerContext, release: ReleaseRecord): Promise<DeltaBaseRelease[]> {
  const ecu = release.ecu!.toUpperCase();
  const version = release.firmware_version!;
  const all = await ctx.storage.releases.list({ limit: 10_000 });
  return all
    .filter((other) => other.id !== release.id && other.withdrawn_at === null && other.ecu?.toUpperCase() === ecu
      && other.firmware_version !== null && compareFirmwareVersions(other.firmware_version, version) < 0 && other.sha256 !== release.sha256)
    .sort((a, b) => compareFirmwareVersions(b.firmware_version!, a.firmware_version!))
    .slice(0, DELTA_BASES)
    .map((other) => ({ id: other.id, version: other.firmware_version!, sha256: other.sha256, size: other.size, path: ctx.blobs.pathOf(other.sha256) }));
}
