/** ISO-TP (ISO 15765-2) over a canota Bus: channels, the frame codec, and a passive observer for monitors. */
export { IsoTpChannel, type IsoTpChannelStatistics } from './channel.ts';
export { DEFAULT_TIMEOUTS, type IsoTpChannelOptions, type IsoTpTimeouts, type ResolvedIsoTpOptions } from './options.ts';
export type { ReceiveOptions } from './receive-queue.ts';
export { IsoTpObserver, type IsoTpObservation, type IsoTpObserverOptions } from './observer.ts';
export {
  DEFAULT_PADDING, FlowStatus, MAX_MESSAGE_LENGTH, consecutiveFrameCapacity, decodePdu, decodeStMin, describePdu,
  encodeConsecutiveFrame, encodeFirstFrame, encodeFlowControl, encodeSingleFrame, encodeStMin, firstFrameCapacity,
  frameLayout, framesForPayload, parseFirstFrame, parseFlowControl, parseSingleFrame, singleFrameCapacity,
  type FrameLayout, type IsoTpPdu,
} from './frame-codec.ts';
export * from './errors.ts';
