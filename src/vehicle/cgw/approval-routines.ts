import { RequestRejectedError } from '../../can/uds/errors.ts';
import { NegativeResponseCode as Nrc } from '../../can/uds/nrc.ts';
import type { RoutineDefinition, RoutineHandler } from '../../can/uds/server/options.ts';
import { DiagnosticSessionType } from '../../can/uds/services/diagnostic-session-control.ts';
import type { Logger } from '../../logging/logger.ts';
import {
  APPROVAL_ROUTINE, GRANT_ROUTINE, PROGRESS_ROUTINE, approvalOfferSchema, decodeGrantRequest, decodePayload,
  encodeApprovalStatus, encodeGrantAnswer, updateProgressSchema, updateResultSchema,
} from './approval-protocol.ts';
import type { UpdateApproval } from './approval.ts';
import type { GrantIssuer } from './grant-issuer.ts';
import type { ApprovalChannelGateway } from './approval-channel.ts';
import { RoutineControlType } from '../../can/uds/services/routine-control.ts';
import {
  ApprovalAuthenticationError, ApprovalConflictError, ApprovalLapsedError, ApprovalSequenceError, CgwError, InvalidApprovalMessageError,
} from './errors.ts';

/** The one place the approval's errors become negative responses (docs/cgw.md lists them). */
function nrcFor(error: CgwError): Nrc {
  if (error instanceof ApprovalAuthenticationError) return Nrc.SecurityAccessDenied;
  if (error instanceof InvalidApprovalMessageError) return Nrc.RequestOutOfRange;
  if (error instanceof ApprovalConflictError || error instanceof ApprovalLapsedError) return Nrc.ConditionsNotCorrect;
  if (error instanceof ApprovalSequenceError) return Nrc.RequestSequenceError;
  return Nrc.GeneralReject;
}

const OK = Uint8Array.of(0x00);

/**
 * Routines 0xF001 (offer / result / stop), 0xF002 (progress) and 0xF003 (programming grants) for the CGW's
 * UDS server, in the extended session (progress and grants also in the programming session). No security
 * level: each request is authenticated on its own with the TMU↔CGW key (docs/in-vehicle-security.md), and
 * the CGW's security access belongs to its programming, which only a grant unlocks.
 */
export function approvalRoutines(
  approval: UpdateApproval, grants: GrantIssuer, channel: ApprovalChannelGateway, logger?: Logger,
): Map<number, RoutineDefinition> {
  const answering = (what: string, controlType: number, routineId: number, handler: (record: Uint8Array) => Uint8Array): RoutineHandler =>
    async (record) => {
      try {
        // Nothing is acted on before the request proved to come from the TMU, fresh.
        const request = await channel.open(controlType, routineId, record);
        return channel.seal(controlType, routineId, request.freshness, handler(request.record));
      } catch (error) {
        if (!(error instanceof CgwError)) throw error;
        if (error instanceof ApprovalAuthenticationError) logger?.warn({ reason: error.message, routine: routineId, counters: channel.counters }, `cgw dropped an unauthenticated ${what}`);
        else logger?.info({ reason: error.message }, `cgw refused the ${what}`);
        throw new RequestRejectedError(nrcFor(error), error.message);
      }
    };
  const { StartRoutine: START, StopRoutine: STOP, RequestRoutineResults: RESULTS } = RoutineControlType;
  const access = { sessions: [DiagnosticSessionType.ExtendedDiagnostic] };
  // Progress and grants also in the programming session: while the TMU flashes the CGW itself it reports
  // progress and asks for the CGW's own grant on the same connection, and switching sessions would abort that.
  const progressAccess = { sessions: [DiagnosticSessionType.ExtendedDiagnostic, DiagnosticSessionType.Programming] };
  return new Map<number, RoutineDefinition>([
    [APPROVAL_ROUTINE, {
      ...access,
      start: answering('offer', START, APPROVAL_ROUTINE, (record) => {
        approval.offer(decodePayload(approvalOfferSchema, record, 'offer'));
        return OK;
      }),
      results: answering('approval poll', RESULTS, APPROVAL_ROUTINE, () => encodeApprovalStatus(approval.status())),
      stop: answering('update result', STOP, APPROVAL_ROUTINE, (record) => {
        approval.stop(decodePayload(updateResultSchema, record, 'result'));
        return OK;
      }),
    }],
    [PROGRESS_ROUTINE, {
      ...progressAccess,
      start: answering('progress', START, PROGRESS_ROUTINE, (record) => {
        approval.progress(decodePayload(updateProgressSchema, record, 'progress'));
        return OK;
      }),
    }],
    [GRANT_ROUTINE, {
      ...progressAccess,
      start: answering('grant', START, GRANT_ROUTINE, (record) => encodeGrantAnswer(grants.issue(decodeGrantRequest(record)))),
    }],
  ]);
}
