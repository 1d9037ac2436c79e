import { setTimeout as sleep } from 'node:timers/promises';
import type { Bus } from '../../can/bus/bus.ts';
import { IsoTpChannel } from '../../can/isotp/channel.ts';
import { UdsClient, type UdsClientOptions } from '../../can/uds/client/client.ts';
import { NegativeResponseError } from '../../can/uds/errors.ts';
import { NegativeResponseCode as Nrc } from '../../can/uds/nrc.ts';
import { DiagnosticSessionType } from '../../can/uds/services/diagnostic-session-control.ts';
import { RoutineControlType } from '../../can/uds/services/routine-control.ts';
import type { ApprovalChannelTester } from './approval-channel.ts';
import type { VehicleConfig } from '../config.ts';
import { ecuByName, isoTpFrameOptions } from '../network.ts';
import {
  APPROVAL_ROUTINE, GRANT_ROUTINE, PROGRESS_ROUTINE, approvalOfferSchema, checkPayload, decodeApprovalStatus, decodeGrantAnswer,
  encodeGrantRequest, encodePayload, updateProgressSchema, updateResultSchema, type ApprovalOffer, type ApprovalOfferInput,
  type ApprovalStatus, type GrantAnswer, type GrantRequest, type UpdateProgress, type UpdateResultInput,
} from './approval-protocol.ts';

export type ApprovalDecision = Exclude<ApprovalStatus, { state: 'pending' }>;

/**
 * NRCs meaning "the CGW's diagnostic session (or its unlock) is gone": the routine is unknown outside the
 * extended session, locked, or no longer started in the new session.
 */
const SESSION_LOST = new Set<number>([
  Nrc.ServiceNotSupportedInActiveSession, Nrc.SubFunctionNotSupportedInActiveSession, Nrc.RequestOutOfRange, Nrc.RequestSequenceError,
]);

/**
 * The tester's (TMU's) side of the driver approval on the CGW (docs/vehicle-protocol.md): extended session
 * and security access, the offer, polling for the driver's decision, progress for the HMI and the final
 * result, which closes the firewall.
 *
 * The UdsClient's keep-alive holds the CGW session open through a long update. Should the session still
 * be lost (a CGW reset, S3), the client opens it again and re-sends the same offer, which the CGW
 * recognises (no second question to the driver), then repeats the request once.
 *
 * ```ts
 * const approval = ApprovalClient.forVehicle(tmuCanT, config);
 * await approval.offer({ campaign_id: 'c-42', ecus: [{ name: 'EDT', from: '1.0.0', to: '2.0.0', size, sha256 }] });
 * const decision = await approval.waitForDecision();          // approved | declined | postponed
 * if (decision.state === 'approved') { …flash, await approval.progress({ ecu: 'EDT', phase: 'programming', percent })… }
 * await approval.finish({ outcome: 'success', ecus: { EDT: { version: '2.0.0' } } });
 * await approval.close();
 * ```
 */
export class ApprovalClient {
  readonly uds: UdsClient;
  readonly #channel: ApprovalChannelTester;
  readonly #ownedChannel: IsoTpChannel | null;
  #offer: ApprovalOffer | null = null;
  #lastState: ApprovalStatus['state'] | null = null;

  constructor(uds: UdsClient, channel: ApprovalChannelTester, ownedChannel: IsoTpChannel | null = null) {
    this.uds = uds;
    this.#channel = channel;
    this.#ownedChannel = ownedChannel;
  }

  /**
   * A client on the tester's node `bus` (on the CGW's segment) with its own ISO-TP channel to the CGW,
   * closed by `close()`. Use the constructor instead to share a UdsClient the tester already has for the CGW.
   */
  static forVehicle(bus: Bus, config: VehicleConfig, channel: ApprovalChannelTester, options: UdsClientOptions = {}): ApprovalClient {
    const cgw = ecuByName(config, config.gateway.ecu);
    const isoTp = new IsoTpChannel(bus, { txId: cgw.requestId, rxId: cgw.responseId, ...isoTpFrameOptions(config.buses[cgw.bus]!) });
    return new ApprovalClient(new UdsClient(isoTp, options), channel, isoTp);
  }

  /** The offer last sent, if any. */
  get currentOffer(): ApprovalOffer | null {
    return this.#offer;
  }

  /** The extended session on the CGW (done by `offer()`). */
  async connect(): Promise<void> {
    try {
      await this.uds.diagnosticSessionControl(DiagnosticSessionType.ExtendedDiagnostic);
    } catch (error) {
      // A bootloader in its programming session (the CGW being flashed) goes to extended only through default.
      if (!(error instanceof NegativeResponseError) || error.nrc !== Nrc.SubFunctionNotSupportedInActiveSession) throw error;
      await this.uds.diagnosticSessionControl(DiagnosticSessionType.Default);
      await this.uds.diagnosticSessionControl(DiagnosticSessionType.ExtendedDiagnostic);
    }
  }

