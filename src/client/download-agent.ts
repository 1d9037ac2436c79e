import { EventEmitter } from 'node:events';
import { mkdir } from 'node:fs/promises';
import { errorMessage } from '../errors/error-message.ts';
import type { Logger } from '../logging/logger.ts';
import { ClientError, toClientError, type FailureReason } from './errors.ts';
import { fetchRelease, type FetchedFile } from './fetch-release.ts';
import { isDowngrade } from '../firmware/version-order.ts';
import { moveIntoPlace, sweepTemporaryFiles } from './installation.ts';
import { OtaServer, type LatestVersionCache, type ServerSession } from './ota-server.ts';
import { PartialDownload } from './partial-download.ts';
import { ProgressFile } from './progress-file.ts';
import type { DownloadProgress } from './progress.ts';
import { describeRelease, safeFilename, type Release } from '../ota-http/release.ts';
import { pause, pollDelayMs, retryDelayMs } from '../timing/schedule.ts';
import { StateFiles } from './state-files.ts';
import { StateDirLockedError, StateLock } from '../files/state-lock.ts';
import type { ReleaseVerifier } from './verification.ts';

export interface DownloadAgentOptions {
  /** The OTA server's base URL. */
  server: string | URL;
  /** Verified downloads land here, under the release's file name. */
  downloadDir: string;
  /** `downloaded_sha.txt`, `progress.txt`, the partial download and the lock live here. */
  stateDir: string;
  /** Vehicle credential, sent as `Authorization: Bearer …`. */
  token?: string | undefined;
  /** Tries per cycle (the seed's "at most 3 times"). Default 3. */
  maxRetry?: number;
  /** Seconds between polls in `run()`, ±10 % jitter. Default 10. */
  intervalSeconds?: number;
  /** First retry pause in seconds; doubles each try (with jitter), up to `maxBackoffSeconds`. Default 1. */
  retryBackoffSeconds?: number;
  maxBackoffSeconds?: number;
  /** Connect and response-header timeout in seconds. Default 30. */
  timeoutSeconds?: number;
  /** A download slower than `minSpeed` bytes/s over `stallTimeoutSeconds` is cut and retried. */
  stallTimeoutSeconds?: number;
  minSpeed?: number;
  /** Largest file accepted when the server announces no size (the seed does not). Default 4 GiB. */
  maxSize?: number;
  /** Installed firmware version for the no-downgrade rule; default: the last download's `firmware_version`. */
  installedVersion?: (release: Release) => string | undefined | Promise<string | undefined>;
  allowDowngrade?: boolean;
  /**
   * Called after every 4 MiB of body received (see `FetchSettings.reclaimMemory`). `canota client` passes a
   * minor garbage collection, so its memory stays flat; an embedding process may leave it to V8.
   */
  reclaimMemory?: () => void;
  /** Runs after the SHA-256 matched, before the file is moved into place (signature checks). */
  verify?: ReleaseVerifier;
  /** Extra CA certificates (PEM) for an https server. */
  ca?: string | Buffer;
  logger?: Logger;
}

/** How one cycle ended; `checkOnce` returns it and the agent emits it as `outcome`. */
export type CycleOutcome =
  | { status: 'up-to-date'; release: Release | null }
  | { status: 'downloaded'; release: Release; path: string; sha256: string; size: number; attempts: number; resumedFrom: number }
  | { status: 'refused-downgrade'; release: Release; installedVersion: string }
  | { status: 'failed'; reason: FailureReason; message: string; attempts: number; release: Release | undefined }
  | { status: 'stopped'; release: Release | undefined };

export interface AttemptFailure {
  attempt: number;
  reason: FailureReason;
  message: string;
  retryInMs: number;
}

export interface DownloadAgentEvents {
  /** A release newer than the last download was announced and is about to be downloaded. */
  release: [Release];
  progress: [DownloadProgress];
  'attempt-failed': [AttemptFailure];
  outcome: [CycleOutcome];
}

type Decision =
  | { download: true; release: Release }
  | { download: false; outcome: CycleOutcome };

/**
 * The download client as a library (the seed's `download_file.py`, made reliable): poll
 * `/latest_version`, compare with `downloaded_sha.txt`, refuse downgrades, download with a fresh nonce
 * per try, resume cut transfers, verify (SHA-256, length, then the pluggable verifier), install
 * atomically and record it. `canota client` is a thin CLI around it; the vehicle's TMU embeds it.
 */
export class DownloadAgent extends EventEmitter<DownloadAgentEvents> {
  readonly #options: Required<Pick<DownloadAgentOptions, 'maxRetry' | 'intervalSeconds' | 'retryBackoffSeconds' |
    'maxBackoffSeconds' | 'timeoutSeconds' | 'stallTimeoutSeconds' | 'minSpeed' | 'maxSize' | 'allowDowngrade'>> &
    DownloadAgentOptions;
  readonly #server: OtaServer;
  readonly #state: StateFiles;
  readonly #partial: PartialDownload;
  readonly #lock: StateLock;
  readonly #logger: Logger | undefined;
  #prepared = false;
  #latestCache: LatestVersionCache | undefined;
  #lastLogged: string | undefined;

