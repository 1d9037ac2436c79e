import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { canonicalJson, type JsonValue } from '../../crypto/canonical-json.ts';
import type { Logger } from '../../logging/logger.ts';
import type { VehicleConfig } from '../config.ts';
import { ecuByName } from '../network.ts';
import type { ApprovalOffer, ApprovalStatus, UpdateProgress, UpdateResult } from './approval-protocol.ts';
import {
  ApprovalConflictError, ApprovalLapsedError, ApprovalSequenceError, InvalidApprovalMessageError,
} from './errors.ts';
import { estimateEcuSeconds } from './estimate.ts';
import type { ApprovalMemory, RememberedApproval } from './approval-memory.ts';
import { MAX_POSTPONE_SECONDS, type DriverDecision, type DriverHmi, type PresentedOffer } from './hmi/driver-hmi.ts';
import { errorMessage } from '../../errors/error-message.ts';

/**
 * - `pending`: shown to the driver, no answer yet;
 * - `approved` → `finished` (the TMU's stop) or `expired` (no diagnostic traffic: the firewall closed);
 * - `declined`, `postponed`: the driver's answer, until the TMU stops or offers again;
 * - `finished`: the TMU's result is in.
 */
export type ApprovalPhase = 'idle' | 'pending' | 'approved' | 'declined' | 'postponed' | 'expired' | 'finished';

export interface ApprovalSnapshot {
  phase: ApprovalPhase;
  offer: PresentedOffer | null;
  decidedAt: string | null;
  postponedUntil: string | null;
  declineReason: string | null;
  /** The last progress per ECU. */
  progress: Record<string, UpdateProgress>;
  result: UpdateResult | null;
}

export interface ApprovalEvents {
  change: [ApprovalSnapshot];
  /** The driver approved: open the firewall for these ECUs. */
  approved: [PresentedOffer];
  /** The update is over (the TMU's stop): close the firewall. */
  ended: [ApprovalSnapshot];
}

export interface UpdateApprovalOptions {
  config: VehicleConfig;
  hmi: DriverHmi;
  /** Keeps an approval across restarts until the update ends; `remembered` is what it held at start. */
  memory?: { store: ApprovalMemory; remembered: RememberedApproval | null };
  /** Epoch milliseconds; injectable for tests. */
  now?: () => number;
  logger?: Logger;
}

/** What `offer()` did with an offer. */
export type OfferOutcome =
  /** A new offer: the driver is being asked. */
  | 'presented'
  /**
   * The same offer as the current one (a TMU that restarted or re-opened its session): nothing changes,
   * the driver is not asked twice, and a postponement still runs.
   */
  | 'unchanged'
  /** The offer the driver approved before the CGW restarted (a power loss mid-update): approved again, not asked. */
  | 'resumed';

/**
 * The driver approval on the CGW: one offer at a time, shown on the HMI, decided by the driver, then
 * followed through progress to the TMU's result. Works on typed values; `approval-routines.ts` maps
 * UDS requests onto it and its errors onto NRCs.
 *
 * A different offer while one is pending or being installed is refused (ApprovalConflictError, NRC
 * 0x22): the driver answers one question at a time and an update in progress is never swapped. Once the
 * driver declined or postponed, or the update ended, a new offer replaces the old one.
 */
export class UpdateApproval extends EventEmitter<ApprovalEvents> {
  readonly #config: VehicleConfig;
  readonly #hmi: DriverHmi;
  readonly #now: () => number;
  readonly #logger: Logger | undefined;
  #state: ApprovalSnapshot = emptySnapshot();
  /** Canonical JSON of the current offer, to recognise it when it comes again. */
  #offerKey = '';
  #presentation: AbortController | null = null;
  #postponedUntil = 0;
  readonly #memory: ApprovalMemory | undefined;
  #remembered: RememberedApproval | null;

  constructor(options: UpdateApprovalOptions) {
    super();
    this.#config = options.config;
    this.#hmi = options.hmi;
    this.#now = options.now ?? Date.now;
    this.#logger = options.logger;
    this.#memory = options.memory?.store;
    this.#remembered = options.memory?.remembered ?? null;
  }

  get phase(): ApprovalPhase {
    return this.#state.phase;
  }

