import { z } from 'zod';
import { UnexpectedAnswerError } from './errors.ts';

/**
 * What the server announces at `/latest_version` (docs/architecture.md, "HTTP routes"): the seed's three fields, `version` being
 * the file name to download, plus canota's optional extras. The seed sends only the first three.
 */
export interface Release {
  /** The file name on the server (`/ota_download/<filename>`); also the name it gets in the download dir. */
  filename: string;
  /** Unix seconds (float) of the upload, as the server reports it. */
  mtime: number;
  /** Lower-case hex SHA-256 of the file. */
  sha256: string;
  /** Size in bytes, when the server announces it (canota does; the seed does not). */
  size: number | undefined;
  ecu: string | undefined;
  firmwareVersion: string | undefined;
  releaseId: string | undefined;
  uploadedAt: string | undefined;
}

const optionalText = z.union([z.string(), z.number()]).nullish().transform((value) => value == null ? undefined : String(value));

const latestVersionAnswer = z.object({
  version: z.string().nullable(),
  mtime: z.number().nullable(),
  sha256: z.string().nullable(),
  size: z.number().int().nonnegative().nullish(),
  ecu: optionalText,
  firmware_version: optionalText,
  release_id: optionalText,
  uploaded_at: optionalText,
});

const sha256Pattern = /^[0-9a-f]{64}$/;

/**
 * Reads a `/latest_version` answer: a `Release`, or `null` when the server has nothing (all three seed
 * fields null). Anything else is an `UnexpectedAnswerError`, including a file name that could escape the
 * download dir: the name comes from the network and becomes a path on the vehicle.
 */
export function parseLatestVersion(body: unknown): Release | null {
  const parsed = latestVersionAnswer.safeParse(body);
  if (!parsed.success) {
    throw new UnexpectedAnswerError(`unexpected /latest_version answer: ${z.prettifyError(parsed.error)}`);
  }
  const answer = parsed.data;
  if (answer.version === null && answer.sha256 === null) return null;
  if (answer.version === null || answer.sha256 === null) {
    throw new UnexpectedAnswerError('/latest_version names a version without a sha256 (or the reverse)');
  }
  const sha256 = answer.sha256.toLowerCase();
  if (!sha256Pattern.test(sha256)) {
    throw new UnexpectedAnswerError(`/latest_version sha256 is not 64 hex digits: ${JSON.stringify(answer.sha256)}`);
  }
  return {
    filename: safeFilename(answer.version),
    mtime: answer.mtime ?? 0,
    sha256,
    size: answer.size ?? undefined,
    ecu: answer.ecu,
    firmwareVersion: answer.firmware_version,
    releaseId: answer.release_id,
    uploadedAt: answer.uploaded_at,
  };
}

/** Accepts a plain file name only: no directories, no `.`/`..`, no control characters, not hidden. */
export function safeFilename(name: string): string {
  // eslint-disable-next-line no-control-regex
  const unsafe = name.length === 0 || name.length > 255 || /[/\\\u0000-\u001f\u007f]/.test(name) ||
    name.startsWith('.');
  if (unsafe) throw new UnexpectedAnswerError(`refusing unsafe file name from the server: ${JSON.stringify(name)}`);
  return name;
}

/** A short form of a release for logs and status output. */
export function describeRelease(release: Release): Record<string, unknown> {
  return {
    filename: release.filename,
    sha256: release.sha256,
    size: release.size,
    ecu: release.ecu,
    firmwareVersion: release.firmwareVersion,
    releaseId: release.releaseId,
  };
}
