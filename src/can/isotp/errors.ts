import { errorMessage } from '../../errors/error-message.ts';

/**
 * The ISO-TP layer's errors. Each protocol failure carries the N_Result name of ISO 15765-2 (§8.3.7) so
 * logs and tests speak the standard's language; everything this layer throws on purpose is an IsoTpError.
 */
export type IsoTpResult =
  | 'N_TIMEOUT_A' | 'N_TIMEOUT_Bs' | 'N_TIMEOUT_Cr' | 'N_WRONG_SN' | 'N_INVALID_FS' | 'N_UNEXP_PDU'
  | 'N_WFT_OVRN' | 'N_BUFFER_OVFLW' | 'N_ERROR';

export class IsoTpError extends Error {
  override name = 'IsoTpError';
  readonly result: IsoTpResult;
  constructor(result: IsoTpResult, message: string, options?: ErrorOptions) {
    super(message, options);
    this.result = result;
  }
}

/** The network-layer timers of ISO 15765-2 §9.8 that end a transfer when they run out. */
export type IsoTpTimer = 'N_As' | 'N_Ar' | 'N_Bs' | 'N_Cr';

const timerResult: Record<IsoTpTimer, IsoTpResult> = {
  N_As: 'N_TIMEOUT_A', N_Ar: 'N_TIMEOUT_A', N_Bs: 'N_TIMEOUT_Bs', N_Cr: 'N_TIMEOUT_Cr',
};

const timerMeaning: Record<IsoTpTimer, string> = {
  N_As: 'a frame was not transmitted in time (sender)',
  N_Ar: 'a flow control frame was not transmitted in time (receiver)',
  N_Bs: 'no flow control frame arrived in time',
  N_Cr: 'no consecutive frame arrived in time',
};

export class IsoTpTimeoutError extends IsoTpError {
  override name = 'IsoTpTimeoutError';
  readonly timer: IsoTpTimer;
  readonly timeoutMs: number;
  constructor(timer: IsoTpTimer, timeoutMs: number, context: string) {
    super(timerResult[timer], `ISO-TP ${timer} timeout after ${timeoutMs} ms on ${context}: ${timerMeaning[timer]}`);
    this.timer = timer;
    this.timeoutMs = timeoutMs;
  }
}

/** A consecutive frame with an unexpected sequence number: a frame was lost or duplicated. */
export class IsoTpSequenceError extends IsoTpError {
  override name = 'IsoTpSequenceError';
  constructor(expected: number, received: number, context: string) {
    super('N_WRONG_SN', `ISO-TP wrong sequence number on ${context}: expected ${expected}, got ${received}`);
  }
}

/** A flow control frame with a reserved flow status. */
export class IsoTpInvalidFlowStatusError extends IsoTpError {
  override name = 'IsoTpInvalidFlowStatusError';
  constructor(status: number, context: string) {
    super('N_INVALID_FS', `ISO-TP flow control with invalid flow status ${status} on ${context}`);
  }
}

/** A new message began (SF or FF) while one was still being received; the older one is lost. */
export class IsoTpUnexpectedPduError extends IsoTpError {
  override name = 'IsoTpUnexpectedPduError';
  constructor(context: string, receivedBytes: number, expectedBytes: number) {
    super('N_UNEXP_PDU',
      `ISO-TP reception on ${context} interrupted by a new message after ${receivedBytes} of ${expectedBytes} bytes`);
  }
}

/** The receiver sent more FC.WAIT frames in a row than N_WFTmax allows. */
export class IsoTpWaitLimitError extends IsoTpError {
  override name = 'IsoTpWaitLimitError';
  constructor(limit: number, context: string) {
    super('N_WFT_OVRN', `ISO-TP receiver on ${context} sent more than ${limit} FC.WAIT frames in a row`);
  }
}

/** A message larger than the receiver accepts: the sender got FC.OVFLW, or this receiver refused it. */
export class IsoTpOverflowError extends IsoTpError {
  override name = 'IsoTpOverflowError';
  readonly length: number;
  constructor(message: string, length: number) {
    super('N_BUFFER_OVFLW', message);
    this.length = length;
  }
}

/** `receive()` waited longer than its timeout without a message starting to arrive. */
export class IsoTpReceiveTimeoutError extends IsoTpError {
  override name = 'IsoTpReceiveTimeoutError';
  readonly timeoutMs: number;
  constructor(timeoutMs: number, context: string) {
    super('N_ERROR', `no ISO-TP message started on ${context} within ${timeoutMs} ms`);
    this.timeoutMs = timeoutMs;
  }
}

/** A payload ISO-TP cannot carry (empty, over 4 GiB, multi-frame on a functional address). */
export class IsoTpPayloadError extends IsoTpError {
  override name = 'IsoTpPayloadError';
  constructor(message: string) {
    super('N_ERROR', message);
  }
}

/** Options that no ISO-TP node could run with (ids, block size, STmin, lengths). */
export class IsoTpConfigurationError extends IsoTpError {
  override name = 'IsoTpConfigurationError';
  constructor(message: string) {
    super('N_ERROR', message);
  }
}

/** The channel was closed, or the bus under it failed to transmit. */
export class IsoTpChannelClosedError extends IsoTpError {
  override name = 'IsoTpChannelClosedError';
  constructor(context: string, options?: ErrorOptions) {
    super('N_ERROR', `ISO-TP channel ${context} is closed`, options);
  }
}

export class IsoTpTransmitError extends IsoTpError {
  override name = 'IsoTpTransmitError';
  constructor(context: string, cause: unknown) {
    super('N_ERROR', `ISO-TP transmit on ${context} failed: ${errorMessage(cause)}`, { cause });
  }
}
