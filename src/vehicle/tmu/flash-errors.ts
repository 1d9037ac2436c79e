import { NegativeResponseError } from '../../can/uds/index.ts';
import { errorMessage } from '../../errors/error-message.ts';

/** The steps of flashing one ECU, as progress reports and errors name them. */
export type FlashPhase = 'identify' | 'session' | 'security' | 'erase' | 'download' | 'check' | 'reset' | 'rollback' | 'confirm';

/** Why flashing one ECU failed: always names the ECU and the step. */
export class FlashSessionError extends Error {
  override name = 'FlashSessionError';
  readonly ecu: string;
  readonly step: FlashPhase;
  constructor(ecu: string, step: FlashPhase, message: string, options?: ErrorOptions) {
    super(`${ecu}: ${step} failed: ${message}`, options);
    this.ecu = ecu;
    this.step = step;
  }
}

/** A UDS request of a step failed (negative response, timeout, transport); `cause` is the UdsError. */
export class FlashStepError extends FlashSessionError {
  override name = 'FlashStepError';
  /** The ECU's negative response code, when it answered with one. */
  readonly nrc: number | undefined;
  constructor(ecu: string, step: FlashPhase, cause: unknown) {
    super(ecu, step, errorMessage(cause), { cause });
    this.nrc = cause instanceof NegativeResponseError ? cause.nrc : undefined;
  }
}

/** The ECU's check (0xFF01) refused the image; `reason` is the ECU's own text. */
export class ImageRefusedError extends FlashSessionError {
  override name = 'ImageRefusedError';
  readonly reason: string;
  constructor(ecu: string, reason: string) {
    super(ecu, 'check', `the ECU refused the image: ${reason}`);
    this.reason = reason;
  }
}

/** The ECU did not answer again after a reset within the allowed time. */
export class EcuUnreachableError extends FlashSessionError {
  override name = 'EcuUnreachableError';
}
