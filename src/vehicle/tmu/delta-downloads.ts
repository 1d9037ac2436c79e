import { createHash } from 'node:crypto';
import { existsSync, statSync } from 'node:fs';
import { mkdir, rename, rm } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { ReleaseDelta, SignedManifest } from '../../crypto/manifest.ts';
import { writeFileAtomic } from '../../files/atomic-write.ts';
import type { Logger } from '../../logging/logger.ts';
import { errorMessage } from '../../errors/error-message.ts';
import type { DeltaImage, ImageWithDelta } from './delta-image.ts';
import type { TmuDownloads, TmuServer } from './tmu-parts.ts';
import type { AnnouncedRelease } from './server-api.ts';

/** What the TMU knows of one target when it looks for a delta. */
export interface DeltaTarget {
  ecu: string;
  /** The version the ECU ran when the campaign was planned. */
  from: string;
  /** The verified, signed manifest of the release (its `deltas` are signed with it). */
  manifest: SignedManifest | null;
  /** The verified image on disk. */
  path: string;
}

/** Where the delta from `base` to the image at `imagePath` is kept: next to the image. */
export function deltaPath(imagePath: string, baseSha256: string): string {
  return `${imagePath}.from-${baseSha256}.vcdiff`;
}

/** The delta of the manifest made from the version the ECU runs, if the server made one. */
export function deltaFromRunning(target: Pick<DeltaTarget, 'from' | 'manifest'>): ReleaseDelta | undefined {
  return target.manifest?.signed.deltas?.find((delta) => delta.format === 'vcdiff' && delta.base_version === target.from);
}

/**
 * Downloads the release's delta from the version the ECU runs, when the signed manifest lists one, and keeps
 * it next to the image once its length and SHA-256 are the manifest's. Never fails: without the delta the
 * ECU gets the full image (logged).
 */
export async function fetchDelta(server: TmuServer, target: DeltaTarget, options: { logger?: Logger | undefined; signal: AbortSignal }): Promise<void> {
  const delta = deltaFromRunning(target);
  if (!delta || !target.manifest || !server.fetchDelta) return;
  const path = deltaPath(target.path, delta.base_sha256);
  if (localDelta(target)) return;
  const releaseId = target.manifest.signed.release_id;
  try {
    const bytes = await server.fetchDelta(releaseId, delta.base_sha256, delta.size, options.signal);
    const sha256 = createHash('sha256').update(bytes).digest('hex');
    if (bytes.length !== delta.size || sha256 !== delta.sha256) {
      throw new Error(`the delta is ${bytes.length} bytes with SHA-256 ${sha256}, the signed manifest says ${delta.size} bytes, ${delta.sha256}`);
    }
    // Before the image, its directory may not exist yet.
    await mkdir(dirname(path), { recursive: true });
    await writeFileAtomic(`${path}.partial`, bytes);
    await rename(`${path}.partial`, path);
    options.logger?.info({ ecu: target.ecu, from: target.from, delta_bytes: bytes.length, image: target.path },
      `${target.ecu}: delta from ${target.from} downloaded (${bytes.length} bytes)`);
  } catch (error) {
    if (options.signal.aborted) throw error;
    await rm(`${path}.partial`, { force: true });
    options.logger?.warn({ ecu: target.ecu, from: target.from, reason: errorMessage(error) },
      `${target.ecu}: no delta from ${target.from}: the full image will be sent`);
  }
}

/** The delta downloaded for this target (the right length on disk), or undefined. */
export function localDelta(target: DeltaTarget): DeltaImage | undefined {
  const delta = deltaFromRunning(target);
  if (!delta) return undefined;
  const path = deltaPath(target.path, delta.base_sha256);
  try {
    if (statSync(path).size !== delta.size) return undefined;
  } catch {
    return undefined;
  }
  return { path, size: delta.size, base: { version: delta.base_version, sha256: delta.base_sha256 } };
}

/**
 * Fetches only the delta, not the image, when the release's signed manifest lists one from the version the
 * ECU runs (fewer bytes over the air too): the image is fetched later only if the ECU cannot take the delta
 * (imageWithDelta's `ensure`). Never for `tester` (the TMU's own banks take no deltas). Returns the image's
 * future path and the checked manifest, or undefined: fetch the image as usual. A manifest that cannot be
 * trusted throws (ReleaseRejectedError), as the image's download would.
 */
export async function fetchDeltaInstead(server: TmuServer, downloads: TmuDownloads, target: { ecu: string; from: string; announced: AnnouncedRelease },
  options: { tester: string; logger?: Logger | undefined; signal: AbortSignal }): Promise<{ path: string; manifest: SignedManifest } | undefined> {
  if (target.ecu === options.tester || !downloads.imagePath || !downloads.trust || !server.fetchDelta || !target.announced.manifest) return undefined;
  const manifest = downloads.trust(target.announced);
  const path = downloads.imagePath(target.announced);
  const deltaTarget = { ecu: target.ecu, from: target.from, manifest, path };
  if (!deltaFromRunning(deltaTarget)) return undefined;
  await fetchDelta(server, deltaTarget, options);
  return localDelta(deltaTarget) ? { path, manifest } : undefined;
}

/**
 * The image of a target, with its delta when one was downloaded; `fetchImage` downloads the image when only
 * the delta was (once, whoever asks first).
 */
export function imageWithDelta(target: DeltaTarget, fetchImage?: () => Promise<string>): ImageWithDelta {
  const delta = localDelta(target);
  if (!delta) return { path: target.path };
  if (!fetchImage || existsSync(target.path)) return { path: target.path, delta };
  let fetching: Promise<void> | undefined;
  const ensure = (): Promise<void> => fetching ??= fetchImage().then((path) => {
    if (path !== target.path) throw new Error(`${target.ecu}: the image was downloaded to ${path}, not ${target.path}`);
  }, (error: unknown) => {
    fetching = undefined;
    throw error;
  });
  return { path: target.path, delta, ensure };
}
