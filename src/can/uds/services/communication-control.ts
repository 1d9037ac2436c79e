import { invalidFormat } from '../errors.ts';
import { NegativeResponseCode as Nrc } from '../nrc.ts';
import { ServiceId } from '../service-ids.ts';
import {
  byteValue, checkEcho, checkResponse, did, didBytes, message, requireLength, subFunctionByte, type SuppressibleRequest, type UdsService,
} from '../service.ts';

/** 0x28 CommunicationControl (ISO 14229-1 §10.5): silence normal traffic while flashing. */
export enum CommunicationControlType {
  EnableRxAndTx = 0x00,
  EnableRxAndDisableTx = 0x01,
  DisableRxAndEnableTx = 0x02,
  DisableRxAndTx = 0x03,
  EnableRxAndDisableTxWithEnhancedAddressInformation = 0x04,
  EnableRxAndTxWithEnhancedAddressInformation = 0x05,
}

/** communicationType, bits 0-1 (bits 4-7 select a subnet; 0 = all). */
export enum CommunicationType {
  NormalCommunicationMessages = 0x01,
  NetworkManagementCommunicationMessages = 0x02,
  NormalAndNetworkManagementCommunicationMessages = 0x03,
}

export interface CommunicationControlRequest extends SuppressibleRequest {
  controlType: number;
  communicationType: number;
  /** Only with the enhanced-address control types 0x04 and 0x05. */
  nodeIdentificationNumber?: number;
}

export interface CommunicationControlResponse {
  controlType: number;
}

const withNodeId = (controlType: number) => controlType === 0x04 || controlType === 0x05;

export const communicationControl: UdsService<CommunicationControlRequest, CommunicationControlResponse> = {
  sid: ServiceId.CommunicationControl,
  name: 'CommunicationControl',
  hasSubFunction: true,
  negativeResponseCodes: [Nrc.SubFunctionNotSupported, Nrc.IncorrectMessageLengthOrInvalidFormat, Nrc.ConditionsNotCorrect, Nrc.RequestOutOfRange],
  encodeRequest: (request) => message(
    ServiceId.CommunicationControl, subFunctionByte(request.controlType, request), byteValue('communicationType', request.communicationType),
    withNodeId(request.controlType) ? didBytes(request.nodeIdentificationNumber ?? 0) : [],
  ),
  decodeRequest(request) {
    requireLength(request, 3);
    const controlType = request[1]! & 0x7f;
    const expected = withNodeId(controlType) ? 5 : 3;
    if (request.length !== expected) throw invalidFormat(`control type 0x${controlType.toString(16)} takes ${expected} bytes, got ${request.length}`);
    const decoded: CommunicationControlRequest = {
      controlType, communicationType: request[2]!, suppressPositiveResponse: (request[1]! & 0x80) !== 0,
    };
    if (expected === 5) decoded.nodeIdentificationNumber = did(request, 3);
    return decoded;
  },
  encodeResponse: (response) => message(ServiceId.CommunicationControl + 0x40, response.controlType),
  decodeResponse(response, request) {
    checkResponse(response, ServiceId.CommunicationControl, 2, 'CommunicationControl');
    checkEcho('CommunicationControl', 'control type', request?.controlType, response[1]!);
    return { controlType: response[1]! };
  },
};
