import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import type { TestContext } from 'node:test';
import { pino } from 'pino';
import type { SignedManifest } from '../../../src/crypto/manifest.ts';
import type { ApprovalDecision } from '../../../src/vehicle/cgw/approval-client.ts';
import type { ApprovalOfferInput, UpdateProgress, UpdateResultInput } from '../../../src/vehicle/cgw/approval-protocol.ts';
import { standardVehicleConfig, type VehicleConfig } from '../../../src/vehicle/config.ts';
import type { BankSummary, BootState } from '../../../src/vehicle/ecu/protocol.ts';
import type { DecisionOptions } from '../../../src/vehicle/tmu/driver-approval.ts';
import { TmuStateError, type ServerApiError } from '../../../src/vehicle/tmu/errors.ts';
import type { BootReport, FlashProgress } from '../../../src/vehicle/tmu/flash-session.ts';
import type { HmiProgress } from '../../../src/vehicle/tmu/progress-relay.ts';
import type { DownloadedTarget } from '../../../src/vehicle/tmu/release-downloads.ts';
import { manifestForRelease } from '../../../src/vehicle/tmu/release-trust.ts';
import { ReportOutbox } from '../../../src/vehicle/tmu/report-outbox.ts';
import type { AnnouncedRelease, LatestReleases, ReportedEcu, VehicleReport } from '../../../src/vehicle/tmu/server-api.ts';
import type { TmuApproval, TmuClock, TmuDownloads, TmuParts, TmuServer } from '../../../src/vehicle/tmu/tmu-parts.ts';
import { TmuStateFile, type TmuState, type TmuStateStore } from '../../../src/vehicle/tmu/tmu-state.ts';
import { Tmu, type TmuSettings } from '../../../src/vehicle/tmu/tmu.ts';
import type { UpdateTarget } from '../../../src/vehicle/tmu/update-target.ts';
import type { VehicleEcus } from '../../../src/vehicle/tmu/vehicle-ecus.ts';
import { tempDir } from '../../support/temp-dir.ts';

/**
 * In-memory stand-ins for everything the TMU talks to (tmu-parts.ts): the server, the downloads, the
 * driver on the CGW, the ECUs. Each records what the TMU asked of it; the state and the reports are the
 * real files (TmuStateFile, ReportOutbox) in a temp dir, so a second Tmu over the same dir is a restart.
 */

export const sha256 = (text: string): string => createHash('sha256').update(text).digest('hex');

/** A release of `ecu` as the server announces it (no manifest: the vehicle trusts no keys, the TMU writes one). */
export function release(ecu: string, version: string, notes = ''): AnnouncedRelease {
  const filename = `${ecu.toLowerCase()}-${version}.bin`;
  return {
    ecu, firmwareVersion: version, notes, manifest: null,
    release: {
      filename, mtime: 0, sha256: sha256(filename), size: 1000, ecu, firmwareVersion: version, releaseId: `${ecu}-${version}`,
      uploadedAt: '2030-01-01T00:00:00.000Z',
    },
  };
}

export class FakeServer implements TmuServer {
  releases: AnnouncedRelease[] = [];
  /** Thrown by the next polls while set. */
  down: ServerApiError | null = null;
  /** Thrown by report posts while set. */
  refusesReports: ServerApiError | null = null;
  readonly reports: VehicleReport[] = [];
  polls = 0;
  /** Called at each poll (a test changes the releases in the middle of a wait). */
  onPoll: (() => void) | undefined;

  async latestReleases(): Promise<LatestReleases> {
    this.polls += 1;
    this.onPoll?.();
    if (this.down) throw this.down;
    return { source: 'api', releases: structuredClone(this.releases), skipped: [] };
  }

  async postReport(_vin: string, report: VehicleReport): Promise<string> {
    if (this.refusesReports) throw this.refusesReports;
    this.reports.push(report);
    return String(this.reports.length);
  }

  async close(): Promise<void> {}
}

