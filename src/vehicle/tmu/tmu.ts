import { EventEmitter } from 'node:events';
import { compareFirmwareVersions } from '../../firmware/version-order.ts';
import { pollDelayMs } from '../../timing/schedule.ts';
import { errorMessage } from '../../errors/error-message.ts';
import type { Logger } from '../../logging/logger.ts';
import type { ApprovalDecision } from '../cgw/approval-client.ts';
import type { ApprovalOfferInput, UpdateProgress } from '../cgw/approval-protocol.ts';
import type { VehicleConfig } from '../config.ts';
import { campaignId, describeCampaign, isKnownEcu, offerFor, planCampaign, withTarget, type Candidate } from './campaign.ts';
import { DeploymentProgressReporter, isDeploymentCampaign } from './deployment-progress.ts';
import { DownloadFailedError, ReleaseRejectedError, ServerApiError } from './errors.ts';
import { fetchDelta, fetchDeltaInstead, imageWithDelta } from './delta-downloads.ts';
import type { FlashPhase } from './flash-errors.ts';
import type { FlashProgress } from './flash-session.ts';
import { abandon, install, type InstallationOptions, type InstallStep, type UnfinishedInstallation } from './installation.ts';
import type { AnnouncedRelease, VehicleReport } from './server-api.ts';
import { systemClock, type TmuApproval, type TmuClock, type TmuDownloads, type TmuOutbox, type TmuParts, type TmuServer } from './tmu-parts.ts';
import type {
  ActiveTmuState, Campaign, CampaignTarget, DecidedCampaign, Deferral, ReportingTmuState, TargetStatus, TmuPhase, TmuState, TmuStateExtras,
  TmuStateStore,
} from './tmu-state.ts';
import type { UpdateTarget } from './update-target.ts';
import type { VehicleEcus } from './vehicle-ecus.ts';
import { reportOf, resultOf } from './vehicle-report.ts';

export type { TmuParts } from './tmu-parts.ts';

/** How the TMU behaves; what it talks to comes as its parts (tmu-parts.ts). */
export interface TmuSettings {
  config: VehicleConfig;
  /** Seconds between polls of the server (`--interval`, ±10 %); also how often it is asked while the driver thinks. Default 10. */
  intervalSeconds?: number;
  /** A declined or failed campaign is offered again only for newer releases, or after this long. Default one day. */
  reofferAfterSeconds?: number;
  /** How often the driver's decision is polled. Default 1 s (docs/vehicle-protocol.md). */
  approvalPollMs?: number;
  /** Programming tries per ECU. Default 3. */
  maxTransferTries?: number;
  /** Update attempts of one campaign (restarts in the middle count) before it is given up. Default 3. */
  maxUpdateAttempts?: number;
  logger?: Logger;
}

export interface TmuEvents {
  phase: [TmuPhase, Campaign | null];
  /** Flashing progress per ECU, as the HMI is told. */
  progress: [UpdateProgress];
  /** An ECU's step in the update changed (emitted once the state says so). */
  'target-status': [string, TargetStatus];
  report: [VehicleReport];
}

/** A state to move to: its phase and campaign, and the deferrals and known releases when they change. */
type Step<S> = S extends TmuState ? Pick<S, 'phase' | 'campaign'> & Partial<TmuStateExtras> : never;
type Transition = Step<TmuState>;

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
 * server and ends the approval. Every step is a persisted state (tmu-state.ts), saved before the TMU
 * acts on it, so a kill -9 anywhere resumes where it stopped; the ECUs' banks, not the TMU's memory, say
 * what is installed. What it talks to is given to it (tmu-parts.ts; `car.ts` wires the real ones).
 */
/** One answer of the server, judged against what the ECUs run. */
interface Poll {
  candidates: Candidate[];
  /** The server's campaign for them (LatestReleases.campaignId). */
  campaignId: string | null | undefined;
  /** Releases refused, and why (a downgrade, an ECU this vehicle does not have). */
  refusals: string[];
  /** How many releases the server announced. */
  announced: number;
}

export class Tmu extends EventEmitter<TmuEvents> {
  readonly config: VehicleConfig;
  readonly #settings: TmuSettings;
  readonly #logger: Logger | undefined;
  readonly #server: TmuServer;
  readonly #downloads: TmuDownloads;
  readonly #approval: TmuApproval;
  readonly #ecus: VehicleEcus;
  readonly #store: TmuStateStore;
  readonly #outbox: TmuOutbox;
  readonly #clock: TmuClock;
  #state: TmuState;
  #logged = new Map<string, string>();
  #lastProgress = new Map<string, string>();
  readonly #deploymentProgress: DeploymentProgressReporter;
  /** Deployment campaigns this run told the server it needs nothing for (up to date, or refused): said once. */
  readonly #settled = new Set<string>();
  #closed = false;

