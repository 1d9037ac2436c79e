import type { SignedManifest } from '../../crypto/manifest.ts';
import { pause } from '../../timing/schedule.ts';
import type { ApprovalDecision } from '../cgw/approval-client.ts';
import type { ApprovalOfferInput, UpdateResultInput } from '../cgw/approval-protocol.ts';
import type { DecisionOptions } from './driver-approval.ts';
import type { HmiProgress } from './progress-relay.ts';
import type { DownloadedTarget } from './release-downloads.ts';
import type { OutboxFlush, ReportReceiver } from './report-outbox.ts';
import type { AnnouncedRelease, DeploymentProgress, LatestReleases, VehicleReport } from './server-api.ts';
import type { TmuStateStore } from './tmu-state.ts';
import type { VehicleEcus } from './vehicle-ecus.ts';

/**
 * What the TMU is made of, each part behind the few methods the TMU calls: `car.ts` passes the real ones
 * (ServerApi, ReleaseDownloads, DriverApproval, ConnectedEcus, TmuStateFile, ReportOutbox), a test passes
 * fakes, so every phase of the update runs without a network, a CAN bus or a driver (the way aktualizr's
 * `SotaUptaneClient(config, storage, http)` is tested with its `HttpFake`).
 */
export interface TmuParts {
  server: TmuServer;
  downloads: TmuDownloads;
  approval: TmuApproval;
  ecus: VehicleEcus;
  store: TmuStateStore;
  outbox: TmuOutbox;
  /** Default: the system clock and `pause` of the client's schedule. */
  clock?: TmuClock;
}

/** The OTA server's vehicle routes, as the TMU calls them (ServerApi). */
export interface TmuServer extends ReportReceiver {
  /** The newest release of each ECU; ServerApiError when the server cannot be asked. */
  latestReleases(signal?: AbortSignal): Promise<LatestReleases>;
  /** A release's delta from the image `baseSha256`, at most `maxBytes` (ServerApiError otherwise); absent: no deltas. */
  fetchDelta?(releaseId: string, baseSha256: string, maxBytes: number, signal?: AbortSignal): Promise<Uint8Array>;
  /** Where the vehicle is in the server's deployment (best effort); absent: the server keeps no such state. */
  postDeploymentProgress?(vin: string, progress: DeploymentProgress, signal?: AbortSignal): Promise<void>;
  close(): Promise<void>;
}

/** The verified images of releases (ReleaseDownloads). */
export interface TmuDownloads {
  /** Throws DownloadFailedError, ReleaseRejectedError (the manifest), or the signal's reason; `onProgress` hears this fetch. */
  fetch(announced: AnnouncedRelease, signal: AbortSignal, onProgress?: (progress: { percent: number | undefined }) => void): Promise<DownloadedTarget>;
  /** Where fetch() puts the image of `announced`; absent: deltas are only fetched next to a downloaded image. */
  imagePath?(announced: AnnouncedRelease): string;
  /** The release's manifest checked as fetch() checks it before a byte (ReleaseRejectedError). */
  trust?(announced: AnnouncedRelease): SignedManifest;
  /** Forgets an image an ECU refused, so that it is downloaded again. */
  discard(ecu: string, path: string | null): Promise<void>;
  close(): Promise<void>;
}

/** The driver's approval on the CGW (DriverApproval). */
export interface TmuApproval {
  /** The campaign offered in this run (none after a restart). */
  readonly offered: string | undefined;
  /** The update's progress for the HMI. */
  readonly relay: HmiProgress;
  present(offer: ApprovalOfferInput): Promise<void>;
  /** The driver's decision (offering first unless this run did); null when `keepWaiting` ended the wait. */
  decision(offer: ApprovalOfferInput, options: DecisionOptions): Promise<ApprovalDecision | null>;
  /** Ends a pending offer; the HMI shows `message`. */
  withdraw(message: string): Promise<void>;
  /** The update's result: the HMI shows it, the firewall closes. */
  finish(result: UpdateResultInput): Promise<void>;
  close(): Promise<void>;
}

/** The reports not yet accepted by the server (ReportOutbox). */
export interface TmuOutbox {
  /** Keeps `report` until it is sent; resolves with its name in the outbox. */
  add(report: VehicleReport): Promise<string>;
  /** Sends what is waiting, oldest first. */
  flush(receiver: ReportReceiver, vin: string, signal?: AbortSignal): Promise<OutboxFlush>;
}

/** Time as the TMU sees it: deferrals, timestamps, the wait between polls. */
export interface TmuClock {
  /** Milliseconds since the epoch. */
  now(): number;
  /** Resolves true after `ms`, false as soon as `signal` aborts. */
  pause(ms: number, signal: AbortSignal): Promise<boolean>;
}

export const systemClock: TmuClock = { now: () => Date.now(), pause };