export class FakeDownloads implements TmuDownloads {
  /** `ECU version` of each fetch, in order. */
  readonly fetched: string[] = [];
  readonly discarded: string[] = [];
  /** Errors the next fetches of an ECU throw, in order. */
  readonly failures = new Map<string, Error[]>();
  /** Called at each fetch (a test cuts the power in the middle). */
  onFetch: ((announced: AnnouncedRelease) => void) | undefined;

  async fetch(announced: AnnouncedRelease, signal: AbortSignal): Promise<DownloadedTarget> {
    this.fetched.push(`${announced.ecu} ${announced.firmwareVersion}`);
    this.onFetch?.(announced);
    signal.throwIfAborted();
    const failure = this.failures.get(announced.ecu)?.shift();
    if (failure) throw failure;
    const size = announced.release.size!;
    return { path: `/images/${announced.release.filename}`, size, manifest: manifestForRelease(announced, [], size), fresh: true };
  }

  async discard(ecu: string, path: string | null): Promise<void> {
    this.discarded.push(`${ecu} ${path}`);
  }

  async close(): Promise<void> {}
}

export class FakeRelay implements HmiProgress {
  readonly shown: UpdateProgress[] = [];
  /** `pause`, `resume`, `reset`, as called. */
  readonly calls: string[] = [];
  paused = 0;
  /** Set by a test: the CGW refused progress (the installation must stop and roll back). */
  refusal: string | null = null;
  /** Refuse once progress for this ECU and phase is shown (`EDT:programming`). */
  refuseAt: { key: string; reason: string } | null = null;

  report(progress: UpdateProgress): void {
    this.shown.push(progress);
    if (this.refuseAt?.key === `${progress.ecu}:${progress.phase}`) this.refusal = this.refuseAt.reason;
  }

  pause(): void {
    this.paused += 1;
    this.calls.push('pause');
  }

  resume(): void {
    this.paused -= 1;
    this.calls.push('resume');
  }

  async settle(): Promise<void> {}

  reset(): void {
    this.calls.push('reset');
    this.refusal = null;
  }
}

/** One answer of the driver: a decision, `wait` (a poll interval passes: the TMU checks the server), or a step of the test. */
export type DriverStep = ApprovalDecision | 'wait' | ((options: DecisionOptions) => void);

/** The CGW and its driver. An empty script is a driver who has not decided yet (the wait ends for this poll). */
export class FakeApproval implements TmuApproval {
  offered: string | undefined;
  readonly relay = new FakeRelay();
  readonly offers: ApprovalOfferInput[] = [];
  readonly withdrawn: string[] = [];
  readonly finished: UpdateResultInput[] = [];
  readonly presentFailures: Error[] = [];
  script: DriverStep[];

  constructor(script: DriverStep[] = []) {
    this.script = script;
  }

  /** Called at each offer (a test cuts the power there). */
  onPresent: (() => void) | undefined;

  async present(offer: ApprovalOfferInput): Promise<void> {
    this.onPresent?.();
    const failure = this.presentFailures.shift();
    if (failure) throw failure;
    this.offers.push(structuredClone(offer));
    this.offered = offer.campaign_id;
  }

  async decision(offer: ApprovalOfferInput, options: DecisionOptions): Promise<ApprovalDecision | null> {
    if (this.offered !== offer.campaign_id) await this.present(offer);
    for (;;) {
      options.signal.throwIfAborted();
      const step = this.script.shift();
      if (step === undefined) return null;
      if (step === 'wait') {
        if (options.keepWaiting && !await options.keepWaiting.check()) return null;
      } else if (typeof step === 'function') {
        step(options);
      } else {
        return step;
      }
    }
  }

  async withdraw(message: string): Promise<void> {
    this.withdrawn.push(message);
    this.offered = undefined;
  }

  async finish(result: UpdateResultInput): Promise<void> {
    this.finished.push(result);
    this.offered = undefined;
  }

  async close(): Promise<void> {}
}

interface Image {
  version: string;
  sha256: string;
}

