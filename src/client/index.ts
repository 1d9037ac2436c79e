/** The download client as a library: what the CLI and the vehicle's TMU use. */
export {
  DownloadAgent,
  type DownloadAgentOptions,
  type DownloadAgentEvents,
  type CycleOutcome,
  type AttemptFailure,
} from './download-agent.ts';
export { ClientError, type FailureReason } from './errors.ts';
export type { Release } from '../ota-http/release.ts';
export type { DownloadProgress } from './progress.ts';
export type { ReleaseVerifier, VerificationInput } from './verification.ts';
export { StateFiles, stateFileNames, type Progress, type DownloadedRelease } from './state-files.ts';
export { compareFirmwareVersions, isDowngrade } from '../firmware/version-order.ts';
