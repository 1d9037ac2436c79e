import type { KeyObject } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { join } from 'node:path';
import type { Bus } from '../../can/bus/bus.ts';
import type { UdsClientOptions } from '../../can/uds/index.ts';
import { compareFirmwareVersions } from '../../client/index.ts';
import { pause, pollDelayMs } from '../../client/schedule.ts';
import { parsePublicKey } from '../../crypto/ed25519.ts';
import type { Logger } from '../../logging/logger.ts';
import type { ApprovalDecision } from '../cgw/approval-client.ts';
import type { ApprovalOfferInput, UpdateProgress } from '../cgw/approval-protocol.ts';
import type { VehicleConfig } from '../config.ts';
import { securitySecretBytes } from '../ecu/protocol.ts';
import { ecuByName } from '../network.ts';
import { campaignId, describeCampaign, isKnownEcu, offerFor, planCampaign, type Candidate } from './campaign.ts';
import { DriverApproval } from './driver-approval.ts';
import { DownloadFailedError, ReleaseRejectedError, ServerApiError } from './errors.ts';
import type { FlashPhase } from './flash-errors.ts';
import { FlashSession, type FlashProgress } from './flash-session.ts';
import { InstalledVersions } from './installed-versions.ts';
import { install, type InstallStep } from './installation.ts';
import type { LocalTarget } from './local-target.ts';
import { ReleaseDownloads, type DownloadSettings } from './release-downloads.ts';
import { ReportOutbox } from './report-outbox.ts';
import { ServerApi, type AnnouncedRelease, type ReportedEcu, type VehicleReport } from './server-api.ts';
import { TesterLinks } from './tester-links.ts';
import { TmuStateFile, type Campaign, type CampaignTarget, type TargetStatus, type TmuPhase, type TmuState } from './tmu-state.ts';
import { RemoteTarget, reportedEcu, type UpdateTarget } from './update-target.ts';
import { reportOf, resultOf } from './vehicle-report.ts';

export interface TmuOptions {
  config: VehicleConfig;
  /** The vehicle's state dir; the TMU keeps its own state in `<stateDir>/tmu/`. */
  stateDir: string;
  /** The TMU's node on its segment (CAN-T); stays the caller's. */
  bus: Bus;
  /** The TMU's own banks. */
  local: LocalTarget;
  /** The download client's options (`--server`, `--token`, `--interval`, `--max-retry`, …). */
  download: DownloadSettings;
  /** A declined or failed campaign is offered again only for newer releases, or after this long. Default one day. */
  reofferAfterSeconds?: number;
  /** How often the driver's decision is polled. Default 1 s (docs/vehicle-protocol.md). */
  approvalPollMs?: number;
  /** Programming tries per ECU. Default 3. */
  maxTransferTries?: number;
  /** How long an ECU may take to answer after its reset. Default 15 s. */
  rebootTimeoutMs?: number;
  /** Update attempts of one campaign (restarts in the middle count) before it is given up. Default 3. */
  maxUpdateAttempts?: number;
  udsClient?: UdsClientOptions;
  logger?: Logger;
}

export interface TmuEvents {
  phase: [TmuPhase, Campaign | null];
  /** Flashing progress per ECU, as the HMI is told. */
  progress: [UpdateProgress];
  /** An ECU's step in the update changed (emitted before the state is saved). */
  'target-status': [string, TargetStatus];
  report: [VehicleReport];
}

const CGW_PHASES: Partial<Record<FlashPhase, string>> = {
  erase: 'erasing', download: 'programming', check: 'checking', reset: 'resetting', rollback: 'rolling-back',
};
const STATUS_PHASES: Partial<Record<TargetStatus, string>> = {
  programmed: 'waiting', activated: 'done', installed: 'done', failed: 'failed', 'rolled-back': 'rolled-back',
};

