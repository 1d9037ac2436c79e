import type { Logger } from '../../logging/logger.ts';
import type { ApprovalClient } from '../cgw/approval-client.ts';
import type { UpdateProgress } from '../cgw/approval-protocol.ts';
import { NegativeResponseError } from '../../can/uds/errors.ts';
import { UnauthenticatedAnswerError } from '../cgw/errors.ts';
import { errorMessage } from '../../errors/error-message.ts';

/** Where the TMU sends the update's progress for the HMI (ProgressRelay, or a test's). */
export interface HmiProgress {
  report(progress: UpdateProgress): void;
  /** Holds what is reported until `resume` (the gateway itself is being flashed or reset). */
  pause(): void;
  resume(): void;
  /** Waits until what is queued now has been sent (or failed). */
  settle(): Promise<void>;
  /** Forgets what was shown (a new update starts). */
  reset(): void;
  /**
   * Why the update must stop, or null: the CGW refused a progress message (the approval lapsed or was
   * withdrawn) or an answer was not authentic. The installation checks it between steps and rolls back.
   */
  readonly refusal: string | null;
}

/**
 * Carries the update's progress to the CGW's HMI (`31 01 F002`) without ever holding the update up: only
 * the newest progress per ECU waits, and one request is on the bus at a time. While the gateway itself is
 * being flashed or reset it is paused: the CGW's bootloader is then in its programming session (or
 * rebooting), where the approval routines do not exist, and re-opening the extended session would end
 * the download.
 */
export class ProgressRelay implements HmiProgress {
  readonly #approval: ApprovalClient;
  readonly #logger: Logger | undefined;
  readonly #waiting = new Map<string, UpdateProgress>();
  readonly #lastSent = new Map<string, UpdateProgress>();
  #paused = 0;
  #sending: Promise<void> | null = null;
  #refusal: string | null = null;

  constructor(approval: ApprovalClient, logger?: Logger) {
    this.#approval = approval;
    this.#logger = logger;
  }

  /** Queues `progress`; a change of less than 5 percent within a phase is not worth a request. */
  report(progress: UpdateProgress): void {
    const last = this.#waiting.get(progress.ecu) ?? this.#lastSent.get(progress.ecu);
    const minor = last && last.phase === progress.phase && Math.abs(last.percent - progress.percent) < 5 && progress.percent !== 100;
    if (minor) return;
    this.#waiting.set(progress.ecu, progress);
    this.#kick();
  }

  pause(): void {
    this.#paused += 1;
  }

  resume(): void {
    this.#paused = Math.max(0, this.#paused - 1);
    this.#kick();
  }

  /** Waits until what is queued now has been sent (or failed). */
  async settle(): Promise<void> {
    while (this.#sending) await this.#sending;
  }

  /** Forgets what was shown (a new update starts). */
  reset(): void {
    this.#waiting.clear();
    this.#lastSent.clear();
    this.#refusal = null;
  }

  get refusal(): string | null {
    return this.#refusal;
  }

  #kick(): void {
    if (this.#sending || this.#paused > 0 || this.#waiting.size === 0) return;
    this.#sending = (async () => {
      while (this.#paused === 0 && this.#waiting.size > 0) {
        const [ecu, progress] = this.#waiting.entries().next().value!;
        this.#waiting.delete(ecu);
        try {
          await this.#approval.progress(progress);
          this.#lastSent.set(ecu, progress);
        } catch (error) {
          // Silence (a busy bus) only costs the HMI a step; a "no" or a forged answer ends the update.
          if (error instanceof NegativeResponseError || error instanceof UnauthenticatedAnswerError) {
            this.#refusal ??= `the CGW ${error instanceof NegativeResponseError ? 'refused' : 'did not authenticate its answer to'} the update's progress: ${errorMessage(error)}`;
            this.#logger?.warn({ err: error, ecu }, 'progress refused: the update stops');
          } else {
            this.#logger?.debug({ err: error, ecu }, 'progress not shown on the HMI');
          }
        }
      }
    })().finally(() => {
      this.#sending = null;
      if (this.#paused === 0 && this.#waiting.size > 0) this.#kick();
    });
  }
}
