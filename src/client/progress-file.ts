import type { Logger } from '../logging/logger.ts';
import type { Progress, StateFiles } from './state-files.ts';

/**
 * Keeps `progress.txt` current without slowing the download: a percent change starts an atomic write in
 * the background; changes that arrive while one is running collapse into the newest value. So the file
 * changes at most once per percent and the stream never waits for the disk's fsync.
 */
export class ProgressFile {
  #last: Progress | undefined;
  #pending: Progress | undefined;
  #writing: Promise<void> | undefined;

  constructor(private readonly state: StateFiles, private readonly logger?: Logger) {}

  /** Schedules a write of `progress` if it differs from the last one. */
  report(progress: Progress): void {
    if (progress === this.#last) return;
    this.#last = progress;
    this.#pending = progress;
    this.#writing ??= this.#drain();
  }

  /** Writes `progress` (if given) and resolves once everything reported is on disk. */
  async settle(progress?: Progress): Promise<void> {
    if (progress !== undefined) this.report(progress);
    while (this.#writing) await this.#writing;
  }

  async #drain(): Promise<void> {
    try {
      while (this.#pending !== undefined) {
        const value = this.#pending;
        this.#pending = undefined;
        try {
          await this.state.writeProgress(value);
        } catch (error) {
          // Progress is advisory: a full disk must not fail a download that can still succeed.
          this.logger?.warn({ err: error }, 'could not write progress.txt');
        }
      }
    } finally {
      this.#writing = undefined;
    }
  }
}
