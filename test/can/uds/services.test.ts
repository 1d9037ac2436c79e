import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  ALL_DTC_GROUPS, CommunicationControlType, DiagnosticSessionType, DtcSettingType, NegativeResponseCode, RequestRejectedError,
  ResetType, RoutineControlType, UdsRequestError, UdsResponseError, clearDiagnosticInformation, communicationControl,
  computeSecurityKey, controlDtcSetting, describeUdsMessage, diagnosticSessionControl, ecuReset, nrcName, readDataByIdentifier,
  requestDownload, requestTransferExit, routineControl, securityAccess, serviceName, services, testerPresent, transferData,
  writeDataByIdentifier, type UdsService,
} from '../../../src/can/uds/index.ts';

const hex = (data: Uint8Array) => Buffer.from(data).toString('hex');
const bytes = (text: string) => Uint8Array.from(Buffer.from(text.replace(/\s/g, ''), 'hex'));

function rejects(nrc: NegativeResponseCode, run: () => unknown): void {
  assert.throws(run, (error: unknown) => error instanceof RequestRejectedError && error.nrc === nrc, `expected NRC 0x${nrc.toString(16)}`);
}

/** Encode → decode → encode gives the same bytes, both for the request and the response. */
function roundTrip<Rq, Rs>(service: UdsService<Rq, Rs>, request: Rq, requestHex: string, response: Rs, responseHex: string): void {
  const encodedRequest = service.encodeRequest(request);
  assert.equal(hex(encodedRequest), requestHex, `${service.name} request`);
  assert.equal(hex(service.encodeRequest(service.decodeRequest(encodedRequest))), requestHex);
  const encodedResponse = service.encodeResponse(response);
  assert.equal(hex(encodedResponse), responseHex, `${service.name} response`);
  assert.deepEqual(service.decodeResponse(encodedResponse, request), response);
}

test('0x10 DiagnosticSessionControl', () => {
  roundTrip(diagnosticSessionControl, { sessionType: DiagnosticSessionType.Programming }, '1002',
    { sessionType: 2, p2Ms: 50, p2StarMs: 5000 }, '5002003201f4');
  assert.equal(hex(diagnosticSessionControl.encodeRequest({ sessionType: 3, suppressPositiveResponse: true })), '1083');
  assert.deepEqual(diagnosticSessionControl.decodeRequest(bytes('1083')), { sessionType: 3, suppressPositiveResponse: true });
  rejects(NegativeResponseCode.IncorrectMessageLengthOrInvalidFormat, () => diagnosticSessionControl.decodeRequest(bytes('100300')));
  assert.throws(() => diagnosticSessionControl.decodeResponse(bytes('5003003201f4'), { sessionType: 2 }), UdsResponseError, 'wrong echo');
  assert.throws(() => diagnosticSessionControl.decodeResponse(bytes('5002'), { sessionType: 2 }), UdsResponseError, 'no timing');
  assert.throws(() => diagnosticSessionControl.encodeRequest({ sessionType: 0x80 }), UdsRequestError);
});

test('0x11 ECUReset', () => {
  roundTrip(ecuReset, { resetType: ResetType.HardReset }, '1101', { resetType: 1 }, '5101');
  roundTrip(ecuReset, { resetType: ResetType.EnableRapidPowerShutDown }, '1104', { resetType: 4, powerDownTime: 10 }, '51040a');
  rejects(NegativeResponseCode.IncorrectMessageLengthOrInvalidFormat, () => ecuReset.decodeRequest(bytes('11')));
  assert.throws(() => ecuReset.decodeResponse(bytes('6101')), UdsResponseError, 'wrong SID');
});

test('0x14 ClearDiagnosticInformation', () => {
  roundTrip(clearDiagnosticInformation, { group: ALL_DTC_GROUPS }, '14ffffff', {}, '54');
  assert.deepEqual(clearDiagnosticInformation.decodeRequest(bytes('1400010203')), { group: 0x000102, memorySelection: 3 });
  rejects(NegativeResponseCode.IncorrectMessageLengthOrInvalidFormat, () => clearDiagnosticInformation.decodeRequest(bytes('14ffff')));
  rejects(NegativeResponseCode.IncorrectMessageLengthOrInvalidFormat, () => clearDiagnosticInformation.decodeRequest(bytes('14ffffff0102')));
});

