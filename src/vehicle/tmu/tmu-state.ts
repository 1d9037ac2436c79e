import { mkdir, readFile, rename } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { z } from 'zod';
import type { Release } from '../../ota-http/release.ts';
import type { SignedManifest } from '../../crypto/manifest.ts';
import { errorCode, errorMessage } from '../../errors/error-message.ts';
import { writeFileAtomic } from '../../files/atomic-write.ts';
import type { ApprovalOfferInput } from '../cgw/approval-protocol.ts';
import { TmuStateError } from './errors.ts';
import type { AnnouncedRelease, ReportOutcome } from './server-api.ts';

/**
 * The TMU's update, as a state machine persisted in `<state-dir>/tmu/state.json` (replaced atomically at
 * every transition, so a kill -9 leaves the last transition or the one before, never a torn file):
 *
 * idle → downloading → verified → awaiting-approval → updating → reporting → idle
 *
 * After a restart, `downloading` and `verified` are planned again (downloads resume from their partial
 * files), `awaiting-approval` offers the same campaign again (the CGW recognises it), `updating` runs the
 * flashing again from the ECUs' banks (the truth: a power cycle voided any check not yet activated), and
 * `reporting` finishes the report.
 */
export type TmuPhase = 'idle' | 'downloading' | 'verified' | 'awaiting-approval' | 'updating' | 'reporting';

export const TMU_PHASES: readonly TmuPhase[] = ['idle', 'downloading', 'verified', 'awaiting-approval', 'updating', 'reporting'];

/**
 * One ECU of a campaign: `pending` → `downloaded` → `programmed` (checked by the ECU) → `activated` (booted
 * the new image) → `installed`; or `failed`, `rolled-back`, `not-attempted` (another ECU failed first).
 */
export type TargetStatus = 'pending' | 'downloaded' | 'programmed' | 'activated' | 'installed' | 'failed' | 'rolled-back' | 'not-attempted';

export interface CampaignTarget {
  ecu: string;
  /** The version it ran when the campaign was planned ("" when unknown). */
  from: string;
  to: string;
  release: Release;
  notes: string;
  /** The server's manifest, or one the TMU wrote (unsigned) for a server without manifests. */
  manifest: SignedManifest | null;
  /** The verified download. */
  path: string | null;
  status: TargetStatus;
  /** Progress of the current step, 0–100 (written at each step, not at each percent). */
  percent: number;
  error?: string;
}

export interface Campaign {
  /** Derived from the targets' ECUs and SHA-256s: the same releases are the same campaign, across restarts. */
  id: string;
  plannedAt: string;
  targets: CampaignTarget[];
  /** What the CGW was (or will be) shown; kept so that offering again after a restart sends the same bytes. */
  offer: ApprovalOfferInput | null;
  /** Update attempts: a restart in the middle of the flashing counts one more. */
  attempts: number;
  outcome: ReportOutcome | null;
  message: string | null;
  /** The report's file in the outbox once written (a restart while reporting does not write it twice). */
  reportFile?: string | null;
}

/** A campaign the TMU will not offer again before `until`: declined, postponed, or failed. */
export interface Deferral {
  reason: 'declined' | 'postponed' | 'failed';
  until: string;
}

interface TmuStateCommon {
  format: 1;
  /** By campaign id. */
  deferred: Record<string, Deferral>;
  /**
   * Each ECU's newest release seen at `/latest_version` (a server with only the seed's routes announces just
   * the newest upload overall; the newest for an ECU stays that until a newer one for it is announced).
   */
  known: Record<string, AnnouncedRelease>;
  updatedAt: string;
}

/** A campaign whose outcome is decided, being reported. */
export type DecidedCampaign = Campaign & { outcome: ReportOutcome };

/** Nothing under way. */
export interface IdleTmuState extends TmuStateCommon {
  phase: 'idle';
  campaign: null;
}

/** A campaign on its way: downloaded, offered, approved and flashed. */
export interface ActiveTmuState extends TmuStateCommon {
  phase: 'downloading' | 'verified' | 'awaiting-approval' | 'updating';
  campaign: Campaign;
}

/** A campaign whose outcome is known, being reported. */
export interface ReportingTmuState extends TmuStateCommon {
  phase: 'reporting';
  campaign: DecidedCampaign;
}

