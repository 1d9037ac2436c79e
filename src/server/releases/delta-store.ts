import { mkdir, readdir, readFile, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { ReleaseDelta } from '../../crypto/manifest.ts';
import { writeFileAtomic } from '../../files/atomic-write.ts';
import type { Logger } from '../../logging/logger.ts';
import { errorMessage } from '../../errors/error-message.ts';
import { makeDelta, type MadeDelta } from './delta-maker.ts';

/** An earlier release a delta is made from. */
export interface DeltaBaseRelease {
  id: number;
  version: string;
  sha256: string;
  size: number;
  /** Where its image is (the blob store). */
  path: string;
}

/** One stored delta: what the manifest says of it, and how long it took to make. */
export interface StoredDelta extends ReleaseDelta {
  base_release_id: number;
  generation_ms: number;
}

const HEX_SHA256 = /^[0-9a-f]{64}$/;

/**
 * The deltas the server made at upload (issue 13), kept in `<data-dir>/deltas/`: `<release id>/<base
 * sha256>.vcdiff` and `<release id>/deltas.json` (written last, atomically: a delta counts once it is
 * listed). Read once at start and kept in memory, because every signed manifest names them. A release
 * never changes, so neither do its deltas.
 */
export class DeltaStore {
  readonly #root: string;
  readonly #logger: Logger | undefined;
  readonly #deltas = new Map<number, StoredDelta[]>();
  readonly #xdelta3: string | undefined;

  private constructor(root: string, logger: Logger | undefined, xdelta3: string | undefined) {
    this.#root = root;
    this.#logger = logger;
    this.#xdelta3 = xdelta3;
  }

  static async open(root: string, options: { logger?: Logger; xdelta3?: string } = {}): Promise<DeltaStore> {
    const store = new DeltaStore(root, options.logger, options.xdelta3);
    await mkdir(root, { recursive: true, mode: 0o700 });
    for (const entry of await readdir(root, { withFileTypes: true })) {
      if (!entry.isDirectory() || !/^\d+$/.test(entry.name)) continue;
      try {
        const listed = JSON.parse(await readFile(join(root, entry.name, 'deltas.json'), 'utf8')) as StoredDelta[];
        store.#deltas.set(Number(entry.name), listed);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'ENOENT') options.logger?.warn({ err: error, release_id: Number(entry.name) }, 'release deltas unreadable: offered without them');
      }
    }
    return store;
  }

  /** The deltas of a release, as its manifest lists them. */
  of(releaseId: number): ReleaseDelta[] {
    return (this.#deltas.get(releaseId) ?? []).map(({ format, base_version, base_sha256, base_size, size, sha256 }) =>
      ({ format, base_version, base_sha256, base_size, size, sha256 }));
  }

  /** The file of the delta from `baseSha256` to release `releaseId`, or undefined when there is none. */
  file(releaseId: number, baseSha256: string): { path: string; delta: StoredDelta } | undefined {
    if (!HEX_SHA256.test(baseSha256)) return undefined;
    const delta = this.#deltas.get(releaseId)?.find((candidate) => candidate.base_sha256 === baseSha256);
    return delta ? { path: join(this.#root, String(releaseId), `${baseSha256}.vcdiff`), delta } : undefined;
  }

  /**
   * Makes the deltas from `bases` to a new release's image. A delta that cannot be made (xdelta3 missing or
   * failing), or that is not smaller than the image, is left out and logged: the release is offered all the
   * same, and cars get the full image. Returns the deltas kept.
   */
  async make(release: { id: number; path: string; size: number }, bases: readonly DeltaBaseRelease[]): Promise<StoredDelta[]> {
    const directory = join(this.#root, String(release.id));
    await mkdir(directory, { recursive: true, mode: 0o700 });
    const kept: StoredDelta[] = [];
    for (const base of bases) {
      const path = join(directory, `${base.sha256}.vcdiff`);
      const partial = `${path}.partial`;
      let made: MadeDelta;
      try {
        made = await makeDelta({ base: base.path, baseSha256: base.sha256, target: release.path, out: partial, ...(this.#xdelta3 ? { xdelta3: this.#xdelta3 } : {}) });
      } catch (error) {
        await rm(partial, { force: true });
        this.#logger?.warn({ release_id: release.id, base_release_id: base.id, reason: errorMessage(error) },
          `no delta from ${base.version} for release ${release.id}: it is offered without one`);
        continue;
      }
      if (made.size >= release.size) {
        await rm(partial, { force: true });
        this.#logger?.info({ release_id: release.id, base_release_id: base.id, delta_bytes: made.size }, `the delta from ${base.version} is no smaller than the image: not kept`);
        continue;
      }
      await rename(partial, path);
      kept.push({
        format: 'vcdiff', base_version: base.version, base_sha256: base.sha256, base_size: base.size,
        size: made.size, sha256: made.sha256, base_release_id: base.id, generation_ms: Math.round(made.milliseconds),
      });
      this.#logger?.info({ release_id: release.id, base_release_id: base.id, delta_bytes: made.size, image_bytes: release.size, ms: Math.round(made.milliseconds) },
        `delta from ${base.version} made for release ${release.id}`);
    }
    await writeFileAtomic(join(directory, 'deltas.json'), `${JSON.stringify(kept, null, 2)}\n`);
    this.#deltas.set(release.id, kept);
    return kept;
  }
}
