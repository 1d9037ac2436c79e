import type { Addressing, RequestContext } from '../options.ts';
import type { ServerState } from '../state.ts';

/** One request being served. */
export interface Exchange {
  readonly state: ServerState;
  readonly addressing: Addressing;
  readonly context: RequestContext;
  /** Runs once the response has been sent (or suppressed), e.g. the reset of ECUReset. */
  after(action: () => void | Promise<void>): void;
}

/**
 * Serves one service after the general checks (session, security, sub-function) passed: decodes the
 * request with the shared service codec, does the work, encodes the positive response. Refusals are
 * thrown as RequestRejectedError.
 */
export type ServiceHandler = (request: Uint8Array, exchange: Exchange) => Uint8Array | Promise<Uint8Array>;
