import { DiagnosticSessionType } from '../services/diagnostic-session-control.ts';

/**
 * The active diagnostic session and S3server: a non-default session ends by itself when no request
 * arrives for S3 (ISO 14229-2 §7.2), paused while a request is being processed.
 */
export class SessionState {
  #session: number = DiagnosticSessionType.Default;
  readonly #s3Ms: number;
  readonly #onChange: (session: number, previous: number) => void;
  #timer: NodeJS.Timeout | undefined;

  constructor(s3Ms: number, onChange: (session: number, previous: number) => void) {
    this.#s3Ms = s3Ms;
    this.#onChange = onChange;
  }

  get current(): number {
    return this.#session;
  }

  get isDefault(): boolean {
    return this.#session === DiagnosticSessionType.Default;
  }

  change(session: number): void {
    const previous = this.#session;
    this.#session = session;
    this.#onChange(session, previous);
  }

  /** A request arrived: S3 stops until the response is out. */
  pause(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  /** A response went out (or none was due): S3 restarts in a non-default session. */
  restart(): void {
    this.pause();
    if (this.isDefault) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      if (!this.isDefault) this.change(DiagnosticSessionType.Default);
    }, this.#s3Ms);
    this.#timer.unref();
  }

  stop(): void {
    this.pause();
  }
}
