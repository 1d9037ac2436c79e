import { randomBytes } from 'node:crypto';
import type { AuditLog } from '../audit/audit-log.ts';
import type { Storage } from '../storage/index.ts';
import type { DeploymentRecord, DeploymentStore } from '../storage/deployments.ts';
import type { ReleaseRecord } from '../storage/releases.ts';
import type { DeploymentStatus } from '../storage/schema.ts';
import { assignWaves, checkWaves, overFailureThreshold, type WaveSize } from './rollout-plan.ts';
import { checkTarget, resolveTarget, type DeploymentTarget } from './target.ts';
import { isBusy, isFailure, isFinal, stateOfOutcome, type VehicleState } from './vehicle-states.ts';
import { DeploymentConflictError, DeploymentInputError, DeploymentNotFoundError } from './deployment-errors.ts';

export { DeploymentConflictError, DeploymentInputError, DeploymentNotFoundError } from './deployment-errors.ts';


export interface NewDeploymentInput {
  name: string;
  releaseIds?: number[];
  softwareSetId?: number;
  target: DeploymentTarget;
  waves?: unknown[];
  failureThresholdPercent?: number;
  requireApproval?: boolean;
  startAt?: number;
}

export type DeploymentAction = 'pause' | 'resume' | 'advance' | 'cancel';

const maxNameLength = 100;

/**
 * Deployments: a software set, the vehicles it goes to, in waves (docs/server.md, "Deployments"). Every
 * change is audited; a vehicle's state changes drive the waves (the next starts when one is done, a wave
 * over its failure threshold pauses the deployment).
 */
export class DeploymentService {
  constructor(private readonly storage: Storage, private readonly audit: AuditLog, private readonly clock: () => number) {}

