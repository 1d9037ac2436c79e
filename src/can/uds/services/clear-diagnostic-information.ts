import { NegativeResponseCode as Nrc } from '../nrc.ts';
import { ServiceId } from '../service-ids.ts';
import { checkResponse, message, readUint, requireLength, writeUint, type UdsService } from '../service.ts';
import { invalidFormat } from '../errors.ts';

/** 0x14 ClearDiagnosticInformation (ISO 14229-1 §12.2). */
export const ALL_DTC_GROUPS = 0xffffff;

export interface ClearDiagnosticInformationRequest {
  /** groupOfDTC, 3 bytes; 0xFFFFFF = all groups. */
  group: number;
  /** MemorySelection (ISO 14229-1:2020), for user-defined DTC memory. */
  memorySelection?: number;
}

export type ClearDiagnosticInformationResponse = Record<string, never>;

export const clearDiagnosticInformation: UdsService<ClearDiagnosticInformationRequest, ClearDiagnosticInformationResponse> = {
  sid: ServiceId.ClearDiagnosticInformation,
  name: 'ClearDiagnosticInformation',
  hasSubFunction: false,
  negativeResponseCodes: [Nrc.IncorrectMessageLengthOrInvalidFormat, Nrc.ConditionsNotCorrect, Nrc.RequestOutOfRange, Nrc.GeneralProgrammingFailure],
  encodeRequest: (request) => message(
    ServiceId.ClearDiagnosticInformation, writeUint(request.group, 3, 'groupOfDTC'),
    request.memorySelection === undefined ? [] : [request.memorySelection],
  ),
  decodeRequest(request) {
    requireLength(request, 4);
    if (request.length > 5) throw invalidFormat(`ClearDiagnosticInformation takes 4 or 5 bytes, got ${request.length}`);
    const decoded: ClearDiagnosticInformationRequest = { group: readUint(request, 1, 3) };
    if (request.length === 5) decoded.memorySelection = request[4]!;
    return decoded;
  },
  encodeResponse: () => message(ServiceId.ClearDiagnosticInformation + 0x40),
  decodeResponse(response) {
    checkResponse(response, ServiceId.ClearDiagnosticInformation, 1, 'ClearDiagnosticInformation');
    return {};
  },
};
