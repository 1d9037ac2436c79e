import { NegativeResponseCode as Nrc } from '../nrc.ts';
import { ServiceId } from '../service-ids.ts';
import {
  checkEcho, checkResponse, message, readUint, requireLength, subFunctionByte, writeUint, type SuppressibleRequest,
  type UdsService,
} from '../service.ts';

/** 0x10 DiagnosticSessionControl (ISO 14229-1 §10.2). */
export enum DiagnosticSessionType {
  Default = 0x01,
  Programming = 0x02,
  ExtendedDiagnostic = 0x03,
  SafetySystemDiagnostic = 0x04,
}

export interface DiagnosticSessionControlRequest extends SuppressibleRequest {
  sessionType: number;
}

export interface DiagnosticSessionControlResponse {
  sessionType: number;
  /** P2server_max: the server answers (or sends NRC 0x78) within this many ms. */
  p2Ms: number;
  /** P2*server_max: after NRC 0x78, the next response comes within this many ms (sent in 10 ms units). */
  p2StarMs: number;
}

export const diagnosticSessionControl: UdsService<DiagnosticSessionControlRequest, DiagnosticSessionControlResponse> = {
  sid: ServiceId.DiagnosticSessionControl,
  name: 'DiagnosticSessionControl',
  hasSubFunction: true,
  negativeResponseCodes: [Nrc.SubFunctionNotSupported, Nrc.IncorrectMessageLengthOrInvalidFormat, Nrc.ConditionsNotCorrect],
  encodeRequest: (request) => message(ServiceId.DiagnosticSessionControl, subFunctionByte(request.sessionType, request)),
  decodeRequest(request) {
    requireLength(request, 2, true);
    return { sessionType: request[1]! & 0x7f, suppressPositiveResponse: (request[1]! & 0x80) !== 0 };
  },
  encodeResponse: (response) => message(
    ServiceId.DiagnosticSessionControl + 0x40, response.sessionType,
    writeUint(response.p2Ms, 2, 'P2'), writeUint(Math.ceil(response.p2StarMs / 10), 2, 'P2*'),
  ),
  decodeResponse(response, request) {
    checkResponse(response, ServiceId.DiagnosticSessionControl, 6, 'DiagnosticSessionControl');
    checkEcho('DiagnosticSessionControl', 'session type', request?.sessionType, response[1]!);
    return { sessionType: response[1]!, p2Ms: readUint(response, 2, 2), p2StarMs: readUint(response, 4, 2) * 10 };
  },
};
