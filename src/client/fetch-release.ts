import { createHash } from 'node:crypto';
import type { Hash } from 'node:crypto';
import type { Logger } from '../logging/logger.ts';
import { ClientError } from './errors.ts';
import type { ServerSession } from './ota-server.ts';
import type { PartialDownload } from './partial-download.ts';
import { ProgressMeter, type DownloadProgress } from './progress.ts';
import { planBody, resumeHeaders, sameEntityTag, type BodyPlan } from './range.ts';
import type { Release } from '../ota-http/release.ts';
import { StallWatch } from './stall-watch.ts';
import { transferBody } from './transfer.ts';

export interface FetchSettings {
  stallTimeoutMs: number;
  minSpeed: number;
  maxSize: number;
  /**
   * Called after every `reclaimEveryBytes` of body. Each socket read arrives in a new buffer that is garbage
   * as soon as it is hashed and written, but V8 frees buffers only when it collects their (tiny) objects,
   * and the external-memory trigger for that fires only some 32 MiB later.
   */
  reclaimMemory?: (() => void) | undefined;
}

const reclaimEveryBytes = 4 * 1024 * 1024;

/** A file whose bytes hash to the announced SHA-256, still in the state dir. */
export interface FetchedFile {
  path: string;
  size: number;
  /** Where this try started (bytes already on disk); 0 for a fresh download. */
  resumedFrom: number;
}

/**
 * One try at getting `release` into the partial file: resume point from disk, a fresh nonce, a Range
 * request, the streamed body, then the length and SHA-256 checks. A failure throws a `ClientError` and
 * leaves the partial file as it should be for the next try: kept when its bytes are a good prefix
 * (cut, stall, timeout), thrown away when they cannot be (hash or length mismatch, changed file).
 */
export async function fetchRelease(input: {
  release: Release;
  session: ServerSession;
  partial: PartialDownload;
  settings: FetchSettings;
  signal: AbortSignal;
  logger: Logger | undefined;
  onProgress: (progress: DownloadProgress) => void;
}): Promise<FetchedFile> {
  const { release, session, partial, settings, logger } = input;
  const resume = await partial.open(release);
  const meter = new ProgressMeter(release, release.size, resume.offset, input.onProgress);

  if (release.size !== undefined && resume.offset === release.size) {
    logger?.info({ bytes: resume.offset }, 'the partial file is complete: verifying it');
    return await checkHash(release, partial, await partial.rehash(resume.offset), resume.offset, resume.offset);
  }

  // Everything asynchronous happens before the request: once the answer is here its body must be
  // consumed in the same tick (see transferBody). Resuming costs one read of the bytes on disk.
  let hash = await partial.rehash(resume.offset);
  if (resume.offset > 0) logger?.info({ offset: resume.offset }, `resuming at byte ${resume.offset}`);
  const nonce = await session.nonce(input.signal);
  // Our own abort (stall) and the caller's (stop) both end the request; the reason tells them apart.
  const attempt = new AbortController();
  const stopRequest = () => attempt.abort(new ClientError('aborted', 'stopped'));
  input.signal.addEventListener('abort', stopRequest, { once: true });
  const stall = new StallWatch({
    minSpeed: settings.minSpeed,
    windowMs: settings.stallTimeoutMs,
    onStall: (rate) => attempt.abort(new ClientError('stalled',
      `transfer stalled: ${rate.toFixed(0)} B/s over the last ${settings.stallTimeoutMs / 1000} s (minimum ${settings.minSpeed} B/s)`)),
  });
  let entityTagWrite: Promise<void> = Promise.resolve();
  try {
    const response = await session.download(release.filename, nonce, resumeHeaders(resume.offset, resume.entityTag),
      { signal: attempt.signal, bodyTimeoutMs: settings.stallTimeoutMs });
    const entityTag = response.header('etag');
    let plan: BodyPlan;
    try {
      plan = planBody({
        status: response.status,
        offset: resume.offset,
        contentLength: integerHeader(response.header('content-length')),
        contentRange: response.header('content-range'),
        announcedSize: release.size,
      });
      if (plan.kind === 'append' && resume.entityTag !== undefined && entityTag !== undefined &&
        !sameEntityTag(resume.entityTag, entityTag)) {
        // The server ignored If-Range, and the file behind the name is not the one we have a prefix of.
        plan = { kind: 'discard' };
      }
    } catch (error) {
      await response.discard();
      if (error instanceof ClientError && error.reason === 'length-mismatch') await partial.discard();
      throw error;
    }
    if (plan.kind === 'discard') {
      await response.discard();
      await partial.discard();
      throw new ClientError('bad-response',
        `the server cannot continue our partial file from byte ${resume.offset} (${response.status}); starting again`,
        { status: response.status });
    }
    if (plan.kind === 'complete') {
      await response.discard();
      logger?.info({ bytes: resume.offset }, 'the partial file is complete: verifying it');
      return await checkHash(release, partial, hash, resume.offset, resume.offset);
    }

    let offset = resume.offset;
    if (plan.kind === 'from-start' && offset > 0) {
      logger?.info({ had: offset }, 'the server sent the whole file: starting from byte 0');
      offset = 0;
      hash = createHash('sha256');
      meter.rebase(0);
    }
    meter.setTotal(plan.total);
    stall.start();
    let reclaimedAt = offset;
    const transfer = transferBody({
      body: response.body,
      partPath: partial.partPath,
      offset,
      hash,
      expectedTotal: plan.total,
      maxSize: settings.maxSize,
      onBytes: (bytes) => {
        stall.bytes = bytes - offset;
        meter.update(bytes);
        if (settings.reclaimMemory && bytes - reclaimedAt >= reclaimEveryBytes) {
          reclaimedAt = bytes;
          settings.reclaimMemory();
        }
      },
    });
    entityTagWrite = partial.rememberEntityTag(entityTag);
    const size = await transfer.catch(async (error: unknown) => {
      const reason = attempt.signal.aborted ? attempt.signal.reason : error;
      if (reason instanceof ClientError && reason.reason === 'length-mismatch') {
        await entityTagWrite.catch(() => undefined);
        await partial.discard();
      }
      throw reason;
    });
    await entityTagWrite;
    meter.update(size, true);
    return await checkHash(release, partial, hash, size, resume.offset);
  } finally {
    stall.stop();
    input.signal.removeEventListener('abort', stopRequest);
    await entityTagWrite.catch(() => undefined);
  }
}

async function checkHash(release: Release, partial: PartialDownload, hash: Hash, size: number, resumedFrom: number): Promise<FetchedFile> {
  if (release.size !== undefined && size !== release.size) {
    await partial.discard();
    throw new ClientError('length-mismatch', `got ${size} bytes, ${release.size} were announced`);
  }
  const actual = hash.digest('hex');
  if (actual !== release.sha256) {
    // A wrong byte anywhere means no prefix on disk can be trusted: the next try starts from zero.
    await partial.discard();
    throw new ClientError('hash-mismatch', `SHA-256 mismatch for ${release.filename}: expected ${release.sha256}, got ${actual}`);
  }
  return { path: partial.partPath, size, resumedFrom };
}

function integerHeader(text: string | undefined): number | undefined {
  if (text === undefined || !/^\d+$/.test(text.trim())) return undefined;
  const number = Number(text);
  return Number.isSafeInteger(number) ? number : undefined;
}
