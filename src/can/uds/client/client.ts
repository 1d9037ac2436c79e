import { IsoTpError, IsoTpReceiveTimeoutError } from '../../isotp/errors.ts';
import type { IsoTpChannel } from '../../isotp/channel.ts';
import { NegativeResponseError, UdsResponseError, UdsTimeoutError, UdsTransportError } from '../errors.ts';
import { NegativeResponseCode as Nrc } from '../nrc.ts';
import { NEGATIVE_RESPONSE_SID, POSITIVE_RESPONSE_OFFSET, describeSid } from '../service-ids.ts';
import type { SuppressibleRequest, UdsService } from '../service.ts';
import { ALL_DTC_GROUPS, clearDiagnosticInformation } from '../services/clear-diagnostic-information.ts';
import { communicationControl, type CommunicationControlResponse } from '../services/communication-control.ts';
import { controlDtcSetting, type ControlDtcSettingResponse } from '../services/control-dtc-setting.ts';
import {
  DiagnosticSessionType, diagnosticSessionControl, type DiagnosticSessionControlResponse,
} from '../services/diagnostic-session-control.ts';
import { ecuReset, type EcuResetResponse } from '../services/ecu-reset.ts';
import { readDataByIdentifier, type DataRecord } from '../services/read-data-by-identifier.ts';
import { requestDownload, type RequestDownloadRequest, type RequestDownloadResponse } from '../services/request-download.ts';
import { requestTransferExit, type RequestTransferExitResponse } from '../services/request-transfer-exit.ts';
import { RoutineControlType, routineControl, type RoutineControlResponse } from '../services/routine-control.ts';
import { requestSeedSubFunction, securityAccess, sendKeySubFunction } from '../services/security-access.ts';
import { testerPresent } from '../services/tester-present.ts';
import { transferData, type TransferDataResponse } from '../services/transfer-data.ts';
import { writeDataByIdentifier } from '../services/write-data-by-identifier.ts';
import { KeepAlive } from './keep-alive.ts';

export interface UdsClientOptions {
  /** Time for the first response (or NRC 0x78) after the request went out. Default 150 ms (P2server 50 ms + bus and scheduling margin). */
  p2Ms?: number;
  /** Time for each further response after NRC 0x78. Default 5500 ms (P2*server 5000 ms + margin). */
  p2StarMs?: number;
  /** Adopt longer P2/P2* announced in a DiagnosticSessionControl response (plus the margin of the defaults). Default true. */
  adoptServerTiming?: boolean;
  /** TesterPresent (0x3E 0x80) interval while a non-default session is open; 0 disables. Default 2000 ms (S3 is 5000 ms). */
  testerPresentIntervalMs?: number;
}

export interface RequestOptions {
  /** Set suppressPosRspMsgIndicationBit (services with a sub-function only): resolves with null unless the server answers anyway. */
  suppressPositiveResponse?: boolean;
}

const P2_MARGIN_MS = 100;
const P2_STAR_MARGIN_MS = 500;

/**
 * A UDS client (tester) on one ISO-TP channel: one request at a time, P2/P2* timing with NRC 0x78,
 * typed responses from the shared service codecs, NegativeResponseError for 0x7F answers, and a
 * TesterPresent keep-alive while a non-default session is open. Thin on purpose: each method is one
 * service module's encode → exchange → decode.
 */
export class UdsClient {
  readonly channel: IsoTpChannel;
  p2Ms: number;
  p2StarMs: number;
  readonly #adoptServerTiming: boolean;
  readonly #keepAlive: KeepAlive;
  #queue: Promise<unknown> = Promise.resolve();

  constructor(channel: IsoTpChannel, options: UdsClientOptions = {}) {
    this.channel = channel;
    this.p2Ms = options.p2Ms ?? 150;
    this.p2StarMs = options.p2StarMs ?? 5500;
    this.#adoptServerTiming = options.adoptServerTiming ?? true;
    this.#keepAlive = new KeepAlive(options.testerPresentIntervalMs ?? 2000, () => this.#sendKeepAlive());
  }

  /** True while the keep-alive runs (a non-default session is believed open). */
  get keepingAlive(): boolean {
    return this.#keepAlive.running;
  }

