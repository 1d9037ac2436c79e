import type { Logger } from '../../../logging/logger.ts';
import { DiagnosticSessionType } from '../services/diagnostic-session-control.ts';
import { ResetType } from '../services/ecu-reset.ts';
import { isValidSecurityLevel } from '../services/security-access.ts';
import { UdsServerConfigurationError } from '../errors.ts';
import { DownloadState } from './download.ts';
import type {
  Addressing, DataIdentifierDefinition, DownloadHandlers, RequestContext, RoutineDefinition, SecurityOptions, UdsServerOptions,
} from './options.ts';
import { SecurityState } from './security.ts';
import { SessionState } from './session.ts';

export interface ResolvedTiming {
  p2Ms: number;
  p2StarMs: number;
  s3Ms: number;
  responsePendingIntervalMs: number;
}

const toMap = <T>(source: Readonly<Record<number, T>> | ReadonlyMap<number, T> | undefined): ReadonlyMap<number, T> =>
  source instanceof Map ? source : new Map(Object.entries(source ?? {}).map(([key, value]) => [Number(key), value as T]));

/** Everything the service handlers share: configuration and the ECU's diagnostic state. */
export class ServerState {
  readonly options: UdsServerOptions;
  readonly timing: ResolvedTiming;
  readonly dids: ReadonlyMap<number, DataIdentifierDefinition>;
  readonly routines: ReadonlyMap<number, RoutineDefinition>;
  readonly securityLevels: ReadonlyMap<number, { sessions?: readonly number[] }>;
  readonly resetTypes: readonly number[];
  readonly download: DownloadState = new DownloadState();
  readonly downloadHandlers: DownloadHandlers | undefined;
  readonly session: SessionState;
  readonly security: SecurityState | null;
  readonly startedRoutines = new Set<number>();
  dtcSettingOn = true;
  communication = { controlType: 0x00, communicationType: 0x03 };
  readonly logger: Logger | undefined;

  constructor(options: UdsServerOptions) {
    this.options = options;
    const p2Ms = options.timing?.p2Ms ?? 50;
    this.timing = {
      p2Ms,
      p2StarMs: options.timing?.p2StarMs ?? 5000,
      s3Ms: options.timing?.s3Ms ?? 5000,
      responsePendingIntervalMs: options.timing?.responsePendingIntervalMs ?? p2Ms,
    };
    this.dids = toMap(options.dids);
    this.routines = toMap(options.routines);
    this.securityLevels = toMap(options.security?.levels ?? (options.security ? { 1: {} } : {}));
    for (const level of this.securityLevels.keys()) {
      if (!isValidSecurityLevel(level)) {
        throw new UdsServerConfigurationError(`security level ${level} is not a requestSeed sub-function (odd, 0x01-0x41)`);
      }
    }
    this.resetTypes = options.resetTypes ?? [ResetType.HardReset, ResetType.KeyOffOnReset, ResetType.SoftReset];
    this.downloadHandlers = options.download;
    this.logger = options.logger;
    this.security = options.security ? new SecurityState(options.security as SecurityOptions, this.logger) : null;
    this.session = new SessionState(this.timing.s3Ms, (session, previous) => this.#sessionChanged(session, previous));
  }

  context(addressing: Addressing): RequestContext {
    return { session: this.session.current, securityLevel: this.security?.unlockedLevel ?? null, addressing };
  }

  /** ECU reset: back to the state after power-up (default session, locked, nothing in progress). */
  reset(): void {
    if (!this.session.isDefault) this.session.change(DiagnosticSessionType.Default);
    else this.#sessionChanged(DiagnosticSessionType.Default, DiagnosticSessionType.Default);
  }

  /**
   * Effects of any session transition (ISO 14229-1 §10.2.1): security is locked again, a download in
   * progress ends; back in default, DTC setting and communication control return to normal.
   */
  #sessionChanged(session: number, previous: number): void {
    this.security?.lock();
    this.download.abort();
    this.startedRoutines.clear();
    if (session === DiagnosticSessionType.Default) {
      this.dtcSettingOn = true;
      this.communication = { controlType: 0x00, communicationType: 0x03 };
    }
    if (session !== previous) this.logger?.info({ session, previous }, 'uds session change');
    try {
      this.options.onSessionChange?.(session, previous);
    } catch (error) {
      this.logger?.warn({ err: error }, 'onSessionChange failed');
    }
  }
}
