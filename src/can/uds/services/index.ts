import type { UdsService } from '../service.ts';
import { clearDiagnosticInformation } from './clear-diagnostic-information.ts';
import { communicationControl } from './communication-control.ts';
import { controlDtcSetting } from './control-dtc-setting.ts';
import { diagnosticSessionControl } from './diagnostic-session-control.ts';
import { ecuReset } from './ecu-reset.ts';
import { readDataByIdentifier } from './read-data-by-identifier.ts';
import { requestDownload } from './request-download.ts';
import { requestTransferExit } from './request-transfer-exit.ts';
import { routineControl } from './routine-control.ts';
import { securityAccess } from './security-access.ts';
import { testerPresent } from './tester-present.ts';
import { transferData } from './transfer-data.ts';
import { writeDataByIdentifier } from './write-data-by-identifier.ts';

export * from './clear-diagnostic-information.ts';
export * from './communication-control.ts';
export * from './control-dtc-setting.ts';
export * from './data-format.ts';
export * from './diagnostic-session-control.ts';
export * from './ecu-reset.ts';
export * from './read-data-by-identifier.ts';
export * from './request-download.ts';
export * from './request-transfer-exit.ts';
export * from './routine-control.ts';
export * from './security-access.ts';
export * from './tester-present.ts';
export * from './transfer-data.ts';
export * from './write-data-by-identifier.ts';

/** The services canota implements, by SID. */
export const services: ReadonlyMap<number, UdsService<unknown, unknown>> = new Map(
  ([
    diagnosticSessionControl, ecuReset, clearDiagnosticInformation, readDataByIdentifier, securityAccess, communicationControl,
    writeDataByIdentifier, routineControl, requestDownload, transferData, requestTransferExit, testerPresent, controlDtcSetting,
  ] as UdsService<never, never>[]).map((service) => [service.sid, service as unknown as UdsService<unknown, unknown>]),
);
