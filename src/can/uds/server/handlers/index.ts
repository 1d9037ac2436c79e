import { ServiceId } from '../../service-ids.ts';
import { handleClearDiagnosticInformation } from './clear-diagnostic-information.ts';
import { handleCommunicationControl } from './communication-control.ts';
import { handleControlDtcSetting } from './control-dtc-setting.ts';
import { handleDiagnosticSessionControl } from './diagnostic-session-control.ts';
import { handleEcuReset } from './ecu-reset.ts';
import type { ServiceHandler } from './handler.ts';
import { handleReadDataByIdentifier } from './read-data-by-identifier.ts';
import { handleRequestDownload } from './request-download.ts';
import { handleRequestTransferExit } from './request-transfer-exit.ts';
import { handleRoutineControl } from './routine-control.ts';
import { handleSecurityAccess } from './security-access.ts';
import { handleTesterPresent } from './tester-present.ts';
import { handleTransferData } from './transfer-data.ts';
import { handleWriteDataByIdentifier } from './write-data-by-identifier.ts';

export type { Exchange, ServiceHandler } from './handler.ts';

export const handlers: ReadonlyMap<number, ServiceHandler> = new Map<number, ServiceHandler>([
  [ServiceId.DiagnosticSessionControl, handleDiagnosticSessionControl],
  [ServiceId.EcuReset, handleEcuReset],
  [ServiceId.ClearDiagnosticInformation, handleClearDiagnosticInformation],
  [ServiceId.ReadDataByIdentifier, handleReadDataByIdentifier],
  [ServiceId.SecurityAccess, handleSecurityAccess],
  [ServiceId.CommunicationControl, handleCommunicationControl],
  [ServiceId.WriteDataByIdentifier, handleWriteDataByIdentifier],
  [ServiceId.RoutineControl, handleRoutineControl],
  [ServiceId.RequestDownload, handleRequestDownload],
  [ServiceId.TransferData, handleTransferData],
  [ServiceId.RequestTransferExit, handleRequestTransferExit],
  [ServiceId.TesterPresent, handleTesterPresent],
  [ServiceId.ControlDtcSetting, handleControlDtcSetting],
]);