test('0x22 ReadDataByIdentifier: one DID, several DIDs with known lengths', () => {
  roundTrip(readDataByIdentifier, { dids: [0xf189] }, '22f189',
    { records: [{ did: 0xf189, data: bytes('322e302e30') }] }, '62f189322e302e30');
  const request = { dids: [0xf189, 0xf190], dataLengths: { 0xf189: 2, 0xf190: 3 } };
  assert.equal(hex(readDataByIdentifier.encodeRequest(request)), '22f189f190');
  assert.deepEqual(readDataByIdentifier.decodeResponse(bytes('62f1890102f190030405'), request).records,
    [{ did: 0xf189, data: bytes('0102') }, { did: 0xf190, data: bytes('030405') }]);
  assert.deepEqual(readDataByIdentifier.decodeRequest(bytes('22f189f190')).dids, [0xf189, 0xf190]);
  rejects(NegativeResponseCode.IncorrectMessageLengthOrInvalidFormat, () => readDataByIdentifier.decodeRequest(bytes('22f1')));
  rejects(NegativeResponseCode.IncorrectMessageLengthOrInvalidFormat, () => readDataByIdentifier.decodeRequest(bytes('22f189f1')));
  assert.throws(() => readDataByIdentifier.decodeResponse(bytes('62f18a00'), { dids: [0xf189] }), UdsResponseError, 'DID not requested');
  assert.throws(() => readDataByIdentifier.decodeResponse(bytes('62f1890102f190'), { dids: [0xf189, 0xf190] }), UdsResponseError, 'no lengths');
});

test('0x27 SecurityAccess and the HMAC key derivation', () => {
  roundTrip(securityAccess, { subFunction: 0x01, data: new Uint8Array(0) }, '2701', { subFunction: 1, seed: bytes('a1b2c3d4') }, '6701a1b2c3d4');
  roundTrip(securityAccess, { subFunction: 0x02, data: bytes('0102') }, '27020102', { subFunction: 2, seed: new Uint8Array(0) }, '6702');
  rejects(NegativeResponseCode.IncorrectMessageLengthOrInvalidFormat, () => securityAccess.decodeRequest(bytes('2702')));
  const seed = bytes('00112233445566778899aabbccddeeff');
  const key = computeSecurityKey('edt-secret', seed, 16);
  assert.equal(key.length, 16);
  assert.deepEqual(key, computeSecurityKey(new TextEncoder().encode('edt-secret'), seed, 16));
  assert.notDeepEqual(key, computeSecurityKey('other-secret', seed, 16));
  assert.equal(computeSecurityKey('edt-secret', seed, 4).length, 4);
});

test('0x28 CommunicationControl', () => {
  roundTrip(communicationControl, { controlType: CommunicationControlType.DisableRxAndTx, communicationType: 3 }, '280303', { controlType: 3 }, '6803');
  assert.deepEqual(communicationControl.decodeRequest(bytes('28040112ab')),
    { controlType: 4, communicationType: 1, nodeIdentificationNumber: 0x12ab, suppressPositiveResponse: false });
  rejects(NegativeResponseCode.IncorrectMessageLengthOrInvalidFormat, () => communicationControl.decodeRequest(bytes('280301ff')));
  rejects(NegativeResponseCode.IncorrectMessageLengthOrInvalidFormat, () => communicationControl.decodeRequest(bytes('280401')));
});

test('0x2E WriteDataByIdentifier', () => {
  roundTrip(writeDataByIdentifier, { did: 0xf190, data: bytes('5756') }, '2ef1905756', { did: 0xf190 }, '6ef190');
  rejects(NegativeResponseCode.IncorrectMessageLengthOrInvalidFormat, () => writeDataByIdentifier.decodeRequest(bytes('2ef190')));
  assert.throws(() => writeDataByIdentifier.decodeResponse(bytes('6ef191'), { did: 0xf190, data: bytes('00') }), UdsResponseError);
});

test('0x31 RoutineControl', () => {
  roundTrip(routineControl, { controlType: RoutineControlType.StartRoutine, routineId: 0xff00, options: bytes('0102') }, '3101ff000102',
    { controlType: 1, routineId: 0xff00, status: bytes('00') }, '7101ff0000');
  rejects(NegativeResponseCode.IncorrectMessageLengthOrInvalidFormat, () => routineControl.decodeRequest(bytes('3101ff')));
  assert.throws(() => routineControl.decodeResponse(bytes('7101ff01'), { controlType: 1, routineId: 0xff00, options: new Uint8Array(0) }), UdsResponseError);
});

