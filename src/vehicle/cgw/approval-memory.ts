import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from '../../files/atomic-write.ts';
import { readOptional } from '../../files/read-optional.ts';
import type { Logger } from '../../logging/logger.ts';

/** The driver's approval of one offer, kept until the TMU reports the update's end. */
export interface RememberedApproval {
  /** Canonical JSON of the approved offer: only the very same offer resumes. */
  offerKey: string;
  campaignId: string;
  decidedAt: string;
}

/**
 * `<state-dir>/ecus/CGW/approval.json`. An update can be cut by a power loss after some ECUs already
 * switched to their new images; asking the driver again then would let a "no" leave the car half updated
 * (the firewall stays shut, so the switched ECUs could not be rolled back). The driver's approval is
 * therefore kept across restarts until the update ends, and the TMU's identical offer resumes it.
 */
export class ApprovalMemory {
  readonly path: string;
  readonly #logger: Logger | undefined;
  #writes: Promise<void> = Promise.resolve();

  constructor(cgwStateDir: string, logger?: Logger) {
    this.path = join(cgwStateDir, 'approval.json');
    this.#logger = logger;
  }

  async load(): Promise<RememberedApproval | null> {
    const text = await readOptional(this.path);
    if (text === null) return null;
    try {
      const value = JSON.parse(text) as Partial<RememberedApproval>;
      if (typeof value.offerKey === 'string' && typeof value.campaignId === 'string' && typeof value.decidedAt === 'string') {
        return value as RememberedApproval;
      }
    } catch {
      // unreadable: treated as no approval below
    }
    this.#logger?.warn({ path: this.path }, 'cgw ignores an unreadable approval record; the driver will be asked');
    return null;
  }

  /** Queued in order; failures are logged (the driver is then asked again after a restart). */
  remember(approval: RememberedApproval): void {
    this.#queue(() => writeFileAtomic(this.path, `${JSON.stringify(approval)}\n`));
  }

  forget(): void {
    this.#queue(() => rm(this.path, { force: true }));
  }

  /** Resolves once every queued write is done (for shutdown and tests). */
  settled(): Promise<void> {
    return this.#writes;
  }

  #queue(write: () => Promise<unknown>): void {
    this.#writes = this.#writes.then(write).then(() => undefined, (error: unknown) => {
      this.#logger?.error({ err: error, path: this.path }, 'cgw could not record the approval');
    });
  }
}