  private constructor(settings: TmuSettings, parts: TmuParts, state: TmuState) {
    super();
    this.#settings = settings;
    this.config = settings.config;
    this.#logger = settings.logger;
    this.#server = parts.server;
    this.#downloads = parts.downloads;
    this.#approval = parts.approval;
    this.#ecus = parts.ecus;
    this.#store = parts.store;
    this.#outbox = parts.outbox;
    this.#clock = parts.clock ?? systemClock;
    this.#deploymentProgress = new DeploymentProgressReporter(parts.server, settings.config.vin, { logger: settings.logger, now: () => this.#clock.now() });
    this.#state = state;
  }

  /**
   * Loads the TMU's state from `parts.store` (a campaign still being downloaded or offered is planned
   * again). The parts are the TMU's from here on: closed with it, or at once if it cannot start.
   */
  static async start(settings: TmuSettings, parts: TmuParts): Promise<Tmu> {
    let tmu: Tmu | undefined;
    try {
      const { state, damaged } = await parts.store.load();
      if (damaged) settings.logger?.error(damaged);
      tmu = new Tmu(settings, parts, state);
      if (state.phase === 'downloading' || state.phase === 'verified') {
        // Planned again from the server's current answer; the downloads resume from their partial files.
        await tmu.#save({ phase: 'idle', campaign: null });
      } else if (state.phase !== 'idle') {
        settings.logger?.info({ phase: state.phase, campaign: state.campaign.id }, `TMU resumes campaign ${state.campaign.id} (${state.phase})`);
      }
      return tmu;
    } catch (error) {
      if (tmu) await tmu.close();
      else await closeParts(parts);
      throw error;
    }
  }

