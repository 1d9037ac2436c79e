/**
 * Why a download cycle failed. The agent returns it in a `failed` outcome, logs it and decides from it
 * whether another try can help; the CLI turns any of them into exit code 1.
 */
export type FailureReason =
  /** Connection refused, reset or closed early, DNS failure. */
  | 'connection'
  /** No answer (connect or response headers) within the timeout. */
  | 'timeout'
  /** The body came in slower than `minSpeed` bytes/s for `stallTimeout` seconds. */
  | 'stalled'
  /** The server answered 5xx. */
  | 'server-error'
  /** The server asks us to slow down (429). */
  | 'rate-limited'
  /** The server will not serve this client at all (401/403 outside a download: IP allowlist, token). */
  | 'forbidden'
  /** The server refused the nonce (403): missing, used or expired. */
  | 'nonce-rejected'
  /** The announced file is not on the server (404). */
  | 'not-found'
  /** An answer that breaks the protocol: bad JSON, unexpected status, bad Content-Range, unsafe file name. */
  | 'bad-response'
  /** The body was shorter or longer than announced (a longer one is cut off: endless-data attack). */
  | 'length-mismatch'
  /** The bytes do not hash to the announced SHA-256. */
  | 'hash-mismatch'
  /** The pluggable verification step (e.g. a manifest signature) rejected the file. */
  | 'verification-failed'
  /** The local disk failed us: cannot write the state dir or the download dir. */
  | 'storage'
  /** Another client process holds the state dir. */
  | 'locked'
  /** Stopped through the AbortSignal. */
  | 'aborted';

/** Reasons where another try (fresh nonce, resume from disk) may succeed. */
const retryableReasons: ReadonlySet<FailureReason> = new Set<FailureReason>([
  'connection', 'timeout', 'stalled', 'server-error', 'rate-limited', 'nonce-rejected', 'not-found', 'bad-response',
  'length-mismatch', 'hash-mismatch',
]);

/** The client layer's one error type: every failure carries a reason the agent can act on. */
export class ClientError extends Error {
  override name = 'ClientError';
  readonly reason: FailureReason;
  /** HTTP status when the failure came from a server answer. */
  readonly status: number | undefined;

  constructor(reason: FailureReason, message: string, options: { cause?: unknown; status?: number } = {}) {
    super(message, { cause: options.cause });
    this.reason = reason;
    this.status = options.status;
  }

  get retryable(): boolean {
    return retryableReasons.has(this.reason);
  }
}