  snapshot(): ApprovalSnapshot {
    return structuredClone(this.#state);
  }

  offer(offer: ApprovalOffer): OfferOutcome {
    const unknown = offer.ecus.map((ecu) => ecu.name).filter((name) => !this.#config.ecus.some((ecu) => ecu.name === name));
    if (unknown.length > 0) {
      throw new InvalidApprovalMessageError(`the vehicle has no ECU ${unknown.join(', ')} (it has ${this.#config.ecus.map((e) => e.name).join(', ')})`);
    }
    const key = canonicalJson(offer as unknown as JsonValue);
    const { phase } = this.#state;
    const same = key === this.#offerKey;
    if (same && (phase === 'pending' || phase === 'approved' || phase === 'expired')) return 'unchanged';
    if (same && phase === 'postponed' && this.#now() < this.#postponedUntil) return 'unchanged';
    if (phase === 'pending' || phase === 'approved') {
      throw new ApprovalConflictError(
        `campaign ${this.#state.offer!.campaignId} is ${phase === 'pending' ? 'waiting for the driver' : 'being installed'}; stop it first`);
    }

    const presented = this.#present(offer);
    this.#offerKey = key;
    this.#postponedUntil = 0;
    if (this.#remembered?.offerKey === key) {
      this.#update({ ...emptySnapshot(), phase: 'approved', offer: presented, decidedAt: this.#remembered.decidedAt });
      this.#logger?.info({ campaign: offer.campaign_id, approvedAt: this.#remembered.decidedAt },
        'cgw resumes the update the driver approved before the restart');
      this.#safely('resumed update', () => this.#hmi.resumed?.(presented, this.#remembered!.decidedAt));
      this.emit('approved', structuredClone(presented));
      return 'resumed';
    }
    this.#update({ ...emptySnapshot(), phase: 'pending', offer: presented });
    this.#logger?.info({ campaign: offer.campaign_id, ecus: offer.ecus.map((ecu) => `${ecu.name} ${ecu.from}→${ecu.to}`), hmi: this.#hmi.kind },
      'cgw offer shown to the driver');
    this.#ask(presented);
    return 'presented';
  }

  /** The answer to `31 03 F001`. */
  status(): ApprovalStatus {
    switch (this.#state.phase) {
      case 'idle':
      case 'finished':
        throw new ApprovalSequenceError('there is no offer');
      case 'expired':
        throw new ApprovalLapsedError('the approval lapsed: no diagnostic traffic for too long, the firewall closed');
      case 'pending': return { state: 'pending' };
      case 'approved': return { state: 'approved' };
      case 'declined': return { state: 'declined' };
      case 'postponed':
        return { state: 'postponed', retryAfterSeconds: Math.max(0, Math.ceil((this.#postponedUntil - this.#now()) / 1000)) };
    }
  }

  progress(progress: UpdateProgress): void {
    const { phase, offer } = this.#state;
    if (phase === 'expired') throw new ApprovalLapsedError('the approval lapsed; progress is no longer shown');
    if (phase !== 'approved') throw new ApprovalSequenceError(`progress needs an approved update (the offer is ${phase})`);
    if (!offer!.ecus.some((ecu) => ecu.name === progress.ecu)) {
      throw new InvalidApprovalMessageError(`${progress.ecu} is not part of campaign ${offer!.campaignId}`);
    }
    this.#update({ ...this.#state, progress: { ...this.#state.progress, [progress.ecu]: progress } });
    this.#safely('progress', () => this.#hmi.progress(progress));
  }

  /** `31 02 F001`: the update ended (or the TMU withdraws a pending offer); closes the firewall. */
  stop(result: UpdateResult): void {
    const { phase } = this.#state;
    if (phase === 'idle' || phase === 'finished') throw new ApprovalSequenceError('there is no offer to stop');
    this.#withdraw();
    this.#forget();
    this.#update({ ...this.#state, phase: 'finished', result });
    this.#logger?.info({ campaign: this.#state.offer!.campaignId, outcome: result.outcome, after: phase }, 'cgw update finished');
    this.#safely('result', () => this.#hmi.result(result));
    this.emit('ended', this.snapshot());
  }

  /**
   * What the driver approved for `ecu`, for a programming grant (src/vehicle/keys/programming-grant.ts):
   * the update's id and the approved image. Only while an update is approved and only for its ECUs:
   * otherwise ApprovalSequenceError (nothing approved) or InvalidApprovalMessageError (not in the offer).
   */
  approvedFor(ecu: string): { updateId: Uint8Array; image: { sha256: string; size: number } } {
    const { phase, offer } = this.#state;
    if (phase === 'expired') throw new ApprovalLapsedError('the approval lapsed; no grant without a new approval');
    if (phase !== 'approved') throw new ApprovalSequenceError(`no grant: there is no approved update (the offer is ${phase})`);
    const approved = offer!.ecus.find((candidate) => candidate.name === ecu);
    if (!approved) throw new InvalidApprovalMessageError(`no grant: ${ecu} is not part of campaign ${offer!.campaignId}`);
    return { updateId: updateIdOf(offer!.id), image: { sha256: approved.sha256, size: approved.size } };
  }

  /** The firewall closed for lack of diagnostic traffic: an approved update can no longer go on. */
  expire(inactiveSeconds: number): void {
    if (this.#state.phase !== 'approved') return;
    this.#update({ ...this.#state, phase: 'expired' });
    this.#logger?.warn({ campaign: this.#state.offer!.campaignId, inactiveSeconds }, 'cgw approval lapsed');
    this.#safely('result', () => this.#hmi.result({
      outcome: 'failed', ecus: {},
      message: `The update stopped: no diagnostic traffic for ${inactiveSeconds} s, so the gateway closed its firewall.`,
    }));
  }

  /** Stops asking (the CGW shuts down). */
  close(): void {
    this.#withdraw();
  }

  #present(offer: ApprovalOffer): PresentedOffer {
    const ecus = offer.ecus.map((ecu) => ({
      ...ecu, bus: ecuByName(this.#config, ecu.name).bus, estimatedSeconds: estimateEcuSeconds(this.#config, ecu.name, ecu.size),
    }));
    return {
      id: randomUUID(),
      campaignId: offer.campaign_id,
      ecus,
      totalBytes: ecus.reduce((total, ecu) => total + ecu.size, 0),
      estimatedSeconds: ecus.reduce((total, ecu) => total + ecu.estimatedSeconds, 0),
      notes: offer.notes,
      receivedAt: new Date(this.#now()).toISOString(),
      offer,
    };
  }

  #ask(presented: PresentedOffer): void {
    this.#withdraw();
    const controller = new AbortController();
    this.#presentation = controller;
    let answer: Promise<DriverDecision>;
    try {
      answer = this.#hmi.present(presented, controller.signal);
    } catch (error) {
      answer = Promise.reject(error);
    }
    answer.then(
      (decision) => this.#decide(presented.id, decision),
      (error: unknown) => {
        if (controller.signal.aborted) return;
        this.#logger?.error({ err: error, hmi: this.#hmi.kind }, 'cgw HMI failed to ask the driver; declining');
        this.#decide(presented.id, { decision: 'decline', reason: `the HMI failed: ${errorMessage(error)}` });
      },
    );
  }

  #decide(offerId: string, decision: DriverDecision): void {
    if (this.#state.phase !== 'pending' || this.#state.offer?.id !== offerId) return;
    this.#presentation = null;
    const decidedAt = new Date(this.#now()).toISOString();
    const campaign = this.#state.offer.campaignId;
    switch (decision.decision) {
      case 'approve':
        this.#update({ ...this.#state, phase: 'approved', decidedAt });
        this.#remembered = { offerKey: this.#offerKey, campaignId: campaign, decidedAt };
        this.#memory?.remember(this.#remembered);
        this.#logger?.info({ campaign }, 'cgw driver approved the update');
        this.emit('approved', structuredClone(this.#state.offer!));
        return;
      case 'decline':
        this.#update({ ...this.#state, phase: 'declined', decidedAt, declineReason: decision.reason ?? null });
        this.#logger?.info({ campaign, reason: decision.reason }, 'cgw driver declined the update');
        return;
      case 'postpone': {
        const asked = Number.isFinite(decision.seconds) ? Math.round(decision.seconds) : 3600;
        const seconds = Math.min(MAX_POSTPONE_SECONDS, Math.max(1, asked));
        this.#postponedUntil = this.#now() + seconds * 1000;
        this.#update({ ...this.#state, phase: 'postponed', decidedAt, postponedUntil: new Date(this.#postponedUntil).toISOString() });
        this.#logger?.info({ campaign, seconds }, 'cgw driver postponed the update');
        return;
      }
    }
  }

  /** The approved update ended: a restart must not resume it. */
  #forget(): void {
    if (this.#remembered === null) return;
    this.#remembered = null;
    this.#memory?.forget();
  }

  #withdraw(): void {
    this.#presentation?.abort(new Error('the offer was withdrawn'));
    this.#presentation = null;
  }

  #update(state: ApprovalSnapshot): void {
    this.#state = state;
    this.emit('change', this.snapshot());
  }

  /** An HMI that fails to show progress must not fail the TMU's request. */
  #safely(what: string, show: () => void): void {
    try {
      show();
    } catch (error) {
      this.#logger?.warn({ err: error, hmi: this.#hmi.kind }, `cgw HMI failed to show the ${what}`);
    }
  }
}

/** The 16 bytes of the presentation's UUID: one id per approval, the same in every grant of it. */
function updateIdOf(presentationId: string): Uint8Array {
  return new Uint8Array(Buffer.from(presentationId.replaceAll('-', ''), 'hex'));
}

function emptySnapshot(): ApprovalSnapshot {
  return { phase: 'idle', offer: null, decidedAt: null, postponedUntil: null, declineReason: null, progress: {}, result: null };
}
