import { NegativeResponseCode as Nrc } from '../nrc.ts';
import { ServiceId } from '../service-ids.ts';
import { checkResponse, message, requireLength, subFunctionByte, type SuppressibleRequest, type UdsService } from '../service.ts';

/** 0x3E TesterPresent (ISO 14229-1 §10.6): keeps a non-default session alive (resets S3). */
export const ZERO_SUB_FUNCTION = 0x00;

export type TesterPresentRequest = SuppressibleRequest;

export interface TesterPresentResponse {
  subFunction: number;
}

export const testerPresent: UdsService<TesterPresentRequest, TesterPresentResponse> = {
  sid: ServiceId.TesterPresent,
  name: 'TesterPresent',
  hasSubFunction: true,
  negativeResponseCodes: [Nrc.SubFunctionNotSupported, Nrc.IncorrectMessageLengthOrInvalidFormat],
  encodeRequest: (request) => message(ServiceId.TesterPresent, subFunctionByte(ZERO_SUB_FUNCTION, request)),
  decodeRequest(request) {
    requireLength(request, 2, true);
    return { suppressPositiveResponse: (request[1]! & 0x80) !== 0 };
  },
  encodeResponse: () => message(ServiceId.TesterPresent + 0x40, ZERO_SUB_FUNCTION),
  decodeResponse(response) {
    checkResponse(response, ServiceId.TesterPresent, 2, 'TesterPresent');
    return { subFunction: response[1]! };
  },
};