  /**
   * Shows the offer to the driver. Throws InvalidApprovalMessageError before sending a bad offer, and
   * NegativeResponseError 0x22 when another offer is pending or being installed on the CGW.
   */
  async offer(offer: ApprovalOfferInput): Promise<void> {
    const checked = checkPayload(approvalOfferSchema, offer, 'offer');
    await this.connect();
    await this.#routine(RoutineControlType.StartRoutine, APPROVAL_ROUTINE, encodePayload(checked));
    this.#offer = checked;
    this.#lastState = 'pending';
  }

  /** The driver's decision so far (`31 03 F001`). */
  async poll(): Promise<ApprovalStatus> {
    const status = decodeApprovalStatus(await this.#recovering(() => this.#routine(RoutineControlType.RequestRoutineResults, APPROVAL_ROUTINE)));
    this.#lastState = status.state;
    return status;
  }

  /** Polls every `intervalMs` (default 1 s) until the driver decided. */
  async waitForDecision(options: { intervalMs?: number; signal?: AbortSignal; onPending?: () => void } = {}): Promise<ApprovalDecision> {
    for (;;) {
      options.signal?.throwIfAborted();
      const status = await this.poll();
      if (status.state !== 'pending') return status;
      options.onPending?.();
      await sleep(options.intervalMs ?? 1000, undefined, options.signal ? { signal: options.signal } : {});
    }
  }

  /** Progress for the HMI (`31 01 F002`); only while the update is approved. */
  async progress(progress: UpdateProgress): Promise<void> {
    const checked = checkPayload(updateProgressSchema, progress, 'progress');
    await this.#recovering(() => this.#routine(RoutineControlType.StartRoutine, PROGRESS_ROUTINE, encodePayload(checked)));
  }

  /**
   * A programming grant for an ECU of the approved update (`31 01 F003`): the security-access key for the
   * ECU's `seed` and the grant to present at its erase (src/vehicle/keys/programming-grant.ts). Works in the
   * session the CGW link is in (extended, or programming while the CGW itself is flashed).
   */
  async authorize(request: GrantRequest): Promise<GrantAnswer> {
    return decodeGrantAnswer(await this.#recovering(() => this.#routine(RoutineControlType.StartRoutine, GRANT_ROUTINE, encodeGrantRequest(request))));
  }

  /** The update ended (or a pending offer is withdrawn): `31 02 F001` with the result; closes the firewall. */
  async finish(result: UpdateResultInput): Promise<void> {
    const checked = checkPayload(updateResultSchema, result, 'result');
    await this.#recovering(() => this.#routine(RoutineControlType.StopRoutine, APPROVAL_ROUTINE, encodePayload(checked)));
    this.#offer = null;
    this.#lastState = null;
  }

  /** Back to the default session (best effort) and stops the keep-alive; closes the channel it opened. */
  async close(): Promise<void> {
    try {
      await this.uds.diagnosticSessionControl(DiagnosticSessionType.Default);
    } catch {
      // The CGW may be gone or resetting; its S3 timer ends the session anyway.
    }
    this.uds.close();
    this.#ownedChannel?.close();
    await this.#channel.close();
  }

  async #recovering(request: () => Promise<Uint8Array>): Promise<Uint8Array> {
    try {
      return await request();
    } catch (error) {
      const offer = this.#offer;
      const attached = this.#lastState === 'pending' || this.#lastState === 'approved';
      if (!(error instanceof NegativeResponseError) || !SESSION_LOST.has(error.nrc) || !offer || !attached) throw error;
      await this.connect();
      await this.#routine(RoutineControlType.StartRoutine, APPROVAL_ROUTINE, encodePayload(offer));
      return request();
    }
  }

  /**
   * One approval routine request, authenticated (src/vehicle/cgw/approval-channel.ts): the record goes out
   * with the TMU's freshness and MAC, and the answer counts only if the CGW's MAC binds it to this request;
   * otherwise UnauthenticatedAnswerError.
   */
  async #routine(controlType: RoutineControlType, routineId: number, record: Uint8Array = new Uint8Array(0)): Promise<Uint8Array> {
    const request = await this.#channel.secure(controlType, routineId, record);
    const response = await this.uds.routineControl(controlType, routineId, request.record);
    return this.#channel.open(controlType, routineId, request.freshness, response!.status);
  }
}
