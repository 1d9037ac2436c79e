import type { Logger } from '../../../logging/logger.ts';
import type { UpdateProgress, UpdateResult } from '../approval-protocol.ts';
import type { DriverDecision, DriverHmi, PresentedOffer } from './driver-hmi.ts';

export type PolicyKind = 'auto' | 'decline';

const warnings: Record<PolicyKind, string> = {
  auto: 'WARNING: driver approval policy "auto": every update offer is APPROVED without asking anyone. For test benches only, never in a car.',
  decline: 'WARNING: driver approval policy "decline": every update offer is DECLINED without asking anyone. For test benches only.',
};

/**
 * Test-bench policies in place of a driver: approve or decline every offer at once. They announce
 * themselves loudly (a WARNING line on stderr and in the log) so nobody mistakes a bench for a car.
 */
export class PolicyHmi implements DriverHmi {
  readonly kind: PolicyKind;
  readonly #logger: Logger | undefined;

  constructor(kind: PolicyKind, options: { logger?: Logger; warn?: NodeJS.WritableStream } = {}) {
    this.kind = kind;
    this.#logger = options.logger;
    (options.warn ?? process.stderr).write(`${warnings[kind]}\n`);
    this.#logger?.warn({ policy: kind }, warnings[kind]);
  }

  async present(offer: PresentedOffer): Promise<DriverDecision> {
    this.#logger?.info({ campaign: offer.campaignId, policy: this.kind }, `cgw policy ${this.kind === 'auto' ? 'approves' : 'declines'} the offer`);
    return this.kind === 'auto' ? { decision: 'approve' } : { decision: 'decline', reason: 'policy "decline"' };
  }

  resumed(offer: PresentedOffer, approvedAt: string): void {
    this.#logger?.info({ campaign: offer.campaignId, approvedAt }, 'cgw resumes an update approved before the restart');
  }

  progress(progress: UpdateProgress): void {
    this.#logger?.debug({ ...progress }, 'cgw update progress');
  }

  result(result: UpdateResult): void {
    this.#logger?.info({ outcome: result.outcome, message: result.message }, 'cgw update result');
  }

  async close(): Promise<void> {}
}
