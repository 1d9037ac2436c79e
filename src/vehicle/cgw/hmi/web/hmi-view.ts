import type { UpdateProgress, UpdateResult } from '../../approval-protocol.ts';
import type { DriverDecision, PresentedOffer } from '../driver-hmi.ts';

/** What the HMI page shows. */
export type HmiStatus = 'idle' | 'asking' | 'approved' | 'declined' | 'postponed' | 'withdrawn' | 'finished';

export interface HmiState {
  /** Increases with every change, so a page can tell whether it is behind. */
  version: number;
  status: HmiStatus;
  offer: PresentedOffer | null;
  postponedUntil: string | null;
  progress: Record<string, UpdateProgress>;
  result: UpdateResult | null;
}

type Listener = (state: HmiState) => void;

/**
 * The web HMI's model: the offer being asked or installed, the driver's decision, progress per ECU and
 * the result. Pages render it; the event stream pushes it on every change.
 */
export class HmiView {
  #state: HmiState = { version: 0, status: 'idle', offer: null, postponedUntil: null, progress: {}, result: null };
  readonly #listeners = new Set<Listener>();

  get state(): HmiState {
    return this.#state;
  }

  subscribe(listener: Listener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  ask(offer: PresentedOffer): void {
    this.#set({ status: 'asking', offer, postponedUntil: null, progress: {}, result: null });
  }

  decided(offerId: string, decision: DriverDecision, now: number): void {
    if (this.#state.offer?.id !== offerId) return;
    if (decision.decision === 'approve') this.#set({ status: 'approved' });
    else if (decision.decision === 'decline') this.#set({ status: 'declined' });
    else this.#set({ status: 'postponed', postponedUntil: new Date(now + decision.seconds * 1000).toISOString() });
  }

  /** An approved update goes on after a restart: shown as approved, progress follows. */
  resumed(offer: PresentedOffer): void {
    this.#set({ status: 'approved', offer, postponedUntil: null, progress: {}, result: null });
  }

  withdrawn(offerId: string): void {
    if (this.#state.offer?.id === offerId && this.#state.status === 'asking') this.#set({ status: 'withdrawn' });
  }

  progress(progress: UpdateProgress): void {
    this.#set({ progress: { ...this.#state.progress, [progress.ecu]: progress } });
  }

  /** A result ends an installation; after a decline or postponement it changes nothing the driver needs to see. */
  result(result: UpdateResult): void {
    const { status } = this.#state;
    if (status === 'approved' || status === 'finished') this.#set({ status: 'finished', result });
    else this.#set({ result });
  }

  #set(change: Partial<Omit<HmiState, 'version'>>): void {
    this.#state = { ...this.#state, ...change, version: this.#state.version + 1 };
    for (const listener of this.#listeners) listener(this.#state);
  }
}