  /** A copy of the state as saved. */
  get state(): TmuState {
    return structuredClone(this.#state);
  }

  get outbox(): TmuOutbox {
    return this.#outbox;
  }

  /** Polls every `intervalSeconds` (±10 %) until `signal` aborts. */
  async run(signal: AbortSignal): Promise<void> {
    const interval = this.#settings.intervalSeconds ?? 10;
    while (!signal.aborted) {
      await this.cycle(signal);
      if (!await this.#clock.pause(pollDelayMs(interval * 1000), signal)) break;
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
        const state = this.#state;
        switch (state.phase) {
          case 'idle': await this.#plan(signal); break;
          case 'downloading': await this.#download(state, signal); break;
          case 'verified': await this.#offer(state); break;
          case 'awaiting-approval': await this.#awaitDecision(state, signal); break;
          case 'updating': await this.#update(state, signal); break;
          case 'reporting': await this.#report(state, signal); break;
        }
        if (this.#state.phase === state.phase || this.#state.phase === 'idle') return;
      }
    } catch (error) {
      if (signal.aborted) return;
      const { phase, campaign } = this.#state;
      this.#logger?.error({ err: error, phase, campaign: campaign?.id }, `TMU ${phase} step failed: ${errorMessage(error)}; trying again at the next poll`);
    }
  }

  /** Closes its parts: the approval first (it talks over the ECUs' links), then the ECUs, downloads, server. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await closeParts({ approval: this.#approval, ecus: this.#ecus, downloads: this.#downloads, server: this.#server });
  }

  // ---- idle: what is new? -------------------------------------------------------------------------

  async #plan(signal: AbortSignal): Promise<void> {
    const poll = await this.#candidates(signal);
    if (!poll) return;
    if (poll.candidates.length === 0) {
      await this.#settleAssigned(poll, signal);
      return;
    }
    const campaign = planCampaign(this.config, poll.candidates, new Date(this.#clock.now()), poll.campaignId ?? undefined);
    const deferral = this.#state.deferred[campaign.id];
    if (deferral && Date.parse(deferral.until) > this.#clock.now()) {
      this.#logOnce(`deferred:${campaign.id}`, 'info', { campaign: campaign.id, reason: deferral.reason, until: deferral.until },
        `campaign ${campaign.id} (${describeCampaign(campaign)}) was ${deferral.reason}; not offered again before ${deferral.until}`);
      return;
    }
    this.#logger?.info({ campaign: campaign.id, ecus: campaign.targets.map((t) => t.ecu) },
      `new releases: campaign ${campaign.id} (${describeCampaign(campaign)})`);
    await this.#save({ phase: 'downloading', campaign });
  }

  /**
   * A deployment assigned this vehicle releases it has nothing to do for: it says so once, so the
   * deployment is not left waiting for it. Up to date: a report (with the ECUs' versions); every release
   * refused (a downgrade, an ECU it does not have): `refused` with the reasons.
   */
  async #settleAssigned(poll: Poll, signal: AbortSignal): Promise<void> {
    const id = poll.campaignId;
    if (!id || !isDeploymentCampaign(id) || this.#settled.has(id) || poll.announced === 0) return;
    this.#settled.add(id);
    if (poll.refusals.length > 0) {
      this.#logger?.warn({ campaign: id, refusals: poll.refusals }, `deployment ${id}: nothing installable: ${poll.refusals.join('; ')}`);
      this.#deploymentProgress.report({ campaign_id: id, state: 'refused', reason: poll.refusals.join('; ').slice(0, 500) });
      return;
    }
    const report: VehicleReport = {
      campaign_id: id, outcome: 'success', ecus: await this.#ecus.describe(), updates: [],
      message: 'already up to date: every ECU runs the assigned version or a newer one', at: new Date(this.#clock.now()).toISOString(),
    };
    await this.#outbox.add(report);
    this.#logger?.info({ campaign: id }, `deployment ${id}: already up to date; reported`);
    this.emit('report', report);
    await this.#flushReports(signal);
  }

  /** The releases newer than what their ECUs run; null when the server could not be asked. */
  async #candidates(signal: AbortSignal): Promise<Poll | null> {
    let latest;
    try {
      latest = await this.#server.latestReleases(signal);
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
      if (JSON.stringify(known) !== JSON.stringify(this.#state.known)) await this.#save({ ...this.#current(), known });
      announced = Object.values(known);
    } else if (Object.keys(this.#state.known).length > 0) {
      await this.#save({ ...this.#current(), known: {} });
    }
    const candidates: Candidate[] = [];
    const refusals: string[] = [];
    const running: Record<string, string | null> = {};
    for (const release of announced) {
      const { ecu } = release;
      if (!isKnownEcu(this.config, ecu)) {
        refusals.push(`${ecu}: this vehicle has no such ECU`);
        this.#logOnce(`unknown-ecu:${release.release.sha256}`, 'warn', { ecu, filename: release.release.filename },
          `release ${release.release.filename} is for ECU ${ecu}, which this vehicle does not have`);
        continue;
      }
      const installed = await this.#ecus.installedVersion(ecu, signal);
      running[ecu] = installed;
      if (installed === null) {
        this.#logOnce(`unknown-version:${ecu}`, 'info', { ecu },
          `${ecu} does not tell its version (no status frame, no answer): nothing is offered to it for now`);
        continue;
      }
      const order = compareFirmwareVersions(release.firmwareVersion, installed);
      if (order < 0) {
        refusals.push(`${ecu}: ${release.firmwareVersion} is older than the installed ${installed} (refused as a possible rollback attack)`);
        this.#logOnce(`downgrade:${release.release.sha256}`, 'warn', { ecu, installed, release: release.firmwareVersion },
          `refusing downgrade of ${ecu} from ${installed} to ${release.firmwareVersion} (possible rollback attack)`);
      } else if (order > 0) {
        candidates.push({ announced: release, from: installed });
      }
    }
    if (candidates.length === 0) this.#logOnce(`up-to-date:${JSON.stringify(running)}`, 'info', { ecus: running }, 'up to date');
    return { candidates, campaignId: latest.campaignId, refusals, announced: announced.length };
  }

  // ---- downloading → verified ---------------------------------------------------------------------

  async #download(state: ActiveTmuState, signal: AbortSignal): Promise<void> {
    let campaign = state.campaign;
    const targets = state.campaign.targets;
    for (const [index, target] of targets.entries()) {
      if (target.status === 'downloaded' && target.path) continue;
      // The campaign's percent: the targets done, plus this one's share as it arrives.
      const overall = (share: number) => Math.min(100, Math.floor(((index + share) / targets.length) * 100));
      this.#deploymentProgress.report({ campaign_id: campaign.id, state: 'downloading', percent: overall(0) });
      try {
        const announced = announcedOf(target);
        // Only the delta from what the ECU runs, when the server made one: the image follows only if the ECU cannot take it.
        const deltaOnly = await fetchDeltaInstead(this.#server, this.#downloads, { ecu: target.ecu, from: target.from, announced },
          { tester: this.config.tester, logger: this.#logger, signal });
        if (deltaOnly) {
          campaign = withTarget(campaign, target.ecu, (t) => ({
            ...t, path: deltaOnly.path, manifest: deltaOnly.manifest, release: { ...t.release, size: deltaOnly.manifest.signed.size }, status: 'downloaded',
          }));
          await this.#save({ phase: 'downloading', campaign });
          continue;
        }
        const downloaded = await this.#downloads.fetch(announced, signal, ({ percent }) => {
          if (percent !== undefined) this.#deploymentProgress.report({ campaign_id: campaign.id, state: 'downloading', ecu: target.ecu, percent: overall(percent / 100) });
        });
        // A delta from what the ECU runs, when the server made one: sent instead of the image if the ECU takes it.
        await fetchDelta(this.#server, { ecu: target.ecu, from: target.from, manifest: downloaded.manifest, path: downloaded.path }, { logger: this.#logger, signal });
        campaign = withTarget(campaign, target.ecu, (t) => ({
          ...t, path: downloaded.path, manifest: downloaded.manifest, release: { ...t.release, size: downloaded.size }, status: 'downloaded',
        }));
        await this.#save({ phase: 'downloading', campaign });
      } catch (error) {
        if (signal.aborted) throw error;
        const refused = error instanceof ReleaseRejectedError ||
          (error instanceof DownloadFailedError && error.reason === 'verification-failed');
        const message = errorMessage(error);
        if (!refused) {
          this.#logger?.warn({ campaign: campaign.id, ecu: target.ecu, err: error },
            `campaign ${campaign.id}: ${message}; trying again at the next poll`);
          await this.#save({ phase: 'idle', campaign: null });
          return;
        }
        this.#logger?.error({ campaign: campaign.id, ecu: target.ecu }, `campaign ${campaign.id}: refusing the release: ${message}`);
        campaign = withTarget(campaign, target.ecu, (t) => ({ ...t, status: 'failed', error: message }));
        await this.#save({
          phase: 'reporting', deferred: this.#deferral(campaign.id, 'failed'),
          campaign: { ...campaign, outcome: 'failed', message },
        });
        return;
      }
    }
    this.#logger?.info({ campaign: campaign.id }, `campaign ${campaign.id}: downloaded and verified`);
    await this.#save({ phase: 'verified', campaign: { ...campaign, offer: offerFor(this.config, campaign) } });
  }

  // ---- verified → awaiting-approval → updating ----------------------------------------------------

  async #offer(state: ActiveTmuState): Promise<void> {
    const { campaign } = state;
    const offer = this.#offerOf(campaign);
    await this.#approval.present(offer);
    this.#deploymentProgress.report({ campaign_id: campaign.id, state: 'offered' });
    this.#logger?.info({ campaign: campaign.id, offer }, `campaign ${campaign.id}: offered to the driver (${describeCampaign(campaign)})`);
    await this.#save({ phase: 'awaiting-approval', campaign });
  }

  /**
   * Waits for the driver. Meanwhile, every poll interval, reports still go out (a driver may take hours)
   * and the server is asked again: newer releases that make another campaign withdraw this offer.
   */
  async #awaitDecision(state: ActiveTmuState, signal: AbortSignal): Promise<void> {
    const { campaign } = state;
    const decision = await this.#approval.decision(this.#offerOf(campaign), {
      signal, pollMs: this.#settings.approvalPollMs,
      keepWaiting: { everyMs: (this.#settings.intervalSeconds ?? 10) * 1000, check: () => this.#stillCurrent(campaign, signal) },
    });
    if (decision) await this.#decided(campaign, decision);
  }

  /** False (after withdrawing the offer) when newer releases make another campaign. */
  async #stillCurrent(campaign: Campaign, signal: AbortSignal): Promise<boolean> {
    await this.#flushReports(signal);
    const poll = await this.#candidates(signal);
    if (!poll) return true;
    if (isDeploymentCampaign(campaign.id) && poll.campaignId !== undefined && poll.campaignId !== campaign.id) {
      // The server no longer assigns it (its deployment was paused or cancelled, or a newer one took over).
      const reason = poll.campaignId ? `deployment ${poll.campaignId} replaces it` : 'the server no longer assigns it';
      this.#logger?.info({ campaign: campaign.id, replacement: poll.campaignId }, `campaign ${campaign.id}: withdrawn, ${reason}`);
      await this.#approval.withdraw(`withdrawn: ${reason}`);
      await this.#save({ phase: 'idle', campaign: null });
      return false;
    }
    if (poll.candidates.length === 0) return true;
    const id = poll.campaignId ?? campaignId(poll.candidates.map((c) => ({ ecu: c.announced.ecu, sha256: c.announced.release.sha256 })));
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
        await this.#save({ phase: 'updating', campaign });
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
        const until = new Date(this.#clock.now() + decision.retryAfterSeconds * 1000).toISOString();
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

  /** The campaign's offer, saved with it once downloaded: offering again after a restart sends the very same bytes. */
  #offerOf(campaign: Campaign): ApprovalOfferInput {
    return campaign.offer ?? offerFor(this.config, campaign);
  }

  // ---- updating → reporting -----------------------------------------------------------------------

  async #update(state: ActiveTmuState, signal: AbortSignal): Promise<void> {
    let campaign: Campaign = { ...state.campaign, attempts: state.campaign.attempts + 1 };
    await this.#save({ phase: 'updating', campaign });
    const maxAttempts = this.#settings.maxUpdateAttempts ?? 3;
    if (campaign.attempts > maxAttempts) {
      const reason = `gave up after ${maxAttempts} update attempts`;
      this.#logger?.error({ campaign: campaign.id }, `campaign ${campaign.id}: ${reason}`);
      // All or nothing: what earlier attempts switched goes back to its old image. Tried once; if even that
      // is cut short by a restart, the next start reports the campaign as it stands.
      let result: Pick<UnfinishedInstallation, 'outcome' | 'message'> = { outcome: 'failed', message: reason };
      if (campaign.attempts === maxAttempts + 1) {
        const track = this.#statusTracker(campaign);
        result = await abandon(this.#stepsOf(campaign, signal), reason, { signal, logger: this.#logger, onStatus: track.onStatus });
        campaign = track.campaign();
      }
      await this.#save({
        phase: 'reporting', deferred: this.#deferral(campaign.id, 'failed'),
        campaign: { ...campaign, outcome: result.outcome, message: result.message },
      });
      return;
    }
    if (campaign.attempts > 1 || this.#approval.offered !== campaign.id) {
      // Resumed after a restart: the CGW (maybe restarted too) must approve again before the firewall opens.
      const decision = await this.#approval.decision(this.#offerOf(campaign), { signal, pollMs: this.#settings.approvalPollMs });
      if (!decision) return;
      if (decision.state !== 'approved') {
        await this.#decided(campaign, decision);
        return;
      }
    }
    this.#logger?.info({ campaign: campaign.id, attempt: campaign.attempts }, `campaign ${campaign.id}: updating ${describeCampaign(campaign)}`);
    this.#approval.relay.reset();
    const track = this.#statusTracker(campaign);
    const result = await install(this.#stepsOf(campaign, signal), {
      maxTries: this.#settings.maxTransferTries ?? 3,
      signal,
      logger: this.#logger,
      onStatus: track.onStatus,
      vetoed: () => this.#approval.relay.refusal,
    });
    campaign = track.campaign();
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

  #stepsOf(campaign: Campaign, signal: AbortSignal): InstallStep[] {
    return campaign.targets.map((target): InstallStep => ({
      target: this.#targetFor(target.ecu, signal),
      image: imageWithDelta({ ecu: target.ecu, from: target.from, manifest: target.manifest, path: target.path! },
        async () => (await this.#downloads.fetch(announcedOf(target), signal)).path),
      manifest: target.manifest!,
      to: target.to,
      sha256: target.release.sha256,
    }));
  }

  /** Each ECU's step of an installation, saved with the campaign (before it is held), shown on the HMI. */
  #statusTracker(start: Campaign): { onStatus: NonNullable<InstallationOptions['onStatus']>; campaign: () => Campaign } {
    let campaign = start;
    const onStatus = async (ecu: string, status: TargetStatus, error?: string): Promise<void> => {
      const next = withTarget(campaign, ecu, (target) => {
        const changed = { ...target, status };
        if (status === 'programmed' || status === 'activated' || status === 'installed') changed.percent = 100;
        if (error) changed.error = error;
        else delete changed.error;
        return changed;
      });
      await this.#save({ phase: 'updating', campaign: next });
      campaign = next;
      this.emit('target-status', ecu, status);
      const phase = STATUS_PHASES[status];
      if (phase) this.#approval.relay.report({ ecu, phase, percent: 100, ...(error ? { message: error.slice(0, 500) } : {}) });
    };
    return { onStatus, campaign: () => campaign };
  }

  #targetFor(ecu: string, signal: AbortSignal): UpdateTarget {
    const target = this.#ecus.target(ecu, { signal, onProgress: (progress) => this.#flashProgress(progress) });
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
      confirm: () => paused(() => target.confirm()),
    };
  }

  #flashProgress(progress: FlashProgress): void {
    const phase = CGW_PHASES[progress.phase];
    if (!phase) return;
    const update: UpdateProgress = { ecu: progress.ecu, phase, percent: progress.percent };
    this.emit('progress', update);
    this.#approval.relay.report(update);
    const campaign = this.#state.campaign;
    if (campaign) this.#deploymentProgress.report({ campaign_id: campaign.id, state: 'installing', ecu: progress.ecu, percent: progress.percent });
    // A log line per phase and per 10 % of a download.
    const key = `${phase}:${Math.floor(progress.percent / 10)}`;
    if (this.#lastProgress.get(progress.ecu) === key) return;
    this.#lastProgress.set(progress.ecu, key);
    this.#logger?.info({ ecu: progress.ecu, phase, percent: progress.percent, bytes: progress.bytes, total: progress.total }, 'flashing');
  }

  // ---- reporting → idle ---------------------------------------------------------------------------

  async #report(state: ReportingTmuState, signal: AbortSignal): Promise<void> {
    let campaign: DecidedCampaign = state.campaign;
    const { outcome } = campaign;
    const ecus = await this.#ecus.describe();
    if (!campaign.reportFile) {
      const report = reportOf(campaign, outcome, ecus, new Date(this.#clock.now()));
      campaign = { ...campaign, reportFile: await this.#outbox.add(report) };
      await this.#save({ phase: 'reporting', campaign });
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

  async #flushReports(signal: AbortSignal): Promise<void> {
    try {
      await this.#outbox.flush(this.#server, this.config.vin, signal);
    } catch (error) {
      this.#logger?.warn({ err: error }, `cannot send the waiting reports: ${errorMessage(error)}`);
    }
  }

  // ---- state --------------------------------------------------------------------------------------

  /** The deferrals with `id` added: not offered again for `--reoffer-after` seconds (unless newer releases make another campaign). */
  #deferral(id: string, reason: 'declined' | 'failed'): Record<string, Deferral> {
    const until = new Date(this.#clock.now() + (this.#settings.reofferAfterSeconds ?? 86_400) * 1000).toISOString();
    return { ...this.#state.deferred, [id]: { reason, until } };
  }

  /** The current phase and campaign, to save with other deferrals or known releases. */
  #current(): Transition {
    const { phase, campaign } = this.#state;
    return { phase, campaign } as Transition;
  }

  /**
   * Saves the next state, and only then holds it: when the save fails, the TMU keeps the state that is
   * on disk, and its next poll starts from there as a restarted TMU would.
   */
  async #save(transition: Transition): Promise<void> {
    const previous = this.#state;
    const now = this.#clock.now();
    // Deferrals that ended are forgotten.
    const deferred = Object.fromEntries(Object.entries(transition.deferred ?? previous.deferred).filter(([, d]) => Date.parse(d.until) > now));
    const next = {
      ...transition, format: 1, deferred, known: transition.known ?? previous.known, updatedAt: new Date(now).toISOString(),
    } as TmuState;
    await this.#store.save(next);
    this.#state = next;
    if (next.phase !== previous.phase) {
      this.#logger?.debug({ from: previous.phase, to: next.phase, campaign: next.campaign?.id }, 'TMU state');
      this.emit('phase', next.phase, next.campaign);
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

async function closeParts(parts: Pick<TmuParts, 'approval' | 'ecus' | 'downloads' | 'server'>): Promise<void> {
  await parts.approval.close();
  parts.ecus.close();
  await parts.downloads.close();
  await parts.server.close();
}

function announcedOf(target: CampaignTarget): AnnouncedRelease {
  return { ecu: target.ecu, firmwareVersion: target.to, notes: target.notes, release: target.release, manifest: target.manifest };
}
