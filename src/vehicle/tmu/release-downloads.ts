import type { KeyObject } from 'node:crypto';
import { rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { DownloadAgent, type DownloadAgentOptions, type DownloadProgress } from '../../client/index.ts';
import type { SignedManifest } from '../../crypto/manifest.ts';
import type { Logger } from '../../logging/logger.ts';
import { DownloadFailedError, TmuError } from './errors.ts';
import { manifestForRelease } from './release-trust.ts';
import type { AnnouncedRelease } from './server-api.ts';

/** The download agent's settings the TMU passes through (the CLI's client options); directories are the TMU's. */
export type DownloadSettings = Omit<DownloadAgentOptions, 'downloadDir' | 'stateDir' | 'verify' | 'installedVersion' | 'logger'>;

export interface DownloadedTarget {
  path: string;
  size: number;
  manifest: SignedManifest;
  /** False when an earlier download of the same release was reused. */
  fresh: boolean;
}

/**
 * One download agent per target ECU, each with its own state dir and download dir under
 * `<state-dir>/tmu/downloads/<ECU>/` (`state/`: downloaded_sha.txt, progress.txt, the partial file, the
 * lock; `files/`: verified images), so a partial EDT download survives while a CGW release is fetched and
 * every ECU's progress.txt is its own. The agent's verify step checks the release manifest (signature by a
 * trusted key, and that it describes exactly these bytes) before the file is installed.
 */
export class ReleaseDownloads {
  readonly #directory: string;
  readonly #settings: DownloadSettings;
  readonly #trustedKeys: readonly KeyObject[];
  readonly #logger: Logger | undefined;
  readonly #agents = new Map<string, DownloadAgent>();
  /** The release each agent is fetching now (its verify step needs the announcement). */
  readonly #current = new Map<string, AnnouncedRelease>();
  readonly #onProgress: ((ecu: string, progress: DownloadProgress) => void) | undefined;

  constructor(options: {
    directory: string;
    settings: DownloadSettings;
    trustedKeys: readonly KeyObject[];
    logger?: Logger | undefined;
    onProgress?: (ecu: string, progress: DownloadProgress) => void;
  }) {
    this.#directory = options.directory;
    this.#settings = options.settings;
    this.#trustedKeys = options.trustedKeys;
    this.#logger = options.logger;
    this.#onProgress = options.onProgress;
  }

  /** Where an ECU's agent keeps its state files. */
  stateDir(ecu: string): string {
    return join(this.#directory, ecu, 'state');
  }

  /**
   * The verified image of `announced`: downloaded (resuming a partial file), or the earlier download of
   * the very same release. Throws DownloadFailedError, ReleaseRejectedError (the manifest), or the
   * signal's reason when stopped.
   */
  async fetch(announced: AnnouncedRelease, signal: AbortSignal, onProgress?: (progress: DownloadProgress) => void): Promise<DownloadedTarget> {
    const { ecu, release } = announced;
    const agent = this.#agent(ecu);
    const earlier = await agent.stateFiles.readDownloadedRelease();
    if (earlier && earlier.sha256 === release.sha256) {
      const size = await stat(earlier.path).then((info) => (info.isFile() ? info.size : -1), () => -1);
      if (size === earlier.size) {
        return { path: earlier.path, size, manifest: manifestForRelease(announced, this.#trustedKeys, size), fresh: false };
      }
    }
    // Refused before a byte is fetched when no acceptable manifest can exist for it.
    if (announced.manifest || release.size !== undefined) manifestForRelease(announced, this.#trustedKeys);
    this.#current.set(ecu, announced);
    // This fetch's own listener, for its duration (the constructor's onProgress hears every fetch).
    if (onProgress) agent.on('progress', onProgress);
    let outcome;
    try {
      outcome = await agent.download(release, signal);
    } finally {
      if (onProgress) agent.off('progress', onProgress);
    }
    switch (outcome.status) {
      case 'downloaded':
        return { path: outcome.path, size: outcome.size, manifest: manifestForRelease(announced, this.#trustedKeys, outcome.size), fresh: true };
      case 'stopped':
        throw signal.reason ?? new Error('stopped');
      case 'failed':
        throw new DownloadFailedError(ecu, outcome.reason, outcome.message);
      default:
        throw new DownloadFailedError(ecu, 'bad-response', `unexpected download outcome ${outcome.status}`);
    }
  }

  /** Where the image of `announced` is, or will be once fetched (the download agent's files directory). */
  imagePath(announced: AnnouncedRelease): string {
    return join(this.#directory, announced.ecu, 'files', announced.release.filename);
  }

  /** The release's manifest, checked as before a download (signature by a trusted key): for a delta fetched instead. */
  trust(announced: AnnouncedRelease): SignedManifest {
    return manifestForRelease(announced, this.#trustedKeys);
  }

  /**
   * Forgets the download of an ECU (its image was refused by the ECU: the bytes on disk may be what is
   * wrong), so the next campaign fetches it again.
   */
  async discard(ecu: string, path: string | null): Promise<void> {
    if (path) await rm(path, { force: true });
    await rm(join(this.stateDir(ecu), 'downloaded_sha.txt'), { force: true });
    await rm(join(this.stateDir(ecu), 'downloaded_release.json'), { force: true });
  }

  async close(): Promise<void> {
    await Promise.all([...this.#agents.values()].map((agent) => agent.close()));
    this.#agents.clear();
  }

  #agent(ecu: string): DownloadAgent {
    let agent = this.#agents.get(ecu);
    if (agent) return agent;
    agent = new DownloadAgent({
      ...this.#settings,
      stateDir: this.stateDir(ecu),
      downloadDir: join(this.#directory, ecu, 'files'),
      verify: async ({ size }) => {
        const announced = this.#current.get(ecu);
        if (!announced) throw new TmuError(`no release is being fetched for ${ecu}`);
        manifestForRelease(announced, this.#trustedKeys, size);
      },
      ...(this.#logger ? { logger: this.#logger.child({ ecu }) } : {}),
    });
    if (this.#onProgress) {
      const onProgress = this.#onProgress;
      agent.on('progress', (progress) => onProgress(ecu, progress));
    }
    this.#agents.set(ecu, agent);
    return agent;
  }
}
