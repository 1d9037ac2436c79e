import { NegativeResponseCode as Nrc } from '../nrc.ts';
import { ServiceId } from '../service-ids.ts';
import { checkEcho, checkResponse, message, requireLength, subFunctionByte, type SuppressibleRequest, type UdsService } from '../service.ts';

/** 0x85 ControlDTCSetting (ISO 14229-1 §10.10): stop DTC recording while flashing. */
export enum DtcSettingType {
  On = 0x01,
  Off = 0x02,
}

export interface ControlDtcSettingRequest extends SuppressibleRequest {
  settingType: number;
  /** DTCSettingControlOptionRecord (optional, manufacturer specific). */
  options: Uint8Array;
}

export interface ControlDtcSettingResponse {
  settingType: number;
}

export const controlDtcSetting: UdsService<ControlDtcSettingRequest, ControlDtcSettingResponse> = {
  sid: ServiceId.ControlDtcSetting,
  name: 'ControlDTCSetting',
  hasSubFunction: true,
  negativeResponseCodes: [Nrc.SubFunctionNotSupported, Nrc.IncorrectMessageLengthOrInvalidFormat, Nrc.ConditionsNotCorrect, Nrc.RequestOutOfRange],
  encodeRequest: (request) => message(ServiceId.ControlDtcSetting, subFunctionByte(request.settingType, request), request.options),
  decodeRequest(request) {
    requireLength(request, 2);
    return { settingType: request[1]! & 0x7f, options: request.slice(2), suppressPositiveResponse: (request[1]! & 0x80) !== 0 };
  },
  encodeResponse: (response) => message(ServiceId.ControlDtcSetting + 0x40, response.settingType),
  decodeResponse(response, request) {
    checkResponse(response, ServiceId.ControlDtcSetting, 2, 'ControlDTCSetting');
    checkEcho('ControlDTCSetting', 'setting type', request?.settingType, response[1]!);
    return { settingType: response[1]! };
  },
};
