import type { Bus } from '../../bus/bus.ts';
import { IsoTpChannel } from '../../isotp/channel.ts';
import { IsoTpChannelClosedError } from '../../isotp/errors.ts';
import type { IsoTpChannelOptions } from '../../isotp/options.ts';
import { NegativeResponseCode as Nrc } from '../nrc.ts';
import { ServiceId, SUPPRESS_POSITIVE_RESPONSE } from '../service-ids.ts';
import { RequestDispatcher, negativeResponse, type Reply } from './dispatcher.ts';
import type { Addressing, UdsServerOptions } from './options.ts';
import { ServerState } from './state.ts';
import { UdsServerConfigurationError } from '../errors.ts';

/** The CAN ids of one ECU's diagnostic addresses (docs/architecture.md, "In-vehicle network": e.g. EDT 0x730 / 0x738, functional 0x7DF). */
export interface DiagnosticAddresses {
  requestId: number;
  responseId: number;
  functionalId?: number;
}

/**
 * A UDS server (ISO 14229) for an ECU: the session/security/download state machines and the service
 * handlers (RequestDispatcher), served over ISO-TP. While a handler runs longer than P2 the server
 * keeps the tester waiting with NRC 0x78 (every `responsePendingIntervalMs`); requests that arrive
 * meanwhile get 0x21 busyRepeatRequest (TesterPresent with suppressed response is just absorbed).
 *
 * ```ts
 * const server = new UdsServer({ security: { secret }, dids: { 0xf189: { read: () => version } }, download: {…} });
 * server.listenOnBus(bus, { requestId: 0x730, responseId: 0x738, functionalId: 0x7df }, { fd: true });
 * …
 * await server.close();
 * ```
 */
export class UdsServer {
  readonly #state: ServerState;
  readonly #dispatcher: RequestDispatcher;
  #responder: IsoTpChannel | null = null;
  readonly #ownedChannels: IsoTpChannel[] = [];
  readonly #loops: Promise<void>[] = [];
  readonly #abort = new AbortController();
  /** The request being served, if any: requests arriving meanwhile are answered 0x21. */
  #serving: object | null = null;
  #closed = false;

  constructor(options: UdsServerOptions = {}) {
    this.#state = new ServerState(options);
    this.#dispatcher = new RequestDispatcher(this.#state);
  }

  get session(): number {
    return this.#state.session.current;
  }

  get securityLevel(): number | null {
    return this.#state.security?.unlockedLevel ?? null;
  }

  get downloadActive(): boolean {
    return this.#state.download.active !== null;
  }

  get dtcSettingOn(): boolean {
    return this.#state.dtcSettingOn;
  }

  /** Last CommunicationControl request (0x00/0x03 = everything enabled). */
  get communication(): { controlType: number; communicationType: number } {
    return { ...this.#state.communication };
  }

  /**
   * Answers one request without any transport (no NRC 0x78; the caller gets the final reply). Used by
   * the listener below, and directly by tests and other transports.
   */
  async handle(request: Uint8Array, addressing: Addressing = 'physical'): Promise<Reply | null> {
    this.#state.session.pause();
    try {
      return await this.#dispatcher.dispatch(request, addressing);
    } finally {
      this.#state.session.restart();
    }
  }

  /**
   * Serves requests arriving on `channel` (physical) and `functionalChannel` (functional, single
   * frames); every response goes out on `channel`. The channels stay the caller's to close.
   */
  listen(channel: IsoTpChannel, functionalChannel?: IsoTpChannel): void {
    if (this.#responder) throw new UdsServerConfigurationError('this UdsServer already listens');
    this.#responder = channel;
    this.#loops.push(this.#read(channel, 'physical'));
    if (functionalChannel) this.#loops.push(this.#read(functionalChannel, 'functional'));
  }

  /** Opens the ISO-TP channels for `addresses` on `bus` and listens; close() closes them. */
  listenOnBus(bus: Bus, addresses: DiagnosticAddresses, isotp: Omit<IsoTpChannelOptions, 'txId' | 'rxId' | 'functional'> = {}): void {
    const physical = new IsoTpChannel(bus, { ...isotp, txId: addresses.responseId, rxId: addresses.requestId });
    this.#ownedChannels.push(physical);
    let functional: IsoTpChannel | undefined;
    if (addresses.functionalId !== undefined) {
      functional = new IsoTpChannel(bus, { ...isotp, txId: addresses.responseId, rxId: addresses.functionalId, functional: true });
      this.#ownedChannels.push(functional);
    }
    this.listen(physical, functional);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#abort.abort(new IsoTpChannelClosedError('uds server'));
    this.#state.session.stop();
    for (const channel of this.#ownedChannels) channel.close();
    await Promise.all(this.#loops);
  }

  async #read(channel: IsoTpChannel, addressing: Addressing): Promise<void> {
    const signal = this.#abort.signal;
    for (;;) {
      let request: Uint8Array;
      try {
        request = await channel.receive({ signal });
      } catch (error) {
        if (signal.aborted || error instanceof IsoTpChannelClosedError) return;
        // A reception that failed (lost frames, N_Cr) is no request: nothing to answer.
        this.#state.logger?.debug({ err: error, channel: channel.name }, 'uds request not received');
        continue;
      }
      if (this.#serving) this.#refuseWhileBusy(request);
      else void this.#serve(request, addressing);
    }
  }

  #refuseWhileBusy(request: Uint8Array): void {
    if (request.length === 0) return;
    const sid = request[0]!;
    if (sid === ServiceId.TesterPresent && request.length === 2 && (request[1]! & SUPPRESS_POSITIVE_RESPONSE) !== 0) return;
    void this.#send(negativeResponse(sid, Nrc.BusyRepeatRequest));
  }

  async #serve(request: Uint8Array, addressing: Addressing): Promise<void> {
    const serving = {};
    this.#serving = serving;
    const state = this.#state;
    const sid = request[0]!;
    let pendingSent = false;
    let timer: NodeJS.Timeout | undefined;
    const sendPending = () => {
      pendingSent = true;
      void this.#send(negativeResponse(sid, Nrc.RequestCorrectlyReceivedResponsePending));
      timer = setTimeout(sendPending, state.timing.responsePendingIntervalMs);
    };
    // The first 0x78 must reach the tester before its P2 runs out; leave a margin for the bus.
    timer = setTimeout(sendPending, Math.max(1, state.timing.p2Ms * 0.8));
    try {
      state.session.pause();
      const reply = await this.#dispatcher.dispatch(request, addressing);
      clearTimeout(timer);
      timer = undefined;
      // The tester may answer our response before send() returns; from here on the next request is welcome
      // (its response queues behind this one), unless an ECU reset follows.
      if (!reply?.after) this.#idle(serving);
      // After a 0x78 the tester waits for a final answer, so it is sent even if it was to be suppressed.
      if (reply && (!reply.suppressed || pendingSent)) await this.#send(reply.message);
      if (reply?.after) await reply.after();
    } catch (error) {
      state.logger?.error({ err: error, sid }, 'uds request failed after its response');
    } finally {
      if (timer !== undefined) clearTimeout(timer);
      this.#idle(serving);
    }
  }

  #idle(serving: object): void {
    if (this.#serving !== serving) return;
    this.#serving = null;
    this.#state.session.restart();
  }

  async #send(message: Uint8Array): Promise<void> {
    if (this.#closed || !this.#responder) return;
    try {
      await this.#responder.send(message);
    } catch (error) {
      this.#state.logger?.warn({ err: error, channel: this.#responder.name }, 'uds response not sent');
    }
  }
}