/**
 * The telematics unit: the vehicle's update master. Each poll it asks the server for the newest release
 * of each ECU, compares them with what the ECUs run, downloads what is newer (the download agent: nonce,
 * resume, SHA-256, the release manifest's signature), offers the campaign to the driver through the CGW,
 * and once approved installs it all-or-nothing over UDS (itself on its own banks), then reports to the
 * server and ends the approval. Every step is a persisted state (tmu-state.ts), so a kill -9 anywhere
 * resumes where it stopped; the ECUs' banks, not the TMU's memory, say what is installed.
 */
export class Tmu extends EventEmitter<TmuEvents> {
  readonly config: VehicleConfig;
  readonly directory: string;
  readonly server: ServerApi;
  readonly #options: TmuOptions;
  readonly #logger: Logger | undefined;
  readonly #stateFile: TmuStateFile;
  readonly #downloads: ReleaseDownloads;
  readonly #outbox: ReportOutbox;
  readonly #links: TesterLinks;
  readonly #approval: DriverApproval;
  readonly #versions: InstalledVersions;
  readonly #trustedKeys: readonly KeyObject[];
  #state: TmuState;
  #logged = new Map<string, string>();
  #closed = false;

  private constructor(options: TmuOptions, state: TmuState) {
    super();
    this.#options = options;
    this.config = options.config;
    this.#logger = options.logger;
    this.directory = join(options.stateDir, 'tmu');
    this.#stateFile = new TmuStateFile(this.directory);
    this.#state = state;
    this.#trustedKeys = options.config.trustedKeys.map((key) => parsePublicKey(key));
    const { download } = options;
    this.server = new ServerApi({
      server: download.server, token: download.token, ca: download.ca, timeoutMs: (download.timeoutSeconds ?? 30) * 1000,
    });
    this.#downloads = new ReleaseDownloads({
      directory: join(this.directory, 'downloads'), settings: download, trustedKeys: this.#trustedKeys, logger: options.logger,
    });
    this.#outbox = new ReportOutbox(join(this.directory, 'reports'), options.logger);
    this.#links = new TesterLinks(options.config, options.bus, options.udsClient);
    const gateway = ecuByName(options.config, options.config.gateway.ecu);
    this.#approval = new DriverApproval(this.#links.client(gateway.name), securitySecretBytes(gateway.securitySecret), options.logger);
    this.#versions = new InstalledVersions({
      config: options.config, bus: options.bus, clientFor: (ecu) => this.#links.client(ecu),
      localVersion: () => options.local.version, ...(options.logger ? { logger: options.logger } : {}),
    });
  }

  /** Loads the TMU's state (a campaign still being downloaded or offered is planned again). */
  static async start(options: TmuOptions): Promise<Tmu> {
    const file = new TmuStateFile(join(options.stateDir, 'tmu'));
    const { state, damaged } = await file.load();
    if (damaged) options.logger?.error(damaged);
    const tmu = new Tmu(options, state);
    if (state.phase === 'downloading' || state.phase === 'verified') {
      // Planned again from the server's current answer; the downloads resume from their partial files.
      await tmu.#save({ phase: 'idle', campaign: null });
    } else if (state.phase !== 'idle') {
      options.logger?.info({ phase: state.phase, campaign: state.campaign?.id }, `TMU resumes campaign ${state.campaign?.id} (${state.phase})`);
    }
    return tmu;
  }

  get state(): TmuState {
    return structuredClone(this.#state);
  }

  get outbox(): ReportOutbox {
    return this.#outbox;
  }

  /** Polls every `--interval` seconds (±10 %) until `signal` aborts. */
  async run(signal: AbortSignal): Promise<void> {
    const interval = this.#options.download.intervalSeconds ?? 10;
    while (!signal.aborted) {
      await this.cycle(signal);
      if (!await pause(pollDelayMs(interval * 1000), signal)) break;
    }
  }

  /**
   * One poll: send waiting reports, then move the update on as far as it goes now (plan, download,
   * offer, wait for the driver, install, report). Never throws: a failed step is logged and tried again
   * at the next poll from the saved state.
   */
  async cycle(signal: AbortSignal): Promise<void> {
    try {
      await this.#flushReports(signal);
      for (let steps = 0; steps < 10 && !signal.aborted; steps++) {
        const before = this.#state.phase;
        switch (before) {
          case 'idle': await this.#plan(signal); break;
          case 'downloading': await this.#download(signal); break;
          case 'verified': await this.#offer(); break;
          case 'awaiting-approval': await this.#awaitDecision(signal); break;
          case 'updating': await this.#update(signal); break;
          case 'reporting': await this.#report(signal); break;
        }
        if (this.#state.phase === before || this.#state.phase === 'idle') return;
      }
    } catch (error) {
      if (signal.aborted) return;
      const { phase, campaign } = this.#state;
      this.#logger?.error({ err: error, phase, campaign: campaign?.id }, `TMU ${phase} step failed: ${(error as Error).message}; trying again at the next poll`);
    }
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#versions.close();
    await this.#approval.close();
    this.#links.close();
    await this.#downloads.close();
    await this.server.close();
  }

  // ---- idle: what is new? -------------------------------------------------------------------------

  async #plan(signal: AbortSignal): Promise<void> {
    const candidates = await this.#candidates(signal);
    if (!candidates || candidates.length === 0) return;
    const campaign = planCampaign(this.config, candidates);
    const deferral = this.#state.deferred[campaign.id];
    if (deferral && Date.parse(deferral.until) > Date.now()) {
      this.#logOnce(`deferred:${campaign.id}`, 'info', { campaign: campaign.id, reason: deferral.reason, until: deferral.until },
        `campaign ${campaign.id} (${describeCampaign(campaign)}) was ${deferral.reason}; not offered again before ${deferral.until}`);
      return;
    }
    this.#logger?.info({ campaign: campaign.id, ecus: campaign.targets.map((t) => t.ecu) },
      `new releases: campaign ${campaign.id} (${describeCampaign(campaign)})`);
    await this.#save({ phase: 'downloading', campaign });
  }

  /** The releases newer than what their ECUs run; null when the server could not be asked. */
  async #candidates(signal: AbortSignal): Promise<Candidate[] | null> {
    let latest;
    try {
      latest = await this.server.latestReleases(signal);
    } catch (error) {
      if (signal.aborted) return null;
      if (!(error instanceof ServerApiError)) throw error;
      this.#logOnce('server', 'warn', { failure: error.failure }, `cannot ask the server for releases: ${error.message}`);
      return null;
    }
    this.#logged.delete('server');
    for (const skipped of latest.skipped) {
      this.#logOnce(`skipped:${skipped.filename}`, 'warn', { filename: skipped.filename }, `ignoring release ${skipped.filename}: ${skipped.reason}`);
    }
    let announced: AnnouncedRelease[] = latest.releases;
    if (latest.source === 'latest_version') {
      // The seed's route names only the newest upload overall: remember each ECU's newest seen so far.
      const known = { ...this.#state.known };
      for (const release of latest.releases) known[release.ecu] = release;
      if (JSON.stringify(known) !== JSON.stringify(this.#state.known)) await this.#save({ known });
      announced = Object.values(known);
    } else if (Object.keys(this.#state.known).length > 0) {
      await this.#save({ known: {} });
    }
    const candidates: Candidate[] = [];
    const running: Record<string, string | null> = {};
    for (const release of announced) {
      const { ecu } = release;
      if (!isKnownEcu(this.config, ecu)) {
        this.#logOnce(`unknown-ecu:${release.release.sha256}`, 'warn', { ecu, filename: release.release.filename },
          `release ${release.release.filename} is for ECU ${ecu}, which this vehicle does not have`);
        continue;
      }
      const installed = await this.#versions.read(ecu, signal);
      running[ecu] = installed.version;
      if (installed.version === null) {
        this.#logOnce(`unknown-version:${ecu}`, 'info', { ecu },
          `${ecu} does not tell its version (no status frame, no answer): nothing is offered to it for now`);
        continue;
      }
      const order = compareFirmwareVersions(release.firmwareVersion, installed.version);
      if (order < 0) {
        this.#logOnce(`downgrade:${release.release.sha256}`, 'warn', { ecu, installed: installed.version, release: release.firmwareVersion },
          `refusing downgrade of ${ecu} from ${installed.version} to ${release.firmwareVersion} (possible rollback attack)`);
      } else if (order > 0) {
        candidates.push({ announced: release, from: installed.version });
      }
    }
    if (candidates.length === 0) this.#logOnce(`up-to-date:${JSON.stringify(running)}`, 'info', { ecus: running }, 'up to date');
    return candidates;
  }

  // ---- downloading → verified ---------------------------------------------------------------------

  async #download(signal: AbortSignal): Promise<void> {
    const campaign = this.#campaign();
    for (const target of campaign.targets) {
      if (target.status === 'downloaded' && target.path) continue;
      try {
        const downloaded = await this.#downloads.fetch(announcedOf(target), signal);
        target.path = downloaded.path;
        target.manifest = downloaded.manifest;
        target.release = { ...target.release, size: downloaded.size };
        target.status = 'downloaded';
        await this.#save({ campaign });
      } catch (error) {
        if (signal.aborted) throw error;
        const refused = error instanceof ReleaseRejectedError ||
          (error instanceof DownloadFailedError && error.reason === 'verification-failed');
        if (!refused) {
          this.#logger?.warn({ campaign: campaign.id, ecu: target.ecu, err: error },
            `campaign ${campaign.id}: ${(error as Error).message}; trying again at the next poll`);
          await this.#save({ phase: 'idle', campaign: null });
          return;
        }
        target.status = 'failed';
        target.error = (error as Error).message;
        this.#logger?.error({ campaign: campaign.id, ecu: target.ecu }, `campaign ${campaign.id}: refusing the release: ${target.error}`);
        await this.#save({
          phase: 'reporting', deferred: this.#deferral(campaign.id, 'failed'),
          campaign: { ...campaign, outcome: 'failed', message: target.error },
        });
        return;
      }
    }
    campaign.offer = offerFor(this.config, campaign);
    this.#logger?.info({ campaign: campaign.id }, `campaign ${campaign.id}: downloaded and verified`);
    await this.#save({ phase: 'verified', campaign });
  }

  // ---- verified → awaiting-approval → updating ----------------------------------------------------

  async #offer(): Promise<void> {
    const campaign = this.#campaign();
    await this.#approval.present(this.#offerOf(campaign));
    this.#logger?.info({ campaign: campaign.id, offer: campaign.offer }, `campaign ${campaign.id}: offered to the driver (${describeCampaign(campaign)})`);
    await this.#save({ phase: 'awaiting-approval' });
  }

  /**
   * Waits for the driver. Meanwhile, every poll interval, reports still go out (a driver may take hours)
   * and the server is asked again: newer releases that make another campaign withdraw this offer.
   */
  async #awaitDecision(signal: AbortSignal): Promise<void> {
    const campaign = this.#campaign();
    const decision = await this.#approval.decision(this.#offerOf(campaign), {
      signal, pollMs: this.#options.approvalPollMs,
      keepWaiting: { everyMs: (this.#options.download.intervalSeconds ?? 10) * 1000, check: () => this.#stillCurrent(campaign, signal) },
    });
    if (decision) await this.#decided(campaign, decision);
  }

  /** False (after withdrawing the offer) when newer releases make another campaign. */
  async #stillCurrent(campaign: Campaign, signal: AbortSignal): Promise<boolean> {
    await this.#flushReports(signal);
    const candidates = await this.#candidates(signal);
    if (!candidates || candidates.length === 0) return true;
    const id = campaignId(candidates.map((c) => ({ ecu: c.announced.ecu, sha256: c.announced.release.sha256 })));
    if (id === campaign.id) return true;
    this.#logger?.info({ campaign: campaign.id, replacement: id }, `campaign ${campaign.id}: withdrawn, newer releases make campaign ${id}`);
    await this.#approval.withdraw(`withdrawn: campaign ${id} replaces it`);
    await this.#save({ phase: 'idle', campaign: null });
    return false;
  }

  async #decided(campaign: Campaign, decision: ApprovalDecision): Promise<void> {
    switch (decision.state) {
      case 'approved':
        this.#logger?.info({ campaign: campaign.id }, `campaign ${campaign.id}: approved by the driver`);
        await this.#save({ phase: 'updating' });
        return;
      case 'declined': {
        const deferred = this.#deferral(campaign.id, 'declined');
        const until = deferred[campaign.id]!.until;
        this.#logger?.info({ campaign: campaign.id, until }, `campaign ${campaign.id}: declined by the driver; not offered again before ${until} unless newer releases come`);
        await this.#save({
          phase: 'reporting', deferred,
          campaign: { ...campaign, outcome: 'declined', message: 'the driver declined the update' },
        });
        return;
      }
      case 'postponed': {
        const until = new Date(Date.now() + decision.retryAfterSeconds * 1000).toISOString();
        this.#logger?.info({ campaign: campaign.id, until, seconds: decision.retryAfterSeconds },
          `campaign ${campaign.id}: postponed by the driver for ${decision.retryAfterSeconds} s`);
        await this.#save({
          phase: 'reporting', deferred: { ...this.#state.deferred, [campaign.id]: { reason: 'postponed', until } },
          campaign: { ...campaign, outcome: 'postponed', message: `the driver postponed the update until ${until}` },
        });
        return;
      }
    }
  }

  /** The campaign's offer, made once and kept: offering again after a restart sends the very same bytes. */
  #offerOf(campaign: Campaign): ApprovalOfferInput {
    campaign.offer ??= offerFor(this.config, campaign);
    return campaign.offer;
  }

  // ---- updating → reporting -----------------------------------------------------------------------

  async #update(signal: AbortSignal): Promise<void> {
    let campaign = this.#campaign();
    campaign.attempts += 1;
    await this.#save({ campaign });
    const maxAttempts = this.#options.maxUpdateAttempts ?? 3;
    if (campaign.attempts > maxAttempts) {
      const message = `gave up after ${maxAttempts} update attempts`;
      this.#logger?.error({ campaign: campaign.id }, `campaign ${campaign.id}: ${message}`);
      await this.#save({ phase: 'reporting', campaign: { ...campaign, outcome: 'failed', message } });
      return;
    }
    if (campaign.attempts > 1 || this.#approval.offered !== campaign.id) {
      // Resumed after a restart: the CGW (maybe restarted too) must approve again before the firewall opens.
      const decision = await this.#approval.decision(this.#offerOf(campaign), { signal, pollMs: this.#options.approvalPollMs });
      if (!decision) return;
      if (decision.state !== 'approved') {
        await this.#decided(campaign, decision);
        return;
      }
    }
    this.#logger?.info({ campaign: campaign.id, attempt: campaign.attempts }, `campaign ${campaign.id}: updating ${describeCampaign(campaign)}`);
    this.#approval.relay.reset();
    const steps = campaign.targets.map((target): InstallStep => ({
      target: this.#targetFor(target.ecu, signal),
      image: { path: target.path! },
      manifest: target.manifest!,
      to: target.to,
      sha256: target.release.sha256,
    }));
    const result = await install(steps, {
      maxTries: this.#options.maxTransferTries ?? 3,
      signal,
      logger: this.#logger,
      onStatus: async (ecu, status, error) => {
        const target = campaign.targets.find((t) => t.ecu === ecu)!;
        target.status = status;
        target.percent = status === 'programmed' || status === 'activated' || status === 'installed' ? 100 : target.percent;
        if (error) target.error = error;
        else delete target.error;
        this.emit('target-status', ecu, status);
        const phase = STATUS_PHASES[status];
        if (phase) this.#approval.relay.report({ ecu, phase, percent: 100, ...(error ? { message: error.slice(0, 500) } : {}) });
        await this.#save({ campaign });
      },
    });
    this.#setLocalProgress(undefined);
    campaign = this.#campaign();
    for (const [ecu, outcome] of Object.entries(result.targets)) {
      const target = campaign.targets.find((t) => t.ecu === ecu)!;
      if (outcome.refused) await this.#downloads.discard(ecu, target.path);
    }
    await this.#approval.relay.settle();
    const level = result.outcome === 'success' ? 'info' : 'error';
    this.#logger?.[level]({ campaign: campaign.id, outcome: result.outcome, targets: result.targets },
      `campaign ${campaign.id}: ${result.outcome}: ${result.message}`);
    const deferred = result.outcome === 'success' ? this.#state.deferred : this.#deferral(campaign.id, 'failed');
    await this.#save({ phase: 'reporting', deferred, campaign: { ...campaign, outcome: result.outcome, message: result.message } });
  }

  #targetFor(ecu: string, signal: AbortSignal): UpdateTarget {
    const onProgress = (progress: FlashProgress) => this.#flashProgress(progress);
    if (ecu === this.config.tester) {
      this.#setLocalProgress(onProgress);
      return this.#options.local;
    }
    const session = new FlashSession({
      client: this.#links.client(ecu), ecu: ecuByName(this.config, ecu), onProgress, signal,
      ...(this.#options.rebootTimeoutMs !== undefined ? { rebootTimeoutMs: this.#options.rebootTimeoutMs } : {}),
    });
    const target = new RemoteTarget(session);
    if (ecu !== this.config.gateway.ecu) return target;
    // Flashing or resetting the gateway: its approval routines are away meanwhile (see ProgressRelay).
    const relay = this.#approval.relay;
    const paused = async <T>(action: () => Promise<T>): Promise<T> => {
      relay.pause();
      try {
        return await action();
      } finally {
        relay.resume();
      }
    };
    return {
      ecu,
      bootState: () => target.bootState(),
      program: (image, manifest) => paused(() => target.program(image, manifest)),
      activate: () => paused(() => target.activate()),
      rollback: () => paused(() => target.rollback()),
    };
  }

  #setLocalProgress(listener: ((progress: FlashProgress) => void) | undefined): void {
    this.#options.local.onProgress = listener;
  }

  #lastProgress = new Map<string, string>();

  #flashProgress(progress: FlashProgress): void {
    const phase = CGW_PHASES[progress.phase];
    if (!phase) return;
    const update: UpdateProgress = { ecu: progress.ecu, phase, percent: progress.percent };
    this.emit('progress', update);
    this.#approval.relay.report(update);
    // A log line per phase and per 10 % of a download.
    const key = `${phase}:${Math.floor(progress.percent / 10)}`;
    if (this.#lastProgress.get(progress.ecu) === key) return;
    this.#lastProgress.set(progress.ecu, key);
    this.#logger?.info({ ecu: progress.ecu, phase, percent: progress.percent, bytes: progress.bytes, total: progress.total }, 'flashing');
  }

  // ---- reporting → idle ---------------------------------------------------------------------------

  async #report(signal: AbortSignal): Promise<void> {
    let campaign = this.#campaign();
    const outcome = campaign.outcome ?? 'failed';
    const ecus = await this.#describeEcus();
    if (!campaign.reportFile) {
      const report = reportOf(campaign, outcome, ecus);
      campaign = { ...campaign, reportFile: await this.#outbox.add(report) };
      await this.#save({ campaign });
      this.emit('report', report);
    }
    await this.#flushReports(signal);
    // The approval ends with the result (closing the firewall) only for an update that was approved.
    if (campaign.attempts > 0 && (outcome === 'success' || outcome === 'failed' || outcome === 'rolled-back')) {
      const results: Record<string, { outcome: string; version?: string; message?: string }> = {};
      for (const target of campaign.targets) {
        const version = ecus[target.ecu]?.version;
        results[target.ecu] = {
          outcome: resultOf(target.status), ...(version ? { version } : {}), ...(target.error ? { message: target.error.slice(0, 500) } : {}),
        };
      }
      try {
        await this.#approval.finish({ outcome, ecus: results, message: (campaign.message ?? '').slice(0, 2000) });
      } catch (error) {
        this.#logger?.warn({ err: error, campaign: campaign.id }, `campaign ${campaign.id}: could not tell the CGW the result`);
      }
    }
    await this.#save({ phase: 'idle', campaign: null });
    this.#logger?.info({ campaign: campaign.id, outcome }, `campaign ${campaign.id} reported: ${outcome}`);
  }

  /** Every ECU as it runs now: its boot state over UDS where it answers, else its status frame. */
  async #describeEcus(): Promise<Record<string, ReportedEcu>> {
    const ecus: Record<string, ReportedEcu> = {};
    for (const ecu of this.config.ecus) {
      if (ecu.name === this.config.tester) {
        ecus[ecu.name] = reportedEcu(await this.#options.local.bootState());
        continue;
      }
      try {
        ecus[ecu.name] = reportedEcu(await this.#links.bootState(ecu.name));
      } catch {
        const heard = this.#versions.lastHeard(ecu.name);
        ecus[ecu.name] = { version: heard?.version ?? null, sha256: null, active_bank: heard?.activeBank ?? null, state: heard ? 'Running' : 'unknown' };
      }
    }
    return ecus;
  }

  async #flushReports(signal: AbortSignal): Promise<void> {
    try {
      await this.#outbox.flush(this.server, this.config.vin, signal);
    } catch (error) {
      this.#logger?.warn({ err: error }, `cannot send the waiting reports: ${(error as Error).message}`);
    }
  }

  // ---- state --------------------------------------------------------------------------------------

  /** The deferrals with `id` added: not offered again for `--reoffer-after` seconds (unless newer releases make another campaign). */
  #deferral(id: string, reason: 'declined' | 'failed'): TmuState['deferred'] {
    const until = new Date(Date.now() + (this.#options.reofferAfterSeconds ?? 86_400) * 1000).toISOString();
    return { ...this.#state.deferred, [id]: { reason, until } };
  }

  #campaign(): Campaign {
    const campaign = this.#state.campaign;
    if (!campaign) throw new Error(`TMU state ${this.#state.phase} without a campaign`);
    return campaign;
  }

  async #save(changes: Partial<Omit<TmuState, 'format' | 'updatedAt'>>): Promise<void> {
    const previous = this.#state.phase;
    const now = Date.now();
    // Deferrals that ended are forgotten.
    const deferred = Object.fromEntries(Object.entries(changes.deferred ?? this.#state.deferred).filter(([, d]) => Date.parse(d.until) > now));
    this.#state = { ...this.#state, ...changes, deferred, updatedAt: new Date(now).toISOString() };
    await this.#stateFile.save(this.#state);
    if (this.#state.phase !== previous) {
      this.#logger?.debug({ from: previous, to: this.#state.phase, campaign: this.#state.campaign?.id }, 'TMU state');
      this.emit('phase', this.#state.phase, this.#state.campaign);
    }
  }

  /** Repeated conditions (every poll) log once; a change logs again. */
  #logOnce(key: string, level: 'info' | 'warn', fields: object, message: string): void {
    const kind = key.split(':')[0]!;
    if (this.#logged.get(kind) === key) return;
    this.#logged.set(kind, key);
    this.#logger?.[level](fields, message);
  }
}

function announcedOf(target: CampaignTarget): AnnouncedRelease {
  return { ecu: target.ecu, firmwareVersion: target.to, notes: target.notes, release: target.release, manifest: target.manifest };
}