/** What an ECU does when flashed: transfers that fail, a refused image, a boot that fails. */
export interface EcuBehaviour {
  programFailures?: Error[];
  /** `rotten`: the checked image fails its boot check, the ECU stays on the old one. */
  activation?: 'rotten' | Error;
  /** Thrown by its confirmation (0xFF03). */
  confirmation?: Error;
  /** Called at each call to its target, with the step (a test cuts the power there, or looks around). */
  onCall?: (step: 'program' | 'activate' | 'rollback' | 'confirm') => void;
}

/** The car's ECUs: banks that hold what each runs, flashed by the TMU through UpdateTargets. */
export class FakeEcus implements VehicleEcus {
  readonly running = new Map<string, Image>();
  readonly #previous = new Map<string, Image>();
  readonly #checked = new Map<string, Image>();
  /** ECUs whose running image is confirmed (the factory images are): a rollback is refused then. */
  readonly confirmed = new Set<string>();
  readonly #floor = new Map<string, string>();
  readonly behaviour = new Map<string, EcuBehaviour>();
  /** `ECU:step` of every call to a target, in order. */
  readonly calls: string[] = [];
  /** ECUs that send no status frame: their version is unknown. */
  readonly silent = new Set<string>();

  constructor(config: VehicleConfig, version = '1.0.0') {
    for (const ecu of config.ecus) {
      this.running.set(ecu.name, { version, sha256: sha256(`${ecu.name}-${version}`) });
      this.confirmed.add(ecu.name);
      this.#floor.set(ecu.name, version);
    }
  }

  version(ecu: string): string | undefined {
    return this.running.get(ecu)?.version;
  }

  async installedVersion(ecu: string): Promise<string | null> {
    return this.silent.has(ecu) ? null : this.running.get(ecu)!.version;
  }

  async describe(): Promise<Record<string, ReportedEcu>> {
    return Object.fromEntries([...this.running].map(([ecu, image]) => [ecu, { version: image.version, sha256: image.sha256, active_bank: 'A', state: 'Running' }]));
  }

  target(ecu: string, options: { signal: AbortSignal; onProgress: (progress: FlashProgress) => void }): UpdateTarget {
    const behaviour = () => this.behaviour.get(ecu) ?? {};
    return {
      ecu,
      bootState: async () => {
        this.calls.push(`${ecu}:bootState`);
        return this.#bootState(ecu);
      },
      program: async (_image: { path: string }, manifest: SignedManifest) => {
        this.calls.push(`${ecu}:program`);
        behaviour().onCall?.('program');
        options.signal.throwIfAborted();
        options.onProgress({ ecu, phase: 'download', bytes: 500, total: 1000, percent: 50 });
        const failure = behaviour().programFailures?.shift();
        if (failure) throw failure;
        this.#checked.set(ecu, { version: manifest.signed.firmware_version, sha256: manifest.signed.sha256 });
      },
      activate: async () => {
        this.calls.push(`${ecu}:activate`);
        behaviour().onCall?.('activate');
        options.signal.throwIfAborted();
        const { activation } = behaviour();
        if (activation instanceof Error) throw activation;
        const checked = this.#checked.get(ecu)!;
        this.#checked.delete(ecu);
        if (activation === 'rotten') return this.#report(ecu, false, 'rolled-back', 'image bytes no longer match their SHA-256');
        this.#previous.set(ecu, this.running.get(ecu)!);
        this.running.set(ecu, checked);
        this.confirmed.delete(ecu);
        return this.#report(ecu, true, 'booted');
      },
      rollback: async () => {
        this.calls.push(`${ecu}:rollback`);
        behaviour().onCall?.('rollback');
        if (this.confirmed.has(ecu)) throw new Error(`${ecu}: rollback refused: the running image is confirmed`);
        this.running.set(ecu, this.#previous.get(ecu)!);
        this.confirmed.add(ecu);
        return this.#report(ecu, true, 'booted');
      },
      confirm: async () => {
        this.calls.push(`${ecu}:confirm`);
        behaviour().onCall?.('confirm');
        options.signal.throwIfAborted();
        const { confirmation } = behaviour();
        if (confirmation) throw confirmation;
        this.confirmed.add(ecu);
        this.#floor.set(ecu, this.running.get(ecu)!.version);
      },
    };
  }

  close(): void {}

  #bootState(ecu: string): BootState {
    const image = this.running.get(ecu)!;
    const bank: BankSummary = { state: 'verified', version: image.version, sha256: image.sha256, size: 1000 };
    return {
      ecu, active: 'A', version: image.version, sha256: image.sha256, state: 'Running', lastBoot: null, bootCount: 1, trialPending: false,
      confirmed: this.confirmed.has(ecu), floor: this.#floor.get(ecu) ?? null, banks: { A: bank, B: bank },
    };
  }

