import { ServiceId } from '../service-ids.ts';
import { DiagnosticSessionType as Session } from '../services/diagnostic-session-control.ts';
import { sendKeySubFunction } from '../services/security-access.ts';
import type { SecurityRequirement } from './options.ts';
import type { ServerState } from './state.ts';

export interface Access {
  /** Sessions where allowed; undefined = all. */
  sessions?: ReadonlySet<number>;
  security?: SecurityRequirement | null;
}

export interface ServiceAccess extends Access {
  /** Supported sub-functions (others: 0x12) and where each is allowed (0x7E) — for services with one. */
  subFunctions?: ReadonlyMap<number, Access>;
}

const ALL = undefined;
const NON_DEFAULT = new Set<number>([Session.Programming, Session.ExtendedDiagnostic]);
const PROGRAMMING = new Set<number>([Session.Programming]);

const subFunctions = (entries: [number, Access][]): ReadonlyMap<number, Access> => new Map(entries);

/**
 * Which service, sub-function, session and security level go together: the table behind the general
 * server response behaviour (ISO 14229-1 §7.5, NRCs 0x11, 0x7F, 0x33, 0x12, 0x7E). Typical for an ECU
 * with a flash bootloader: flashing only in the programming session, which can be entered from default
 * or extended; extended not from programming.
 */
export function accessTable(state: ServerState): Map<number, ServiceAccess> {
  const table = new Map<number, ServiceAccess>();
  table.set(ServiceId.DiagnosticSessionControl, {
    sessions: ALL,
    subFunctions: subFunctions([
      [Session.Default, {}],
      [Session.Programming, {}],
      [Session.ExtendedDiagnostic, { sessions: new Set([Session.Default, Session.ExtendedDiagnostic]) }],
    ]),
  });
  if (state.resetTypes.length > 0) {
    const reset = state.options.resetAccess;
    table.set(ServiceId.EcuReset, {
      sessions: reset?.sessions ? new Set(reset.sessions) : ALL,
      security: reset?.security ?? null,
      subFunctions: subFunctions(state.resetTypes.map((type) => [type, {}])),
    });
  }
  table.set(ServiceId.ClearDiagnosticInformation, { sessions: ALL });
  table.set(ServiceId.ReadDataByIdentifier, { sessions: ALL });
  table.set(ServiceId.WriteDataByIdentifier, { sessions: ALL });
  table.set(ServiceId.RoutineControl, {
    sessions: ALL,
    subFunctions: subFunctions([[0x01, {}], [0x02, {}], [0x03, {}]]),
  });
  table.set(ServiceId.TesterPresent, { sessions: ALL, subFunctions: subFunctions([[0x00, {}]]) });
  table.set(ServiceId.CommunicationControl, {
    sessions: NON_DEFAULT, subFunctions: subFunctions([[0x00, {}], [0x01, {}], [0x02, {}], [0x03, {}]]),
  });
  table.set(ServiceId.ControlDtcSetting, { sessions: NON_DEFAULT, subFunctions: subFunctions([[0x01, {}], [0x02, {}]]) });
  if (state.security) {
    const entries: [number, Access][] = [];
    for (const [level, { sessions }] of state.securityLevels) {
      const access = { sessions: sessions ? new Set(sessions) : NON_DEFAULT };
      entries.push([level, access], [sendKeySubFunction(level), access]);
    }
    table.set(ServiceId.SecurityAccess, { sessions: NON_DEFAULT, subFunctions: subFunctions(entries) });
  }
  const download = state.downloadHandlers;
  if (download) {
    const security = download.security !== undefined ? download.security : (state.security ? 'any' : null);
    table.set(ServiceId.RequestDownload, { sessions: PROGRAMMING, security });
    table.set(ServiceId.TransferData, { sessions: PROGRAMMING });
    table.set(ServiceId.RequestTransferExit, { sessions: PROGRAMMING });
  }
  return table;
}
