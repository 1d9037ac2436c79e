import { signManifest, type ReleaseDelta, type SignedManifest } from '../../crypto/manifest.ts';
import { publicKeyToText, type SigningKey } from '../../crypto/ed25519.ts';
import type { ReleaseRecord } from '../storage/releases.ts';
import { releaseManifest } from './manifest.ts';

/** Signed manifests kept in memory: releases never change, and vehicles ask for the same few again and again. */
const cacheLimit = 1000;

/**
 * Signs release manifests with the server's Ed25519 release key. The manifest's content comes from the
 * release row; the signature from whatever key the server runs with now, so a new `--signing-key`
 * applies to every release at once (vehicles must trust the new key: `canota keys show`).
 */
export class ManifestSigner {
  readonly #cache = new Map<number, SignedManifest>();

  /** `deltas`: the deltas made to each release (DeltaStore), signed into its manifest. */
  constructor(readonly key: SigningKey, readonly deltas?: { of(releaseId: number): ReleaseDelta[] }) {}

  /** `ed25519:<base64>`: what a vehicle config's `trustedKeys` lists. */
  get publicKey(): string {
    return publicKeyToText(this.key.publicKey);
  }

  /** The signed manifest, or the reason the release has none. */
  sign(release: ReleaseRecord): { signed: SignedManifest } | { problem: string } {
    const cached = this.#cache.get(release.id);
    if (cached) return { signed: cached };
    const built = releaseManifest(release, this.deltas?.of(release.id) ?? []);
    if ('problem' in built) return built;
    const signed = signManifest(built.manifest, this.key);
    if (this.#cache.size >= cacheLimit) this.#cache.clear();
    this.#cache.set(release.id, signed);
    return { signed };
  }

  /** Signs the release again at its next use: its deltas were just made. */
  forget(releaseId: number): void {
    this.#cache.delete(releaseId);
  }
}
