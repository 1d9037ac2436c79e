import { UdsResponseError, invalidFormat } from '../errors.ts';
import { NegativeResponseCode as Nrc } from '../nrc.ts';
import { ServiceId } from '../service-ids.ts';
import { checkResponse, did, didBytes, message, requireLength, type UdsService } from '../service.ts';

/** 0x22 ReadDataByIdentifier (ISO 14229-1 §11.2). */
export interface ReadDataByIdentifierRequest {
  dids: number[];
  /**
   * Data length per DID, needed only to split a response to several DIDs (the response does not say
   * where one record ends); with a single DID the record is the rest of the response.
   */
  dataLengths?: Readonly<Record<number, number>>;
}

export interface DataRecord {
  did: number;
  data: Uint8Array;
}

export interface ReadDataByIdentifierResponse {
  records: DataRecord[];
}

/** Well-known identifiers (ISO 14229-1 Annex C.1) that canota's ECUs answer. */
export enum DataIdentifier {
  ActiveDiagnosticSession = 0xf186,
  EcuSoftwareNumber = 0xf188,
  EcuSoftwareVersion = 0xf189,
  Vin = 0xf190,
  EcuHardwareNumber = 0xf191,
  SystemName = 0xf197,
}

export const readDataByIdentifier: UdsService<ReadDataByIdentifierRequest, ReadDataByIdentifierResponse> = {
  sid: ServiceId.ReadDataByIdentifier,
  name: 'ReadDataByIdentifier',
  hasSubFunction: false,
  negativeResponseCodes: [Nrc.IncorrectMessageLengthOrInvalidFormat, Nrc.ResponseTooLong, Nrc.ConditionsNotCorrect, Nrc.RequestOutOfRange, Nrc.SecurityAccessDenied],
  encodeRequest: (request) => message(ServiceId.ReadDataByIdentifier, request.dids.flatMap((identifier) => didBytes(identifier))),
  decodeRequest(request) {
    requireLength(request, 3);
    if ((request.length - 1) % 2 !== 0) throw invalidFormat('data identifiers are 2 bytes each');
    const dids: number[] = [];
    for (let at = 1; at < request.length; at += 2) dids.push(did(request, at));
    return { dids };
  },
  encodeResponse: (response) => message(
    ServiceId.ReadDataByIdentifier + 0x40, ...response.records.flatMap((record) => [didBytes(record.did), record.data]),
  ),
  decodeResponse(response, request) {
    checkResponse(response, ServiceId.ReadDataByIdentifier, 3, 'ReadDataByIdentifier');
    const records: DataRecord[] = [];
    let at = 1;
    while (at < response.length) {
      if (at + 2 > response.length) throw new UdsResponseError('ReadDataByIdentifier: truncated data identifier');
      const identifier = did(response, at);
      at += 2;
      if (request && !request.dids.includes(identifier)) {
        throw new UdsResponseError(`ReadDataByIdentifier: response carries DID 0x${identifier.toString(16)} that was not requested`);
      }
      const length = request?.dataLengths?.[identifier];
      if (length === undefined) {
        if (request && request.dids.length > 1) {
          throw new UdsResponseError(`ReadDataByIdentifier: no data length known for DID 0x${identifier.toString(16)} to split the response`);
        }
        records.push({ did: identifier, data: response.slice(at) });
        at = response.length;
      } else {
        if (at + length > response.length) throw new UdsResponseError(`ReadDataByIdentifier: DID 0x${identifier.toString(16)} truncated`);
        records.push({ did: identifier, data: response.slice(at, at + length) });
        at += length;
      }
    }
    return { records };
  },
};
