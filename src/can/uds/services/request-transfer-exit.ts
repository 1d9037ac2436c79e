import { NegativeResponseCode as Nrc } from '../nrc.ts';
import { ServiceId } from '../service-ids.ts';
import { checkResponse, message, requireLength, type UdsService } from '../service.ts';

/** 0x37 RequestTransferExit (ISO 14229-1 §14.6). */
export interface RequestTransferExitRequest {
  /** transferRequestParameterRecord (manufacturer specific, often empty). */
  data: Uint8Array;
}

export interface RequestTransferExitResponse {
  data: Uint8Array;
}

export const requestTransferExit: UdsService<RequestTransferExitRequest, RequestTransferExitResponse> = {
  sid: ServiceId.RequestTransferExit,
  name: 'RequestTransferExit',
  hasSubFunction: false,
  negativeResponseCodes: [Nrc.IncorrectMessageLengthOrInvalidFormat, Nrc.RequestSequenceError, Nrc.RequestOutOfRange, Nrc.GeneralProgrammingFailure],
  encodeRequest: (request) => message(ServiceId.RequestTransferExit, request.data),
  decodeRequest(request) {
    requireLength(request, 1);
    return { data: request.slice(1) };
  },
  encodeResponse: (response) => message(ServiceId.RequestTransferExit + 0x40, response.data),
  decodeResponse(response) {
    checkResponse(response, ServiceId.RequestTransferExit, 1, 'RequestTransferExit');
    return { data: response.slice(1) };
  },
};
