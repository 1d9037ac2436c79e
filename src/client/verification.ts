import type { Release } from '../ota-http/release.ts';

/** A downloaded file whose SHA-256 matched, before it is moved into the download dir. */
export interface VerificationInput {
  /** Where the bytes are now (in the state dir); read them, do not move them. */
  path: string;
  release: Release;
  sha256: string;
  size: number;
  signal: AbortSignal;
}

/**
 * An extra check after the SHA-256, plugged in by the embedder (the vehicle's TMU checks the release
 * manifest's Ed25519 signature here). Resolve to accept; throw (any error) to reject: the file is then
 * thrown away, nothing is installed, and the cycle fails with reason `verification-failed`.
 */
export type ReleaseVerifier = (input: VerificationInput) => Promise<void>;