  /**
   * Sends one request with `service` and decodes its positive response; null when the positive
   * response was suppressed. Everything below is built on this.
   */
  async request<Request, Response>(service: UdsService<Request, Response>, request: Request, options: RequestOptions = {}): Promise<Response | null> {
    const suppress = service.hasSubFunction && (options.suppressPositiveResponse ?? false);
    const encoded = service.encodeRequest(suppress ? { ...request, suppressPositiveResponse: true } as Request & SuppressibleRequest : request);
    const isStale = service.isStaleResponse ? (message: Uint8Array) => service.isStaleResponse!(message, request) : undefined;
    const response = await this.exchange(encoded, suppress, isStale);
    return response === null ? null : service.decodeResponse(response, request);
  }

  /**
   * Sends raw request bytes and returns the raw positive response (null if suppressed and none came).
   * Throws NegativeResponseError, UdsTimeoutError (P2 / P2*), UdsResponseError, UdsTransportError.
   */
  exchange(
    message: Uint8Array,
    suppressPositiveResponse = false,
    isStale?: (response: Uint8Array) => boolean,
  ): Promise<Uint8Array | null> {
    const run = this.#queue.then(() => this.#exchange(message, suppressPositiveResponse, isStale));
    this.#queue = run.catch(() => undefined);
    return run;
  }

  async diagnosticSessionControl(sessionType: number, options?: RequestOptions): Promise<DiagnosticSessionControlResponse | null> {
    const response = await this.request(diagnosticSessionControl, { sessionType }, options);
    if (response && this.#adoptServerTiming) {
      this.p2Ms = Math.max(this.p2Ms, response.p2Ms + P2_MARGIN_MS);
      this.p2StarMs = Math.max(this.p2StarMs, response.p2StarMs + P2_STAR_MARGIN_MS);
    }
    if (sessionType === DiagnosticSessionType.Default) this.#keepAlive.stop();
    else this.#keepAlive.start();
    return response;
  }

  async ecuReset(resetType: number, options?: RequestOptions): Promise<EcuResetResponse | null> {
    const response = await this.request(ecuReset, { resetType }, options);
    // The ECU restarts in its default session.
    this.#keepAlive.stop();
    return response;
  }

  /** Reads one DID; returns its data record. */
  async readDataByIdentifier(did: number): Promise<Uint8Array> {
    const response = await this.request(readDataByIdentifier, { dids: [did] });
    return response!.records[0]!.data;
  }

  /** Reads several DIDs at once; `dataLengths` tells where each record ends in the response. */
  async readDataByIdentifiers(dids: number[], dataLengths: Readonly<Record<number, number>>): Promise<DataRecord[]> {
    return (await this.request(readDataByIdentifier, { dids, dataLengths }))!.records;
  }

  async writeDataByIdentifier(did: number, data: Uint8Array): Promise<void> {
    await this.request(writeDataByIdentifier, { did, data });
  }

  /** requestSeed for `level` (odd); an all-zero seed means the level is already unlocked. */
  async requestSeed(level: number, data: Uint8Array = new Uint8Array(0)): Promise<Uint8Array> {
    return (await this.request(securityAccess, { subFunction: requestSeedSubFunction(level), data }))!.seed;
  }

  async sendKey(level: number, key: Uint8Array): Promise<void> {
    await this.request(securityAccess, { subFunction: sendKeySubFunction(level), data: key });
  }

  /** requestSeed, then sendKey with `computeKey(seed)` unless the level is already unlocked. */
  async unlock(level: number, computeKey: (seed: Uint8Array, level: number) => Uint8Array | Promise<Uint8Array>): Promise<void> {
    const seed = await this.requestSeed(level);
    if (seed.every((byte) => byte === 0)) return;
    await this.sendKey(level, await computeKey(seed, level));
  }

  async routineControl(controlType: number, routineId: number, options: Uint8Array = new Uint8Array(0), request?: RequestOptions): Promise<RoutineControlResponse | null> {
    return this.request(routineControl, { controlType, routineId, options }, request);
  }

  async startRoutine(routineId: number, options?: Uint8Array): Promise<Uint8Array> {
    return (await this.routineControl(RoutineControlType.StartRoutine, routineId, options))!.status;
  }