test('0x34 RequestDownload: address/length format identifier and maxNumberOfBlockLength', () => {
  roundTrip(requestDownload, { dataFormat: 0, memoryAddress: 0x08000000, memorySize: 0x100000 }, '3400440800000000100000',
    { maxNumberOfBlockLength: 0x0fff }, '74200fff');
  assert.equal(hex(requestDownload.encodeRequest({ dataFormat: 0x11, memoryAddress: 0x10, memorySize: 0x20, addressLength: 1, sizeLength: 2 })), '341121100020');
  assert.deepEqual(requestDownload.decodeRequest(bytes('3400120100ff')), { dataFormat: 0, memoryAddress: 0x100, memorySize: 0xff, addressLength: 2, sizeLength: 1 });
  assert.deepEqual(requestDownload.decodeResponse(bytes('7430100002')), { maxNumberOfBlockLength: 0x100002 });
  assert.equal(hex(requestDownload.encodeResponse({ maxNumberOfBlockLength: 0x100002 })), '7430100002');
  rejects(NegativeResponseCode.RequestOutOfRange, () => requestDownload.decodeRequest(bytes('340000000000')));
  rejects(NegativeResponseCode.RequestOutOfRange, () => requestDownload.decodeRequest(bytes('340071000000')));
  rejects(NegativeResponseCode.IncorrectMessageLengthOrInvalidFormat, () => requestDownload.decodeRequest(bytes('34004408000000001000')));
  rejects(NegativeResponseCode.IncorrectMessageLengthOrInvalidFormat, () => requestDownload.decodeRequest(bytes('340044')));
  assert.throws(() => requestDownload.decodeResponse(bytes('7400')), UdsResponseError);
  assert.throws(() => requestDownload.decodeResponse(bytes('74200002')), UdsResponseError, 'no room for data');
  assert.throws(() => requestDownload.encodeRequest({ dataFormat: 0, memoryAddress: 0x1_0000, memorySize: 1, addressLength: 2 }), UdsRequestError);
});

test('0x36 TransferData and 0x37 RequestTransferExit', () => {
  roundTrip(transferData, { blockSequenceCounter: 0xff, data: bytes('010203') }, '36ff010203', { blockSequenceCounter: 0xff, data: new Uint8Array(0) }, '76ff');
  rejects(NegativeResponseCode.IncorrectMessageLengthOrInvalidFormat, () => transferData.decodeRequest(bytes('36')));
  assert.throws(() => transferData.decodeResponse(bytes('7602'), { blockSequenceCounter: 1, data: bytes('00') }), UdsResponseError);
  roundTrip(requestTransferExit, { data: new Uint8Array(0) }, '37', { data: bytes('c0ffee') }, '77c0ffee');
});

test('0x3E TesterPresent and 0x85 ControlDTCSetting', () => {
  roundTrip(testerPresent, {}, '3e00', { subFunction: 0 }, '7e00');
  assert.equal(hex(testerPresent.encodeRequest({ suppressPositiveResponse: true })), '3e80');
  rejects(NegativeResponseCode.IncorrectMessageLengthOrInvalidFormat, () => testerPresent.decodeRequest(bytes('3e0000')));
  roundTrip(controlDtcSetting, { settingType: DtcSettingType.Off, options: new Uint8Array(0) }, '8502', { settingType: 2 }, 'c502');
  assert.equal(hex(controlDtcSetting.encodeRequest({ settingType: DtcSettingType.On, options: new Uint8Array(0), suppressPositiveResponse: true })), '8581');
});

test('service and NRC names, and one-line descriptions for bus monitors', () => {
  assert.equal(services.size, 13);
  assert.equal(serviceName(0x22), 'ReadDataByIdentifier');
  assert.equal(serviceName(0x19), 'ReadDtcInformation', 'the table also names services canota does not implement');
  assert.equal(serviceName(0x01), undefined);
  assert.equal(nrcName(0x78), 'requestCorrectlyReceivedResponsePending');
  assert.equal(nrcName(0x33), 'securityAccessDenied');
  assert.match(nrcName(0xf3), /vehicleManufacturerSpecific/);
  assert.equal(describeUdsMessage(bytes('22f189')), 'ReadDataByIdentifier request f189');
  assert.equal(describeUdsMessage(bytes('62f18931')), 'ReadDataByIdentifier response f18931');
  assert.equal(describeUdsMessage(bytes('3e80')), 'TesterPresent request sub-function 0x00 (no positive response)');
  assert.equal(describeUdsMessage(bytes('7f3433')), 'negative response to RequestDownload: securityAccessDenied (0x33)');
  assert.equal(describeUdsMessage(bytes('a0')), 'unknown UDS message a0');
});
