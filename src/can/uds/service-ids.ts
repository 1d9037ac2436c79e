/** Service identifiers of ISO 14229-1:2020 (Table 23), for dispatch and for decoding bus traffic. */
export enum ServiceId {
  DiagnosticSessionControl = 0x10,
  EcuReset = 0x11,
  ClearDiagnosticInformation = 0x14,
  ReadDtcInformation = 0x19,
  ReadDataByIdentifier = 0x22,
  ReadMemoryByAddress = 0x23,
  ReadScalingDataByIdentifier = 0x24,
  SecurityAccess = 0x27,
  CommunicationControl = 0x28,
  Authentication = 0x29,
  ReadDataByPeriodicIdentifier = 0x2a,
  DynamicallyDefineDataIdentifier = 0x2c,
  WriteDataByIdentifier = 0x2e,
  InputOutputControlByIdentifier = 0x2f,
  RoutineControl = 0x31,
  RequestDownload = 0x34,
  RequestUpload = 0x35,
  TransferData = 0x36,
  RequestTransferExit = 0x37,
  RequestFileTransfer = 0x38,
  WriteMemoryByAddress = 0x3d,
  TesterPresent = 0x3e,
  SecuredDataTransmission = 0x84,
  ControlDtcSetting = 0x85,
  ResponseOnEvent = 0x86,
  LinkControl = 0x87,
}

export const NEGATIVE_RESPONSE_SID = 0x7f;
/** A positive response's SID is the request's with bit 6 set. */
export const POSITIVE_RESPONSE_OFFSET = 0x40;
/** Bit 7 of a sub-function byte: suppressPosRspMsgIndicationBit. */
export const SUPPRESS_POSITIVE_RESPONSE = 0x80;

const names = new Map<number, string>(
  Object.entries(ServiceId).filter((entry): entry is [string, number] => typeof entry[1] === 'number')
    .map(([name, sid]) => [sid, name]),
);

/** `ReadDataByIdentifier` for 0x22, `undefined` for a SID the standard does not define. */
export function serviceName(sid: number): string | undefined {
  return names.get(sid);
}

export function describeSid(sid: number): string {
  return serviceName(sid) ?? `service 0x${sid.toString(16).padStart(2, '0')}`;
}
