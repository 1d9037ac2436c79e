import type { ApprovalOffer, UpdateProgress, UpdateResult } from '../approval-protocol.ts';

/** One ECU of an offer as the driver sees it: the offer's line plus the CGW's own time estimate. */
export interface PresentedEcu {
  name: string;
  from: string;
  to: string;
  size: number;
  sha256: string;
  /** Bus segment the ECU sits on (`canb`). */
  bus: string;
  estimatedSeconds: number;
}

/** An offer as the CGW hands it to an HMI. */
export interface PresentedOffer {
  /** Unique per presentation: a decision names the offer it answers, so it cannot approve a later one. */
  id: string;
  campaignId: string;
  ecus: PresentedEcu[];
  totalBytes: number;
  /** The CGW's estimate from the bus speeds and flash rates (the TMU's own is in `offer`). */
  estimatedSeconds: number;
  notes: string;
  receivedAt: string;
  offer: ApprovalOffer;
}

export type DriverDecision =
  | { decision: 'approve' }
  | { decision: 'decline'; reason?: string }
  /** Ask again after `seconds`. */
  | { decision: 'postpone'; seconds: number };

export type HmiKind = 'hmi' | 'prompt' | 'auto' | 'decline';

/**
 * The driver's side of an update: asked once per offer, then told how it goes. `present` resolves with
 * the driver's decision; `signal` aborts when the offer goes away before that (withdrawn by the TMU,
 * replaced, the CGW shutting down), and the HMI then stops asking.
 */
export interface DriverHmi {
  readonly kind: HmiKind;
  present(offer: PresentedOffer, signal: AbortSignal): Promise<DriverDecision>;
  progress(progress: UpdateProgress): void;
  result(result: UpdateResult): void;
  /** An update approved at `approvedAt`, cut by a power loss, goes on without asking again. */
  resumed?(offer: PresentedOffer, approvedAt: string): void;
  close(): Promise<void>;
}

/** Longest postponement an HMI may ask for (and the TMU will be told). */
export const MAX_POSTPONE_SECONDS = 30 * 24 * 3600;
