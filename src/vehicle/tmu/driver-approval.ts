import { NegativeResponseCode as Nrc, NegativeResponseError, DiagnosticSessionType, type UdsClient } from '../../can/uds/index.ts';
import { pause } from '../../timing/schedule.ts';
import type { Logger } from '../../logging/logger.ts';
import { ApprovalClient, type ApprovalDecision } from '../cgw/approval-client.ts';
import type { ApprovalOfferInput, GrantAnswer, GrantRequest, UpdateResultInput } from '../cgw/approval-protocol.ts';
import type { ProgrammingAuthority } from './programming-authority.ts';
import type { ApprovalChannelTester } from '../cgw/approval-channel.ts';
import { ProgressRelay } from './progress-relay.ts';

export interface DecisionOptions {
  /** How often the CGW is asked. Default 1 s (docs/vehicle-protocol.md). */
  pollMs?: number;
  /** Called every `everyMs` while the driver has not decided; resolving false withdraws nothing but ends the wait (null). */
  keepWaiting?: { everyMs: number; check: () => Promise<boolean> };
  signal: AbortSignal;
}

/**
 * The TMU's side of the driver approval on the CGW (docs/vehicle-protocol.md): offering a campaign,
 * waiting for the decision, the progress for the HMI, the result. Over the ApprovalClient, plus the
 * recoveries the TMU needs: an offer the CGW holds from before a restart is replaced, and an approval
 * that lapsed or vanished (a restarted CGW) is offered again.
 */
export class DriverApproval implements ProgrammingAuthority {
  readonly relay: ProgressRelay;
  readonly #client: ApprovalClient;
  readonly #uds: UdsClient;
  readonly #logger: Logger | undefined;

  constructor(uds: UdsClient, channel: ApprovalChannelTester, logger?: Logger) {
    this.#uds = uds;
    this.#client = new ApprovalClient(uds, channel);
    this.relay = new ProgressRelay(this.#client, logger);
    this.#logger = logger;
  }

  /** The campaign this TMU offered in this run (none after a restart). */
  get offered(): string | undefined {
    return this.#client.currentOffer?.campaign_id;
  }

  async present(offer: ApprovalOfferInput): Promise<void> {
    try {
      await this.#client.offer(offer);
    } catch (error) {
      // 0x22: the CGW holds another offer (one this TMU made before a restart): replace it.
      if (!(error instanceof NegativeResponseError) || error.nrc !== Nrc.ConditionsNotCorrect) throw error;
      await this.withdraw('withdrawn: the TMU offers another update');
      await this.#client.offer(offer);
    }
  }

  /** Polls until the driver decided; null when `keepWaiting` said to stop. Offers first unless this run already did. */
  async decision(offer: ApprovalOfferInput, options: DecisionOptions): Promise<ApprovalDecision | null> {
    const { signal } = options;
    if (this.offered !== offer.campaign_id) await this.present(offer);
    let nextCheck = options.keepWaiting ? performance.now() + options.keepWaiting.everyMs : Infinity;
    for (;;) {
      signal.throwIfAborted();
      let status;
      try {
        status = await this.#client.poll();
      } catch (error) {
        // 0x22: the approval lapsed (the firewall closed for inactivity); 0x24: the CGW has no offer (it restarted).
        if (!(error instanceof NegativeResponseError) || (error.nrc !== Nrc.ConditionsNotCorrect && error.nrc !== Nrc.RequestSequenceError)) throw error;
        this.#logger?.warn({ campaign: offer.campaign_id, nrc: error.nrc }, `campaign ${offer.campaign_id}: the CGW lost the offer (${error.message}); offering again`);
        await this.withdraw('the TMU offers the update again').catch(() => undefined);
        await this.present(offer);
        continue;
      }
      if (status.state !== 'pending') return status;
      if (!await pause(options.pollMs ?? 1000, signal)) signal.throwIfAborted();
      if (options.keepWaiting && performance.now() >= nextCheck) {
        nextCheck = performance.now() + options.keepWaiting.everyMs;
        if (!await options.keepWaiting.check()) return null;
      }
    }
  }

  /** An ECU's security-access key and programming grant from the CGW (only for the approved update's ECUs). */
  authorize(request: GrantRequest): Promise<GrantAnswer> {
    return this.#client.authorize(request);
  }

  /** Ends a pending offer (the HMI shows `message`). */
  async withdraw(message: string): Promise<void> {
    await this.#client.finish({ outcome: 'failed', ecus: {}, message });
  }

  /** The update's result (`31 02 F001`): the HMI shows it, the firewall closes; then the CGW's session ends. */
  async finish(result: UpdateResultInput): Promise<void> {
    await this.relay.settle();
    try {
      await this.#client.finish(result);
    } finally {
      await this.#uds.diagnosticSessionControl(DiagnosticSessionType.Default).catch(() => undefined);
    }
  }

  async close(): Promise<void> {
    await this.relay.settle();
    await this.#client.close();
  }
}
