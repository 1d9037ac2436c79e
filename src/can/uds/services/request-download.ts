import { RequestRejectedError, UdsRequestError, UdsResponseError, invalidFormat } from '../errors.ts';
import { NegativeResponseCode as Nrc } from '../nrc.ts';
import { ServiceId } from '../service-ids.ts';
import { byteValue, bytesFor, checkResponse, message, readUint, requireLength, writeUint, type UdsService } from '../service.ts';

/** 0x34 RequestDownload (ISO 14229-1 §14.2). */
export interface RequestDownloadRequest {
  /** dataFormatIdentifier: compression method (high nibble) and encryption method (low nibble); 0x00 = plain. */
  dataFormat: number;
  memoryAddress: number;
  memorySize: number;
  /** Bytes for the address / size fields (1-6); by default as few as the values need (at least 4 / 4). */
  addressLength?: number;
  sizeLength?: number;
}

export interface RequestDownloadResponse {
  /** Longest TransferData request the server accepts, SID and block sequence counter included. */
  maxNumberOfBlockLength: number;
}

/** Address and size fields up to 6 bytes keep values exact in a JS number (2^48). */
const MAX_FIELD_LENGTH = 6;

export const requestDownload: UdsService<RequestDownloadRequest, RequestDownloadResponse> = {
  sid: ServiceId.RequestDownload,
  name: 'RequestDownload',
  hasSubFunction: false,
  negativeResponseCodes: [Nrc.IncorrectMessageLengthOrInvalidFormat, Nrc.ConditionsNotCorrect, Nrc.RequestOutOfRange, Nrc.SecurityAccessDenied, Nrc.UploadDownloadNotAccepted],
  encodeRequest(request) {
    const addressLength = request.addressLength ?? bytesFor(request.memoryAddress, 4);
    const sizeLength = request.sizeLength ?? bytesFor(request.memorySize, 4);
    for (const [name, length] of [['addressLength', addressLength], ['sizeLength', sizeLength]] as const) {
      if (!Number.isInteger(length) || length < 1 || length > MAX_FIELD_LENGTH) throw new UdsRequestError(`${name} must be 1-${MAX_FIELD_LENGTH}, got ${length}`);
    }
    return message(
      ServiceId.RequestDownload, byteValue('dataFormat', request.dataFormat), (sizeLength << 4) | addressLength,
      writeUint(request.memoryAddress, addressLength, 'memoryAddress'), writeUint(request.memorySize, sizeLength, 'memorySize'),
    );
  },
  decodeRequest(request) {
    requireLength(request, 5);
    const formatIdentifier = request[2]!;
    const addressLength = formatIdentifier & 0x0f;
    const sizeLength = formatIdentifier >> 4;
    // An addressAndLengthFormatIdentifier the server cannot handle is out of range, not malformed (Table 397).
    if (addressLength < 1 || addressLength > MAX_FIELD_LENGTH || sizeLength < 1 || sizeLength > MAX_FIELD_LENGTH) {
      throw new RequestRejectedError(Nrc.RequestOutOfRange, `unsupported addressAndLengthFormatIdentifier 0x${formatIdentifier.toString(16)}`);
    }
    if (request.length !== 3 + addressLength + sizeLength) {
      throw invalidFormat(`addressAndLengthFormatIdentifier 0x${formatIdentifier.toString(16)} needs ${3 + addressLength + sizeLength} bytes, got ${request.length}`);
    }
    return {
      dataFormat: request[1]!,
      memoryAddress: readUint(request, 3, addressLength),
      memorySize: readUint(request, 3 + addressLength, sizeLength),
      addressLength,
      sizeLength,
    };
  },
  encodeResponse(response) {
    const length = bytesFor(response.maxNumberOfBlockLength, 2);
    return message(ServiceId.RequestDownload + 0x40, length << 4, writeUint(response.maxNumberOfBlockLength, length, 'maxNumberOfBlockLength'));
  },
  decodeResponse(response) {
    checkResponse(response, ServiceId.RequestDownload, 3, 'RequestDownload');
    const length = response[1]! >> 4;
    if (length < 1 || length > MAX_FIELD_LENGTH || response.length < 2 + length) {
      throw new UdsResponseError(`RequestDownload: bad lengthFormatIdentifier 0x${response[1]!.toString(16)} in a ${response.length}-byte response`);
    }
    const maxNumberOfBlockLength = readUint(response, 2, length);
    if (maxNumberOfBlockLength < 3) throw new UdsResponseError(`RequestDownload: maxNumberOfBlockLength ${maxNumberOfBlockLength} leaves no room for data`);
    return { maxNumberOfBlockLength };
  },
};
