import { NegativeResponseCode as Nrc } from '../nrc.ts';
import { ServiceId } from '../service-ids.ts';
import { checkEcho, checkResponse, message, requireLength, subFunctionByte, type SuppressibleRequest, type UdsService } from '../service.ts';

/** 0x11 ECUReset (ISO 14229-1 §10.3). */
export enum ResetType {
  HardReset = 0x01,
  KeyOffOnReset = 0x02,
  SoftReset = 0x03,
  EnableRapidPowerShutDown = 0x04,
  DisableRapidPowerShutDown = 0x05,
}

export interface EcuResetRequest extends SuppressibleRequest {
  resetType: number;
}

export interface EcuResetResponse {
  resetType: number;
  /** Seconds until power-down; only with EnableRapidPowerShutDown (0xFF: not available). */
  powerDownTime?: number;
}

export const ecuReset: UdsService<EcuResetRequest, EcuResetResponse> = {
  sid: ServiceId.EcuReset,
  name: 'ECUReset',
  hasSubFunction: true,
  negativeResponseCodes: [Nrc.SubFunctionNotSupported, Nrc.IncorrectMessageLengthOrInvalidFormat, Nrc.ConditionsNotCorrect, Nrc.SecurityAccessDenied],
  encodeRequest: (request) => message(ServiceId.EcuReset, subFunctionByte(request.resetType, request)),
  decodeRequest(request) {
    requireLength(request, 2, true);
    return { resetType: request[1]! & 0x7f, suppressPositiveResponse: (request[1]! & 0x80) !== 0 };
  },
  encodeResponse: (response) => (response.resetType === ResetType.EnableRapidPowerShutDown
    ? message(ServiceId.EcuReset + 0x40, response.resetType, response.powerDownTime ?? 0xff)
    : message(ServiceId.EcuReset + 0x40, response.resetType)),
  decodeResponse(response, request) {
    checkResponse(response, ServiceId.EcuReset, 2, 'ECUReset');
    checkEcho('ECUReset', 'reset type', request?.resetType, response[1]!);
    return response[1] === ResetType.EnableRapidPowerShutDown && response.length > 2
      ? { resetType: response[1]!, powerDownTime: response[2]! }
      : { resetType: response[1]! };
  },
};
