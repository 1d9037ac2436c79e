import { RequestRejectedError } from '../errors.ts';
import { NegativeResponseCode as Nrc, SUPPRESSED_ON_FUNCTIONAL } from '../nrc.ts';
import { NEGATIVE_RESPONSE_SID, SUPPRESS_POSITIVE_RESPONSE, describeSid } from '../service-ids.ts';
import { services } from '../services/index.ts';
import { accessTable, type Access, type ServiceAccess } from './access.ts';
import { handlers, type Exchange } from './handlers/index.ts';
import type { Addressing } from './options.ts';
import type { ServerState } from './state.ts';

/** The answer to one request. */
export interface Reply {
  /** A positive response, or 0x7F SID NRC. */
  message: Uint8Array;
  /**
   * The standard says not to send it: a positive response with suppressPosRspMsgIndicationBit set, or
   * one of the NRCs a functional request does not get. It must still go out if NRC 0x78 went first.
   */
  suppressed: boolean;
  /** Work that follows the response (ECUReset). */
  after?: () => Promise<void>;
}

export function negativeResponse(sid: number, nrc: number): Uint8Array {
  return Uint8Array.of(NEGATIVE_RESPONSE_SID, sid, nrc);
}

/**
 * The general server response behaviour of ISO 14229-1 §7.5 (Figures 7 and 8), in the standard's order:
 * SID supported (0x11) → in this session (0x7F) → security (0x33) → for sub-function services: length
 * (0x13), sub-function supported (0x12), in this session (0x7E), security (0x33) → the service's own
 * checks. Whatever a handler throws becomes an NRC; nothing a request contains can crash the server.
 */
export class RequestDispatcher {
  readonly #state: ServerState;
  readonly #access: Map<number, ServiceAccess>;

  constructor(state: ServerState) {
    this.#state = state;
    this.#access = accessTable(state);
  }

  /** Whether a SID is served at all (for busy handling and tests). */
  supports(sid: number): boolean {
    return this.#access.has(sid);
  }

  async dispatch(request: Uint8Array, addressing: Addressing): Promise<Reply | null> {
    if (request.length === 0) return null;
    const sid = request[0]!;
    const functional = addressing === 'functional';
    const refuse = (nrc: number): Reply => ({
      message: negativeResponse(sid, nrc),
      suppressed: functional && SUPPRESSED_ON_FUNCTIONAL.has(nrc),
    });
    const access = this.#access.get(sid);
    const handler = handlers.get(sid);
    const service = services.get(sid);
    if (!access || !handler || !service) return refuse(Nrc.ServiceNotSupported);
    const state = this.#state;
    const general = this.#check(access, Nrc.ServiceNotSupportedInActiveSession);
    if (general !== null) return refuse(general);

    let suppressPositive = false;
    if (service.hasSubFunction) {
      if (request.length < 2) return refuse(Nrc.IncorrectMessageLengthOrInvalidFormat);
      const subFunction = request[1]! & ~SUPPRESS_POSITIVE_RESPONSE;
      suppressPositive = (request[1]! & SUPPRESS_POSITIVE_RESPONSE) !== 0;
      const subAccess = access.subFunctions?.get(subFunction);
      if (access.subFunctions && !subAccess) return refuse(Nrc.SubFunctionNotSupported);
      if (subAccess) {
        const denied = this.#check(subAccess, Nrc.SubFunctionNotSupportedInActiveSession);
        if (denied !== null) return refuse(denied);
      }
    }

    let afterAction: (() => void | Promise<void>) | undefined;
    const exchange: Exchange = {
      state,
      addressing,
      context: state.context(addressing),
      after: (action) => { afterAction = action; },
    };
    try {
      const message = await handler(request, exchange);
      const reply: Reply = { message, suppressed: suppressPositive };
      if (afterAction) {
        const action = afterAction;
        reply.after = async () => { await action(); };
      }
      return reply;
    } catch (error) {
      if (error instanceof RequestRejectedError) {
        state.logger?.debug({ sid, nrc: error.nrc, reason: error.message }, 'uds request refused');
        return refuse(error.nrc);
      }
      // A bug or an unexpected failure in an application callback: answer, log, keep serving.
      state.logger?.error({ err: error, sid, service: describeSid(sid) }, 'uds handler failed');
      return refuse(Nrc.GeneralReject);
    }
  }

  #check(access: Access, sessionNrc: Nrc): Nrc | null {
    const state = this.#state;
    if (access.sessions && !access.sessions.has(state.session.current)) return sessionNrc;
    if (access.security !== undefined && access.security !== null && !state.security?.satisfies(access.security)) {
      return Nrc.SecurityAccessDenied;
    }
    return null;
  }
}