  constructor(options: DownloadAgentOptions) {
    super();
    this.#options = {
      maxRetry: 3,
      intervalSeconds: 10,
      retryBackoffSeconds: 1,
      maxBackoffSeconds: 60,
      timeoutSeconds: 30,
      stallTimeoutSeconds: 30,
      minSpeed: 1024,
      maxSize: 4 * 1024 ** 3,
      allowDowngrade: false,
      ...withoutUndefined(options),
    };
    if (!Number.isInteger(this.#options.maxRetry) || this.#options.maxRetry < 1) {
      throw new RangeError(`maxRetry must be a whole number >= 1, got ${this.#options.maxRetry}`);
    }
    this.#server = new OtaServer({
      url: options.server,
      token: options.token,
      timeoutMs: this.#options.timeoutSeconds * 1000,
      ca: options.ca,
      userAgent: 'canota-client',
    });
    this.#state = new StateFiles(options.stateDir);
    this.#partial = new PartialDownload(options.stateDir);
    this.#lock = new StateLock(options.stateDir);
    this.#logger = options.logger;
  }

  get stateFiles(): StateFiles {
    return this.#state;
  }

  /** One cycle: poll, and download the announced release if it is new; retries inside. Never throws. */
  async checkOnce(signal: AbortSignal = new AbortController().signal): Promise<CycleOutcome> {
    const outcome = await this.#cycle(signal, (session) => this.#decide(session, signal));
    this.emit('outcome', outcome);
    return outcome;
  }

  /**
   * Downloads a release the embedder chose itself (say one ECU's entry of `/api/v1/releases/latest`)
   * exactly like a cycle does (fresh nonce per try, resume, checks, verifier, atomic install, state
   * files), without polling `/latest_version` and without the downgrade rule, which is then the
   * embedder's. Never throws.
   */
  async download(release: Release, signal: AbortSignal = new AbortController().signal): Promise<CycleOutcome> {
    const outcome = await this.#cycle(signal, async () => {
      const sha256 = release.sha256.toLowerCase();
      if (!/^[0-9a-f]{64}$/.test(sha256)) throw new ClientError('bad-response', `not a SHA-256: ${release.sha256}`);
      return { download: true, release: { ...release, filename: safeFilename(release.filename), sha256 } };
    });
    this.emit('outcome', outcome);
    return outcome;
  }

  /** Cycles every `intervalSeconds` (±10 %) until `signal` aborts. Outcomes arrive as `outcome` events. */
  async run(signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      const outcome = await this.checkOnce(signal);
      if (outcome.status === 'stopped') break;
      if (!await pause(pollDelayMs(this.#options.intervalSeconds * 1000), signal)) break;
    }
  }

  /** Releases the state dir and the server connections. */
  async close(): Promise<void> {
    await this.#server.close();
    await this.#lock.release();
    this.#prepared = false;
  }

  async #cycle(signal: AbortSignal, decide: (session: ServerSession) => Promise<Decision>): Promise<CycleOutcome> {
    const session = this.#server.session();
    const progressFile = new ProgressFile(this.#state, this.#logger);
    const { maxRetry } = this.#options;
    let release: Release | undefined;
    for (let attempt = 1; ; attempt++) {
      if (signal.aborted) return { status: 'stopped', release };
      try {
        await this.#prepare();
        const decision = await decide(session);
        if (!decision.download) return decision.outcome;
        if (release?.sha256 !== decision.release.sha256) {
          release = decision.release;
          this.#logger?.info({ release: describeRelease(release) }, 'new release: downloading');
          this.emit('release', release);
        }
        const fetched = await fetchRelease({
          release, session, partial: this.#partial, signal, logger: this.#logger,
          settings: {
            stallTimeoutMs: this.#options.stallTimeoutSeconds * 1000,
            minSpeed: this.#options.minSpeed,
            maxSize: this.#options.maxSize,
            reclaimMemory: this.#options.reclaimMemory,
          },
          onProgress: (progress) => {
            if (progress.percent !== undefined) progressFile.report(progress.percent);
            this.emit('progress', progress);
          },
        });
        await this.#verify(fetched, release, signal);
        const path = await this.#install(fetched, release, progressFile);
        this.#lastLogged = undefined;
        return { status: 'downloaded', release, path, sha256: release.sha256, size: fetched.size, attempts: attempt,
          resumedFrom: fetched.resumedFrom };
      } catch (error) {
        if (signal.aborted) {
          await progressFile.settle();
          this.#logger?.info('stopped; the partial download stays for the next start');
          return { status: 'stopped', release };
        }
        const failure = toClientError(error, 'download');
        const last = !failure.retryable || attempt >= maxRetry;
        if (last) {
          // ERROR only once a download was under way: a server that cannot be polled changes nothing here.
          if (release) await progressFile.settle('ERROR');
          this.#logger?.error({ reason: failure.reason, attempt, release: release && describeRelease(release) },
            `download failed: ${failure.message}`);
          return { status: 'failed', reason: failure.reason, message: failure.message, attempts: attempt, release };
        }
        const maxBackoffMs = this.#options.maxBackoffSeconds * 1000;
        // A server that said when to come back (429/503 Retry-After) is not asked sooner, up to our own ceiling.
        const retryInMs = Math.max(retryDelayMs(attempt, this.#options.retryBackoffSeconds * 1000, maxBackoffMs),
          Math.min(failure.retryAfterMs ?? 0, maxBackoffMs));
        this.#logger?.warn({ reason: failure.reason, attempt, retryInMs: Math.round(retryInMs) },
          `try ${attempt} of ${maxRetry} failed: ${failure.message}`);
        this.emit('attempt-failed', { attempt, reason: failure.reason, message: failure.message, retryInMs });
        if (!await pause(retryInMs, signal)) return { status: 'stopped', release };
      }
    }
  }

  async #prepare(): Promise<void> {
    if (this.#prepared) return;
    try {
      await mkdir(this.#options.stateDir, { recursive: true });
      await mkdir(this.#options.downloadDir, { recursive: true });
    } catch (error) {
      throw new ClientError('storage', `cannot create the state or download dir: ${errorMessage(error)}`, { cause: error });
    }
    try {
      await this.#lock.acquire();
    } catch (error) {
      if (error instanceof StateDirLockedError) throw new ClientError('locked', error.message, { cause: error });
      throw error;
    }
    const swept = [
      ...await sweepTemporaryFiles(this.#options.stateDir),
      ...await sweepTemporaryFiles(this.#options.downloadDir),
    ];
    if (swept.length > 0) this.#logger?.info({ files: swept }, 'removed temp files left by an interrupted run');
    this.#prepared = true;
  }

  /** Poll and decide: nothing new, a refused downgrade, or a release to download. */
  async #decide(session: ServerSession, signal: AbortSignal): Promise<Decision> {
    const answer = await session.latestVersion(this.#latestCache, signal);
    this.#latestCache = answer.cache;
    const { release } = answer;
    if (!release) {
      this.#logOnce('empty', 'info', {}, 'the server has no release yet');
      return { download: false, outcome: { status: 'up-to-date', release: null } };
    }
    if (await this.#state.readDownloadedSha() === release.sha256) {
      this.#logOnce(`current:${release.sha256}`, 'info', { release: describeRelease(release) }, 'up to date');
      return { download: false, outcome: { status: 'up-to-date', release } };
    }
    const installedVersion = await this.#installedVersion(release);
    if (release.firmwareVersion !== undefined && installedVersion !== undefined &&
      isDowngrade(release.firmwareVersion, installedVersion)) {
      if (!this.#options.allowDowngrade) {
        this.#logOnce(`downgrade:${release.sha256}`, 'warn', { release: describeRelease(release), installedVersion },
          `refusing downgrade from ${installedVersion} to ${release.firmwareVersion} (possible rollback attack)`);
        return { download: false, outcome: { status: 'refused-downgrade', release, installedVersion } };
      }
      this.#logger?.warn({ installedVersion, firmwareVersion: release.firmwareVersion }, 'downgrade allowed by configuration');
    }
    return { download: true, release };
  }

  async #installedVersion(release: Release): Promise<string | undefined> {
    if (this.#options.installedVersion) return await this.#options.installedVersion(release);
    return (await this.#state.readDownloadedRelease())?.firmwareVersion;
  }

  async #verify(fetched: FetchedFile, release: Release, signal: AbortSignal): Promise<void> {
    if (!this.#options.verify) return;
    try {
      await this.#options.verify({ path: fetched.path, release, sha256: release.sha256, size: fetched.size, signal });
    } catch (error) {
      await this.#partial.discard();
      throw new ClientError('verification-failed', `verification rejected ${release.filename}: ${errorMessage(error)}`,
        { cause: error });
    }
  }

  async #install(fetched: FetchedFile, release: Release, progressFile: ProgressFile): Promise<string> {
    let path: string;
    try {
      path = await moveIntoPlace(fetched.path, this.#options.downloadDir, release.filename);
      await this.#partial.finish();
      await this.#state.writeDownloadedRelease(release, path, fetched.size);
      await this.#state.writeDownloadedSha(release.sha256);
    } catch (error) {
      throw new ClientError('storage', `cannot install ${release.filename}: ${errorMessage(error)}`, { cause: error });
    }
    await progressFile.settle(100);
    this.#logger?.info({ release: describeRelease(release), path, bytes: fetched.size, resumedFrom: fetched.resumedFrom },
      'downloaded and verified');
    return path;
  }

  /** Repeated polls with the same answer log at debug level; a change logs once at `level`. */
  #logOnce(key: string, level: 'info' | 'warn', fields: object, message: string): void {
    const repeated = this.#lastLogged === key;
    this.#lastLogged = key;
    this.#logger?.[repeated ? 'debug' : level](fields, message);
  }
}

function withoutUndefined<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}
