/**
 * The input and output of one decoding step, as in xz-embedded's `struct xz_buf`: the decoder consumes from
 * `input[inPos…]` and produces into `output[outPos…outEnd)`, advancing both positions, and returns when either
 * side is used up; the caller then brings more input or empties the output.
 */
export interface XzBuffers {
  input: Uint8Array;
  inPos: number;
  output: Uint8Array;
  outPos: number;
  outEnd: number;
}

/** The stream is not a valid xz stream, or not one this decoder accepts (the message says which and why). */
export class XzDataError extends Error {
  override name = 'XzDataError';
}
