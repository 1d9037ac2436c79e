/** Negative response codes of ISO 14229-1:2020 Annex A.1, with their names as the standard spells them. */
export enum NegativeResponseCode {
  GeneralReject = 0x10,
  ServiceNotSupported = 0x11,
  SubFunctionNotSupported = 0x12,
  IncorrectMessageLengthOrInvalidFormat = 0x13,
  ResponseTooLong = 0x14,
  BusyRepeatRequest = 0x21,
  ConditionsNotCorrect = 0x22,
  RequestSequenceError = 0x24,
  NoResponseFromSubnetComponent = 0x25,
  FailurePreventsExecutionOfRequestedAction = 0x26,
  RequestOutOfRange = 0x31,
  SecurityAccessDenied = 0x33,
  AuthenticationRequired = 0x34,
  InvalidKey = 0x35,
  ExceededNumberOfAttempts = 0x36,
  RequiredTimeDelayNotExpired = 0x37,
  SecureDataTransmissionRequired = 0x38,
  SecureDataTransmissionNotAllowed = 0x39,
  SecureDataVerificationFailed = 0x3a,
  CertificateVerificationFailedInvalidTimePeriod = 0x50,
  CertificateVerificationFailedInvalidSignature = 0x51,
  CertificateVerificationFailedInvalidChainOfTrust = 0x52,
  CertificateVerificationFailedInvalidType = 0x53,
  CertificateVerificationFailedInvalidFormat = 0x54,
  CertificateVerificationFailedInvalidContent = 0x55,
  CertificateVerificationFailedInvalidScope = 0x56,
  CertificateVerificationFailedInvalidCertificate = 0x57,
  OwnershipVerificationFailed = 0x58,
  ChallengeCalculationFailed = 0x59,
  SettingAccessRightsFailed = 0x5a,
  SessionKeyCreationDerivationFailed = 0x5b,
  ConfigurationDataUsageFailed = 0x5c,
  DeAuthenticationFailed = 0x5d,
  UploadDownloadNotAccepted = 0x70,
  TransferDataSuspended = 0x71,
  GeneralProgrammingFailure = 0x72,
  WrongBlockSequenceCounter = 0x73,
  RequestCorrectlyReceivedResponsePending = 0x78,
  SubFunctionNotSupportedInActiveSession = 0x7e,
  ServiceNotSupportedInActiveSession = 0x7f,
  RpmTooHigh = 0x81,
  RpmTooLow = 0x82,
  EngineIsRunning = 0x83,
  EngineIsNotRunning = 0x84,
  EngineRunTimeTooLow = 0x85,
  TemperatureTooHigh = 0x86,
  TemperatureTooLow = 0x87,
  VehicleSpeedTooHigh = 0x88,
  VehicleSpeedTooLow = 0x89,
  ThrottlePedalTooHigh = 0x8a,
  ThrottlePedalTooLow = 0x8b,
  TransmissionRangeNotInNeutral = 0x8c,
  TransmissionRangeNotInGear = 0x8d,
  BrakeSwitchesNotClosed = 0x8f,
  ShifterLeverNotInPark = 0x90,
  TorqueConverterClutchLocked = 0x91,
  VoltageTooHigh = 0x92,
  VoltageTooLow = 0x93,
  ResourceTemporarilyNotAvailable = 0x94,
}

const names = new Map<number, string>(
  Object.entries(NegativeResponseCode)
    .filter((entry): entry is [string, number] => typeof entry[1] === 'number')
    .map(([key, code]) => [code, key.charAt(0).toLowerCase() + key.slice(1)]),
);

/** `requestOutOfRange`, `securityAccessDenied`, …; codes the standard reserves read `ISOSAEReserved (0x..)`. */
export function nrcName(code: number): string {
  return names.get(code) ?? (code >= 0x38 && code <= 0x4f ? `reservedByExtendedDataLinkSecurity (0x${hex(code)})`
    : code >= 0x95 && code <= 0xef ? `reservedForSpecificConditionsNotCorrect (0x${hex(code)})`
      : code >= 0xf0 && code <= 0xfe ? `vehicleManufacturerSpecificConditionsNotCorrect (0x${hex(code)})`
        : `ISOSAEReserved (0x${hex(code)})`);
}

export function isKnownNrc(code: number): boolean {
  return names.has(code);
}

/**
 * NRCs a server does not send for a functionally addressed request (ISO 14229-1 §7.5, Table 6): an
 * unsupported service, sub-function or parameter on one of many ECUs is not worth a bus-wide answer.
 */
export const SUPPRESSED_ON_FUNCTIONAL: ReadonlySet<number> = new Set([
  NegativeResponseCode.ServiceNotSupported,
  NegativeResponseCode.SubFunctionNotSupported,
  NegativeResponseCode.RequestOutOfRange,
  NegativeResponseCode.SubFunctionNotSupportedInActiveSession,
  NegativeResponseCode.ServiceNotSupportedInActiveSession,
]);

const hex = (value: number) => value.toString(16).padStart(2, '0');