  async stopRoutine(routineId: number, options?: Uint8Array): Promise<Uint8Array> {
    return (await this.routineControl(RoutineControlType.StopRoutine, routineId, options))!.status;
  }

  async requestRoutineResults(routineId: number, options?: Uint8Array): Promise<Uint8Array> {
    return (await this.routineControl(RoutineControlType.RequestRoutineResults, routineId, options))!.status;
  }

  async requestDownload(request: RequestDownloadRequest): Promise<RequestDownloadResponse> {
    return (await this.request(requestDownload, request))!;
  }

  async transferData(blockSequenceCounter: number, data: Uint8Array): Promise<TransferDataResponse> {
    return (await this.request(transferData, { blockSequenceCounter, data }))!;
  }

  async requestTransferExit(data: Uint8Array = new Uint8Array(0)): Promise<RequestTransferExitResponse> {
    return (await this.request(requestTransferExit, { data }))!;
  }

  async testerPresent(options?: RequestOptions): Promise<void> {
    await this.request(testerPresent, {}, options);
  }

  async controlDtcSetting(settingType: number, options?: RequestOptions): Promise<ControlDtcSettingResponse | null> {
    return this.request(controlDtcSetting, { settingType, options: new Uint8Array(0) }, options);
  }

  async communicationControl(controlType: number, communicationType: number, options?: RequestOptions): Promise<CommunicationControlResponse | null> {
    return this.request(communicationControl, { controlType, communicationType }, options);
  }

  async clearDiagnosticInformation(group: number = ALL_DTC_GROUPS): Promise<void> {
    await this.request(clearDiagnosticInformation, { group });
  }

  /** Stops the keep-alive; the channel stays the caller's. */
  close(): void {
    this.#keepAlive.stop();
  }

  async #exchange(message: Uint8Array, suppress: boolean, isStale?: (response: Uint8Array) => boolean): Promise<Uint8Array | null> {
    const sid = message[0]!;
    const channel = this.channel;
    try {
      // Whatever is still queued answers an earlier request that timed out; it is not this one's response.
      channel.discardReceived();
      this.#keepAlive.activity();
      try {
        await channel.send(message);
      } catch (error) {
        throw new UdsTransportError(sid, error);
      }
      let timer: 'P2' | 'P2*' = 'P2';
      let timeoutMs = this.p2Ms;
      for (;;) {
        let response: Uint8Array;
        try {
          response = await channel.receive({ timeoutMs });
        } catch (error) {
          if (error instanceof IsoTpReceiveTimeoutError) {
            if (suppress && timer === 'P2') return null;
            throw new UdsTimeoutError(sid, timer, timeoutMs);
          }
          if (error instanceof IsoTpError) throw new UdsTransportError(sid, error);
          throw error;
        }
        if (response[0] === NEGATIVE_RESPONSE_SID) {
          if (response.length < 3) throw new UdsResponseError(`${describeSid(sid)}: negative response of ${response.length} bytes`);
          if (response[1] !== sid) {
            throw new UdsResponseError(`${describeSid(sid)}: negative response for another service (0x${response[1]!.toString(16)})`);
          }
          if (response[2] === Nrc.RequestCorrectlyReceivedResponsePending) {
            timer = 'P2*';
            timeoutMs = this.p2StarMs;
            continue;
          }
          throw new NegativeResponseError(sid, response[2]!);
        }
        if (response[0] !== sid + POSITIVE_RESPONSE_OFFSET) {
          throw new UdsResponseError(`${describeSid(sid)}: unexpected response SID 0x${response[0]!.toString(16)}`);
        }
        if (isStale?.(response)) continue;
        return response;
      }
    } finally {
      this.#keepAlive.activity();
    }
  }

  /**
   * TesterPresent with suppressed response. It may go out while a request waits for its answer: a busy
   * server absorbs a suppressed TesterPresent (no 0x21), and an idle one restarts S3 without answering.
   */
  async #sendKeepAlive(): Promise<void> {
    try {
      await this.channel.send(testerPresent.encodeRequest({ suppressPositiveResponse: true }));
    } catch {
      // The next real request reports a broken channel; the keep-alive just tries again later.
    }
  }
}