/** Every phase but idle has its campaign (and reporting its outcome): the type says so, no check at run time. */
export type TmuState = IdleTmuState | ActiveTmuState | ReportingTmuState;

/** What a state is besides its phase and campaign (kept across transitions). */
export type TmuStateExtras = Pick<TmuStateCommon, 'deferred' | 'known'>;

export const initialTmuState = (now = new Date()): IdleTmuState => ({
  format: 1, phase: 'idle', campaign: null, deferred: {}, known: {}, updatedAt: now.toISOString(),
});

const campaignShape = z.looseObject({
  id: z.string().min(1),
  targets: z.array(z.looseObject({
    ecu: z.string(), from: z.string(), to: z.string(), status: z.string(),
    release: z.looseObject({ filename: z.string(), sha256: z.string() }),
  })).min(1),
});

const stateShape = z.looseObject({
  format: z.literal(1),
  phase: z.enum(TMU_PHASES as [TmuPhase, ...TmuPhase[]]),
  campaign: campaignShape.nullable(),
  deferred: z.record(z.string(), z.object({ reason: z.enum(['declined', 'postponed', 'failed']), until: z.string() })),
  known: z.record(z.string(), z.looseObject({ ecu: z.string(), firmwareVersion: z.string(), release: z.looseObject({ sha256: z.string() }) }))
    .default({}),
});

/**
 * The union from a file of the single-record format every version wrote (format 1): a file written before
 * the union existed reads the same. The pairs no TMU writes (idle with a campaign, a phase without one)
 * become idle, keeping the deferrals; a campaign being reported without its outcome failed, as the TMU
 * always reported such a one.
 */
function fromFile(data: z.infer<typeof stateShape>): TmuState {
  const state = data as unknown as TmuStateCommon & { phase: TmuPhase; campaign: Campaign | null };
  const { campaign } = state;
  if (state.phase === 'idle' || campaign === null) return { ...state, phase: 'idle', campaign: null };
  if (state.phase === 'reporting') return { ...state, phase: 'reporting', campaign: { ...campaign, outcome: campaign.outcome ?? 'failed' } };
  return { ...state, phase: state.phase, campaign };
}

/** Where the TMU keeps its state: `TmuStateFile`, or a test's. */
export interface TmuStateStore {
  /** The saved state (the initial one when there is none); `damaged` says why a saved one was not usable. */
  load(): Promise<{ state: TmuState; damaged?: string }>;
  /** Replaces the saved state; when it throws, the saved state is the one before. */
  save(state: TmuState): Promise<void>;
}

/** `<state-dir>/tmu/state.json`, read once at start and replaced atomically at every change. */
export class TmuStateFile implements TmuStateStore {
  readonly path: string;

  constructor(directory: string) {
    this.path = join(directory, 'state.json');
  }

  /**
   * The saved state, or the initial one when there is none. A file that is not a TMU state (edited by
   * hand, another program's) is moved aside as `state.json.damaged-<time>` and the TMU starts idle:
   * the ECUs' banks, not this file, say what is installed.
   */
  async load(): Promise<{ state: TmuState; damaged?: string }> {
    let text: string;
    try {
      text = await readFile(this.path, 'utf8');
    } catch (error) {
      if (errorCode(error) === 'ENOENT') return { state: initialTmuState() };
      throw new TmuStateError(`cannot read ${this.path}: ${errorMessage(error)}`, { cause: error });
    }
    let problem: string;
    try {
      const parsed = stateShape.safeParse(JSON.parse(text));
      if (parsed.success) return { state: fromFile(parsed.data) };
      problem = z.prettifyError(parsed.error);
    } catch (error) {
      problem = `not JSON: ${errorMessage(error)}`;
    }
    const aside = `${this.path}.damaged-${Date.now()}`;
    await rename(this.path, aside).catch(() => undefined);
    return { state: initialTmuState(), damaged: `${this.path} was not a TMU state (${problem}); moved to ${aside}` };
  }

  async save(state: TmuState): Promise<void> {
    try {
      await mkdir(dirname(this.path), { recursive: true });
      await writeFileAtomic(this.path, `${JSON.stringify(state, null, 2)}\n`);
    } catch (error) {
      throw new TmuStateError(`cannot write ${this.path}: ${errorMessage(error)}`, { cause: error });
    }
  }
}
