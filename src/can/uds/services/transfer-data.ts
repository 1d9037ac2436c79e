import { NegativeResponseCode as Nrc } from '../nrc.ts';
import { ServiceId } from '../service-ids.ts';
import { byteValue, checkEcho, checkResponse, message, requireLength, type UdsService } from '../service.ts';

/** 0x36 TransferData (ISO 14229-1 §14.5). The block sequence counter starts at 0x01 and wraps 0xFF → 0x00. */
export interface TransferDataRequest {
  blockSequenceCounter: number;
  data: Uint8Array;
}

export interface TransferDataResponse {
  blockSequenceCounter: number;
  /** transferResponseParameterRecord (empty for downloads). */
  data: Uint8Array;
}

export const nextBlockSequenceCounter = (counter: number): number => (counter + 1) & 0xff;

export const transferData: UdsService<TransferDataRequest, TransferDataResponse> = {
  sid: ServiceId.TransferData,
  name: 'TransferData',
  hasSubFunction: false,
  negativeResponseCodes: [
    Nrc.IncorrectMessageLengthOrInvalidFormat, Nrc.RequestSequenceError, Nrc.RequestOutOfRange, Nrc.TransferDataSuspended,
    Nrc.GeneralProgrammingFailure, Nrc.WrongBlockSequenceCounter, Nrc.VoltageTooHigh, Nrc.VoltageTooLow,
  ],
  encodeRequest: (request) => message(ServiceId.TransferData, byteValue('blockSequenceCounter', request.blockSequenceCounter), request.data),
  decodeRequest(request) {
    requireLength(request, 2);
    return { blockSequenceCounter: request[1]!, data: request.subarray(2) };
  },
  encodeResponse: (response) => message(ServiceId.TransferData + 0x40, response.blockSequenceCounter, response.data),
  decodeResponse(response, request) {
    checkResponse(response, ServiceId.TransferData, 2, 'TransferData');
    checkEcho('TransferData', 'block sequence counter', request?.blockSequenceCounter, response[1]!);
    return { blockSequenceCounter: response[1]!, data: response.slice(2) };
  },
  // A block repeated after a response timeout is acknowledged twice (§14.5.1: the server answers a
  // repeated counter without writing again); the second acknowledgement can arrive after the next block.
  isStaleResponse: (response, request) =>
    response[0] === ServiceId.TransferData + 0x40 && response[1] === ((request.blockSequenceCounter - 1) & 0xff),
};