  get #store(): DeploymentStore {
    return this.storage.deployments;
  }

  /** Releases that go together, one per ECU, published and not withdrawn. */
  async checkReleases(releaseIds: readonly number[]): Promise<ReleaseRecord[]> {
    if (releaseIds.length === 0 || releaseIds.length > 32) throw new DeploymentInputError('give 1 to 32 release ids');
    const releases: ReleaseRecord[] = [];
    const ecus = new Map<string, number>();
    for (const id of new Set(releaseIds)) {
      const release = await this.storage.releases.find(id);
      if (!release) throw new DeploymentInputError(`no release ${id}`);
      if (release.withdrawn_at !== null) throw new DeploymentInputError(`release ${id} (${release.filename}) was withdrawn`);
      if (!release.ecu || !release.firmware_version) throw new DeploymentInputError(`release ${id} (${release.filename}) names no ECU and version: vehicles cannot install it`);
      const ecu = release.ecu.toUpperCase();
      if (ecus.has(ecu)) throw new DeploymentInputError(`releases ${ecus.get(ecu)} and ${id} are both for ${ecu}: one release per ECU`);
      ecus.set(ecu, id);
      releases.push(release);
    }
    return releases;
  }

  async createSet(input: { name: string; releaseIds: number[]; by: string; ip?: string | null }) {
    const name = checkName(input.name, 'a software set');
    const releases = await this.checkReleases(input.releaseIds);
    const set = await this.#store.addSet({
      name, releases: releases.map((r) => ({ ecu: r.ecu!.toUpperCase(), releaseId: r.id })), by: input.by, now: this.clock(),
    });
    await this.audit.record({ event: 'software-set.create', outcome: 'ok', actor: input.by, ip: input.ip ?? null, subject: name, details: { id: set.id, releases: releases.map((r) => r.id) } });
    return { set, releases };
  }

  async create(input: NewDeploymentInput, by: string, ip: string | null = null): Promise<DeploymentRecord> {
    const name = checkName(input.name, 'a deployment');
    const now = this.clock();
    if ((input.releaseIds === undefined) === (input.softwareSetId === undefined)) throw new DeploymentInputError('give release_ids or software_set_id');
    // Everything is checked before anything is stored: a refused deployment leaves no software set behind.
    const fromSet = input.softwareSetId !== undefined ? await this.#store.findSet(input.softwareSetId) : undefined;
    if (input.softwareSetId !== undefined && !fromSet) throw new DeploymentInputError(`no software set ${input.softwareSetId}`);
    // A release withdrawn since the set was made must not go out with it.
    const releases = await this.checkReleases(fromSet ? ((await this.#store.setReleases([fromSet.id])).get(fromSet.id) ?? []).map((r) => r.id) : input.releaseIds!);
    const target = checkTarget(input.target);
    const waves: WaveSize[] = checkWaves(input.waves ?? [{ percent: 100 }]);
    const threshold = input.failureThresholdPercent ?? 5;
    if (!Number.isInteger(threshold) || threshold < 0 || threshold > 100) throw new DeploymentInputError('failure_threshold_percent must be a whole number from 0 to 100');
    const startAt = input.startAt ?? now;
    const vehicleIds = await resolveTarget(this.storage.database.db, target);
    if (vehicleIds.length === 0) throw new DeploymentInputError('the target matches no registered vehicle');
    const setId = fromSet?.id ?? (await this.createSet({
      name: `${name} @ ${new Date(now).toISOString()} ${randomBytes(3).toString('hex')}`, releaseIds: releases.map((r) => r.id), by, ip,
    })).set.id;
    const started = startAt <= now;
    const deployment = await this.#store.add({
      name, setId, status: started ? 'running' : 'scheduled', target: JSON.stringify(target), waves: JSON.stringify(waves),
      currentWave: started ? 1 : 0, failureThreshold: threshold, requireApproval: input.requireApproval ?? false, startAt, by, now,
      vehicles: assignWaves(vehicleIds, waves).map(({ vehicle, wave }) => ({ vehicleId: vehicle, wave })),
    });
    await this.audit.record({
      event: 'deployment.create', outcome: 'ok', actor: by, ip, subject: `deployment ${deployment.id}`,
      details: { name, set_id: setId, vehicles: vehicleIds.length, waves, failure_threshold_percent: threshold, start_at: new Date(startAt).toISOString() },
    });
    // A first wave with nothing in it (a count of 0 is refused, but the target may be small) moves on at once.
    if (started) return this.#settle(deployment);
    return deployment;
  }

  /** An operator's pause, resume, advance or cancel; DeploymentConflictError when the state does not allow it. */
  async act(id: number, action: DeploymentAction, by: string, ip: string | null = null, reason?: string | null): Promise<DeploymentRecord> {
    const now = this.clock();
    let deployment = await this.#started(await this.#require(id));
    const said = reason ? `: ${reason}` : '';
    const conflict = (why: string) => new DeploymentConflictError(`cannot ${action} deployment ${id}: ${why}`);
    const move = async (from: DeploymentStatus, status: DeploymentStatus, text: string, currentWave?: number) => {
      if (!await this.#store.changeStatus(id, from, { status, reason: text, ...(currentWave !== undefined ? { currentWave } : {}) }, now)) {
        throw conflict('it changed meanwhile; reload and try again');
      }
    };
    switch (action) {
      case 'pause':
        if (!['running', 'waiting', 'scheduled'].includes(deployment.status)) throw conflict(`it is ${deployment.status}`);
        await move(deployment.status, 'paused', `paused by ${by}${said}`);
        break;
      case 'resume':
        if (deployment.status !== 'paused') throw conflict(`it is ${deployment.status}, not paused`);
        if (deployment.current_wave === 0 && deployment.start_at > now) {
          await move('paused', 'scheduled', `resumed by ${by}${said}; starts ${new Date(deployment.start_at).toISOString()}`);
        } else {
          // The failures so far are the operator's to accept: only more of them pause it again.
          const wave = Math.max(1, deployment.current_wave);
          const { failed } = await this.#waveTally(id, wave);
          if (!await this.#store.changeStatus(id, 'paused', { status: 'running', reason: `resumed by ${by}${said}`, currentWave: wave, acceptedFailures: failed }, now)) {
            throw conflict('it changed meanwhile; reload and try again');
          }
          await this.#store.startWave(id, wave, now);
        }
        break;
      case 'advance': {
        if (!['running', 'waiting', 'paused', 'scheduled'].includes(deployment.status)) throw conflict(`it is ${deployment.status}`);
        const next = deployment.current_wave + 1;
        if (next > waveCount(deployment)) throw conflict(`wave ${deployment.current_wave} is its last`);
        await move(deployment.status, 'running', `wave ${next} started by ${by}${said}`, next);
        await this.#store.startWave(id, next, now);
        break;
      }
      case 'cancel':
        if (deployment.status === 'finished' || deployment.status === 'cancelled') throw conflict(`it is ${deployment.status}`);
        await move(deployment.status, 'cancelled', `cancelled by ${by}${said}`);
        // Vehicles that have not started are told nothing more; those downloading or installing finish (or roll back).
        await this.#store.moveVehicles(id, ['waiting', 'assigned', 'offered', 'postponed'], 'cancelled', now, `cancelled by ${by}`);
        break;
    }
    await this.audit.record({ event: `deployment.${action}`, outcome: 'ok', actor: by, ip, subject: `deployment ${id}`, details: reason ? { reason } : {} });
    deployment = await this.#require(id);
    return action === 'cancel' || action === 'pause' ? deployment : this.#settle(deployment);
  }

  /**
   * A vehicle's news about a deployment (its progress, or its report's outcome): recorded, audited when
   * the state changes, and the waves move on. Undefined when the vehicle is not in that deployment.
   */
  async recordVehicleState(deploymentId: number, vehicleId: number, change: { state: VehicleState; percent?: number | null; ecu?: string | null; reason?: string | null }) {
    const now = this.clock();
    const current = await this.#store.vehicle(deploymentId, vehicleId);
    if (!current) return undefined;
    // An end is an end: a late progress message (sent before the report, arriving after it) changes nothing.
    if (isFinal(current.state as VehicleState)) return current.state;
    if (current.state === 'waiting') return current.state;
    await this.#store.updateVehicle(deploymentId, vehicleId, change, now, current.state);
    if (change.state !== current.state) {
      await this.audit.record({
        event: 'deployment.vehicle', outcome: isFailure(change.state) ? 'failed' : 'ok', actor: current.vin, subject: `deployment ${deploymentId}`,
        details: { from: current.state, to: change.state, ...(change.ecu ? { ecu: change.ecu } : {}), ...(change.reason ? { reason: change.reason.slice(0, 500) } : {}) },
      });
    }
    if (isFinal(change.state)) await this.#settle(await this.#require(deploymentId));
    return change.state;
  }

  /** A vehicle's report about a deployment's campaign: its outcome is the vehicle's state in it. */
  async recordReport(vehicleId: number, campaignId: string | null | undefined, outcome: string, message: string | undefined) {
    const deploymentId = deploymentIdOf(campaignId);
    const state = stateOfOutcome(outcome);
    if (deploymentId === undefined || !state) return undefined;
    return this.recordVehicleState(deploymentId, vehicleId, { state, reason: isFailure(state) || state === 'declined' ? (message ?? null) : null });
  }

  /** Starts scheduled deployments whose time has come (called on reads and polls; idempotent across servers). */
  async startDue(): Promise<void> {
    for (const deployment of await this.#store.dueToStart(this.clock())) await this.#started(deployment);
  }

  async #started(deployment: DeploymentRecord): Promise<DeploymentRecord> {
    const now = this.clock();
    if (deployment.status !== 'scheduled' || deployment.start_at > now) return deployment;
    if (await this.#store.changeStatus(deployment.id, 'scheduled', { status: 'running', reason: 'start time reached', currentWave: 1 }, now)) {
      await this.#store.startWave(deployment.id, 1, now);
    }
    return this.#settle(await this.#require(deployment.id));
  }

  /**
   * After a change: a running deployment whose current wave failed too often pauses; one whose current wave
   * is over starts the next (or waits for an operator, or finishes after the last).
   */
  async #settle(deployment: DeploymentRecord): Promise<DeploymentRecord> {
    const now = this.clock();
    while (deployment.status === 'running') {
      const wave = deployment.current_wave;
      const { size, failed, unfinished } = await this.#waveTally(deployment.id, wave);
      let to: { status: DeploymentStatus; reason: string; currentWave?: number } | null = null;
      if (failed > deployment.accepted_failures && overFailureThreshold(failed, size, deployment.failure_threshold)) {
        to = { status: 'paused', reason: `wave ${wave}: ${failed} of ${size} vehicles failed, over the ${deployment.failure_threshold}% threshold` };
      } else if (unfinished.current === 0) {
        // The next wave starts when this one is over; the deployment ends only when every started wave is
        // (a car an operator left behind by advancing is still waited for).
        if (wave < waveCount(deployment)) {
          to = deployment.require_approval === 1
            ? { status: 'waiting', reason: `wave ${wave} done: waiting for an operator to advance` }
            : { status: 'running', reason: `wave ${wave} done: wave ${wave + 1} started`, currentWave: wave + 1 };
        } else if (unfinished.started === 0) {
          to = { status: 'finished', reason: `all ${waveCount(deployment)} waves done` };
        }
      }
      if (!to) break;
      // Another server may have settled it first: then its state is the one to go on from.
      if (await this.#store.changeStatus(deployment.id, 'running', to, now)) {
        if (to.currentWave !== undefined) await this.#store.startWave(deployment.id, to.currentWave, now);
        await this.audit.record({ event: 'deployment.status', outcome: to.status === 'paused' ? 'failed' : 'ok', actor: 'server', subject: `deployment ${deployment.id}`, details: { status: to.status, reason: to.reason } });
      }
      deployment = await this.#require(deployment.id);
    }
    return deployment;
  }

  /** The current wave's size and failures, and how many vehicles have not finished: in it, and in every wave started. */
  async #waveTally(id: number, wave: number) {
    const counts = await this.#store.counts(id);
    const sum = (rows: typeof counts) => rows.reduce((total, row) => total + row.n, 0);
    const inWave = counts.filter((row) => row.wave === wave);
    const open = counts.filter((row) => !isFinal(row.state as VehicleState));
    return {
      size: sum(inWave),
      failed: sum(inWave.filter((row) => isFailure(row.state as VehicleState))),
      unfinished: { current: sum(open.filter((row) => row.wave === wave)), started: sum(open.filter((row) => row.wave <= wave)) },
    };
  }

  async #require(id: number): Promise<DeploymentRecord> {
    const deployment = await this.#store.find(id);
    if (!deployment) throw new DeploymentNotFoundError(`no deployment ${id}`);
    return deployment;
  }
}

export function waveCount(deployment: DeploymentRecord): number {
  return (JSON.parse(deployment.waves) as unknown[]).length;
}

/** Whether the car should be told to install this deployment's software now. */
export function toldToInstall(status: DeploymentStatus, state: VehicleState): boolean {
  if (isFinal(state) || state === 'waiting') return false;
  // Paused, waiting for an operator or cancelled: nothing new is offered, but a car that started finishes.
  return status === 'running' || isBusy(state);
}

function checkName(text: string, what: string): string {
  const name = text.trim();
  if (name === '' || [...name].length > maxNameLength) throw new DeploymentInputError(`${what} needs a name of 1 to ${maxNameLength} characters`);
  // eslint-disable-next-line no-control-regex -- refusing control characters is the point
  if (/[\u0000-\u001f\u007f-\u009f]/.test(name)) throw new DeploymentInputError(`${what}'s name must be plain text on one line`);
  return name;
}

/** The deployment a campaign id names ("12"), or undefined for a car's own campaign id (`c-…`) or anything else. */
export function deploymentIdOf(campaignId: string | null | undefined): number | undefined {
  if (!campaignId || !/^[1-9][0-9]{0,15}$/.test(campaignId)) return undefined;
  return Number(campaignId);
}
