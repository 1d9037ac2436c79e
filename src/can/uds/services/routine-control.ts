import { NegativeResponseCode as Nrc } from '../nrc.ts';
import { ServiceId } from '../service-ids.ts';
import {
  checkEcho, checkResponse, did, didBytes, message, requireLength, subFunctionByte, type SuppressibleRequest, type UdsService,
} from '../service.ts';

/** 0x31 RoutineControl (ISO 14229-1 §13.2). */
export enum RoutineControlType {
  StartRoutine = 0x01,
  StopRoutine = 0x02,
  RequestRoutineResults = 0x03,
}

/** Routine identifiers canota's flashing sequence uses (docs/architecture.md, "In-vehicle network"). */
export enum RoutineIdentifier {
  EraseMemory = 0xff00,
  CheckProgrammingDependencies = 0xff01,
  UpdateApproval = 0xf001,
}

export interface RoutineControlRequest extends SuppressibleRequest {
  controlType: number;
  routineId: number;
  /** routineControlOptionRecord */
  options: Uint8Array;
}

export interface RoutineControlResponse {
  controlType: number;
  routineId: number;
  /** routineInfo + routineStatusRecord, as the routine defines them. */
  status: Uint8Array;
}

export const routineControl: UdsService<RoutineControlRequest, RoutineControlResponse> = {
  sid: ServiceId.RoutineControl,
  name: 'RoutineControl',
  hasSubFunction: true,
  negativeResponseCodes: [
    Nrc.SubFunctionNotSupported, Nrc.IncorrectMessageLengthOrInvalidFormat, Nrc.ConditionsNotCorrect, Nrc.RequestSequenceError,
    Nrc.RequestOutOfRange, Nrc.SecurityAccessDenied, Nrc.GeneralProgrammingFailure,
  ],
  encodeRequest: (request) => message(
    ServiceId.RoutineControl, subFunctionByte(request.controlType, request), didBytes(request.routineId), request.options,
  ),
  decodeRequest(request) {
    requireLength(request, 4);
    return {
      controlType: request[1]! & 0x7f, routineId: did(request, 2), options: request.slice(4),
      suppressPositiveResponse: (request[1]! & 0x80) !== 0,
    };
  },
  encodeResponse: (response) => message(ServiceId.RoutineControl + 0x40, response.controlType, didBytes(response.routineId), response.status),
  decodeResponse(response, request) {
    checkResponse(response, ServiceId.RoutineControl, 4, 'RoutineControl');
    checkEcho('RoutineControl', 'control type', request?.controlType, response[1]!);
    checkEcho('RoutineControl', 'routine id', request?.routineId, did(response, 2));
    return { controlType: response[1]!, routineId: did(response, 2), status: response.slice(4) };
  },
};
