import { NegativeResponseCode as Nrc } from '../nrc.ts';
import { ServiceId } from '../service-ids.ts';
import { checkEcho, checkResponse, did, didBytes, message, requireLength, type UdsService } from '../service.ts';

/** 0x2E WriteDataByIdentifier (ISO 14229-1 §11.7). */
export interface WriteDataByIdentifierRequest {
  did: number;
  data: Uint8Array;
}

export interface WriteDataByIdentifierResponse {
  did: number;
}

export const writeDataByIdentifier: UdsService<WriteDataByIdentifierRequest, WriteDataByIdentifierResponse> = {
  sid: ServiceId.WriteDataByIdentifier,
  name: 'WriteDataByIdentifier',
  hasSubFunction: false,
  negativeResponseCodes: [Nrc.IncorrectMessageLengthOrInvalidFormat, Nrc.ConditionsNotCorrect, Nrc.RequestOutOfRange, Nrc.SecurityAccessDenied, Nrc.GeneralProgrammingFailure],
  encodeRequest: (request) => message(ServiceId.WriteDataByIdentifier, didBytes(request.did), request.data),
  decodeRequest(request) {
    requireLength(request, 4);
    return { did: did(request, 1), data: request.slice(3) };
  },
  encodeResponse: (response) => message(ServiceId.WriteDataByIdentifier + 0x40, didBytes(response.did)),
  decodeResponse(response, request) {
    checkResponse(response, ServiceId.WriteDataByIdentifier, 3, 'WriteDataByIdentifier');
    checkEcho('WriteDataByIdentifier', 'DID', request?.did, did(response, 1));
    return { did: did(response, 1) };
  },
};