  #report(ecu: string, switched: boolean, outcome: BootReport['outcome'], reason?: string): BootReport {
    const state = this.#bootState(ecu);
    return { ecu, activeBank: 'A', version: state.version, sha256: state.sha256, outcome, switched, bootState: state, ...(reason ? { reason } : {}) };
  }
}

/** The state file, with saves that fail while `failing` says so (a full or broken disk). */
export class FailingStore implements TmuStateStore {
  readonly file: TmuStateFile;
  failing: ((state: TmuState) => boolean) | null = null;
  failures = 0;

  constructor(directory: string) {
    this.file = new TmuStateFile(directory);
  }

  load(): ReturnType<TmuStateStore['load']> {
    return this.file.load();
  }

  async save(state: TmuState): Promise<void> {
    if (this.failing?.(state)) {
      this.failures += 1;
      throw new TmuStateError(`cannot write ${this.file.path}: no space left on device`);
    }
    await this.file.save(state);
  }
}

export class FakeClock implements TmuClock {
  ms = Date.parse('2030-01-01T00:00:00.000Z');

  now(): number {
    return this.ms;
  }

  advance(seconds: number): void {
    this.ms += seconds * 1000;
  }

  /** No time passes between polls: a test calls `cycle` itself, or replaces this. */
  async pause(_ms: number, signal: AbortSignal): Promise<boolean> {
    return !signal.aborted;
  }
}

/** A TMU over fakes; `restart()` is a new one over the same state dir (and the same server, downloads and ECUs). */
export async function tmuRig(t: TestContext, options: { settings?: Partial<TmuSettings>; driver?: DriverStep[] } = {}) {
  const config = standardVehicleConfig('WCANTATMU00000001');
  const directory = await tempDir(t);
  const server = new FakeServer();
  const downloads = new FakeDownloads();
  const ecus = new FakeEcus(config);
  const clock = new FakeClock();
  const logs: string[] = [];
  const logger = pino({ level: 'debug' }, new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString('utf8').split('\n').filter(Boolean)) logs.push((JSON.parse(line) as { msg: string }).msg);
      done();
    },
  }));
  const settings: TmuSettings = { config, intervalSeconds: 10, reofferAfterSeconds: 3600, approvalPollMs: 1, logger, ...options.settings };

  const boot = async (approval: FakeApproval) => {
    const store = new FailingStore(directory);
    const outbox = new ReportOutbox(join(directory, 'reports'));
    const parts: TmuParts = { server, downloads, approval, ecus, store, outbox, clock };
    const tmu = await Tmu.start(settings, parts);
    const phases: string[] = [];
    tmu.on('phase', (phase) => phases.push(phase));
    return { tmu, approval, store, outbox, phases };
  };
  const rig = {
    config, directory, server, downloads, ecus, clock, logs,
    ...await boot(new FakeApproval(options.driver)),
    /** One poll; `cut` aborts it in the middle, as a kill would. */
    cycle: async (controller = new AbortController()) => rig.tmu.cycle(controller.signal),
    /** A new TMU over the same state dir, talking to a CGW that answers with `driver`. */
    restart: async (driver: DriverStep[] = []) => {
      await rig.tmu.close();
      Object.assign(rig, await boot(new FakeApproval(driver)));
    },
    saved: async () => (await new TmuStateFile(directory).load()).state,
  };
  return rig;
}
