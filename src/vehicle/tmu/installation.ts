import type { SignedManifest } from '../../crypto/manifest.ts';
import type { Logger } from '../../logging/logger.ts';
import { TmuError } from './errors.ts';
import { FlashStepError, ImageRefusedError } from './flash-errors.ts';
import type { BootReport } from './flash-session.ts';
import type { UpdateResultKind } from './server-api.ts';
import type { TargetStatus } from './tmu-state.ts';
import type { UpdateTarget } from './update-target.ts';
import { errorMessage } from '../../errors/error-message.ts';

/** One ECU of an installation: where its image is and what it must run afterwards. */
export interface InstallStep {
  target: UpdateTarget;
  image: { path: string };
  manifest: SignedManifest;
  /** The version and SHA-256 the ECU must boot for the step to count as done. */
  to: string;
  sha256: string;
}

export interface TargetOutcome {
  result: UpdateResultKind;
  error?: string;
  /** The ECU refused the image at its check: the bytes (or the manifest) are what is wrong. */
  refused?: boolean;
}

export interface InstallationResult {
  outcome: 'success' | 'failed' | 'rolled-back';
  targets: Record<string, TargetOutcome>;
  message: string;
}

/** An installation that did not happen: every ECU either rolled back or failed. */
export type UnfinishedInstallation = InstallationResult & { outcome: 'failed' | 'rolled-back' };

export interface InstallationOptions {
  /** Tries per ECU for programming (erase, download, check); a refused image is not sent again. Default 3. */
  maxTries?: number;
  /** Each ECU's step changes (persisted by the TMU, shown on the HMI). */
  onStatus?: (ecu: string, status: TargetStatus, error?: string) => void | Promise<void>;
  signal?: AbortSignal;
  logger?: Logger | undefined;
  /**
   * Why the update must stop now, or null (checked before and after every step): the CGW refused the update's
   * progress or answered unauthentically. Unlike `signal` (a shutdown, resumed later), this fails the
   * installation and rolls back what switched.
   */
  vetoed?: () => string | null;
}

/**
 * The all-or-nothing update of several ECUs (docs/vehicle-protocol.md, steps 3 to 5):
 *
 * 1. every target is programmed and checked (0xFF01), each failed transfer retried from the erase;
 * 2. only when all checked OK is each one activated (0x11 01), in order, and must boot the new image, which
 *    runs on trial (unconfirmed);
 * 3. only when all run their new images (read once more right before) is each one confirmed (0xFF03): the
 *    commit, after which an ECU is not rolled back;
 * 4. if any ECU fails before its confirmation, every ECU that switched and is not confirmed is rolled back
 *    (0xFF02 + 0x11 01), newest first: all end on their old versions. Only a confirmation failing after
 *    others succeeded can leave those on their new versions (the report says which).
 *
 * An ECU that already runs the new image when the installation starts (a restart interrupted an earlier
 * attempt after its activation) counts as switched: it is not flashed again, but rolled back like the
 * others if the rest fails, and confirmed like them at the end. Aborting (shutdown) stops at once and rolls
 * nothing back: the next start resumes from the ECUs' banks.
 */
export async function install(steps: readonly InstallStep[], options: InstallationOptions = {}): Promise<InstallationResult> {
  const { logger, signal } = options;
  const maxTries = options.maxTries ?? 3;
  const status = async (ecu: string, value: TargetStatus, error?: string) => options.onStatus?.(ecu, value, error);
  const targets: Record<string, TargetOutcome> = {};
  for (const step of steps) targets[step.target.ecu] = { result: 'not-attempted' };

  const switched: InstallStep[] = [];
  /** Steps whose ECU confirmed the new image (an earlier attempt, or this one): no longer rolled back. */
  const confirmed: InstallStep[] = [];
  const toProgram: InstallStep[] = [];
  let failure: { ecu: string; message: string } | null = null;
  const veto = (ecu: string): { ecu: string; message: string } | null => {
    const reason = options.vetoed?.() ?? null;
    return reason === null ? null : { ecu, message: `stopped: ${reason}` };
  };
  for (const step of steps) {
    signal?.throwIfAborted();
    const ecu = step.target.ecu;
    let state;
    try {
      state = await step.target.bootState();
    } catch (error) {
      if (signal?.aborted) throw error;
      failure = { ecu, message: `cannot read what it runs: ${errorMessage(error)}` };
      targets[ecu] = { result: 'failed', error: failure.message };
      await status(ecu, 'failed', failure.message);
      break;
    }
    if (state.version === step.to && state.sha256 === step.sha256 && !state.trialPending) {
      logger?.info({ ecu, version: step.to, confirmed: state.confirmed }, `${ecu}: already runs ${step.to} (an earlier attempt activated it)`);
      switched.push(step);
      if (state.confirmed) confirmed.push(step);
      await status(ecu, 'activated');
    } else {
      toProgram.push(step);
    }
  }

  for (const step of failure ? [] : toProgram) {
    const ecu = step.target.ecu;
    failure = veto(ecu);
    if (failure) break;
    const problem = await programWithRetries(step, maxTries, options);
    if (problem) {
      failure = { ecu, message: problem.message };
      targets[ecu] = { result: 'failed', error: problem.message, refused: problem.refused };
      await status(ecu, 'failed', problem.message);
      break;
    }
    await status(ecu, 'programmed');
  }

  let activationFailed: InstallStep | null = null;
  if (!failure) {
    for (const step of toProgram) {
      signal?.throwIfAborted();
      const ecu = step.target.ecu;
      failure = veto(ecu);
      if (failure) break;
      let boot: BootReport | undefined;
      let problem: string | undefined;
      try {
        boot = await step.target.activate();
        if (!boot.switched || boot.version !== step.to || boot.sha256 !== step.sha256) {
          problem = `booted ${boot.version ?? 'nothing'} on bank ${boot.activeBank} (${boot.outcome}${boot.reason ? `: ${boot.reason}` : ''}) instead of ${step.to}`;
        }
      } catch (error) {
        if (signal?.aborted) throw error;
        problem = errorMessage(error);
      }
      if (problem) {
        failure = { ecu, message: problem };
        targets[ecu] = { result: 'failed', error: problem };
        activationFailed = boot ? null : step;
        await status(ecu, 'failed', problem);
        logger?.warn({ ecu, reason: problem }, `${ecu}: activation failed`);
        break;
      }
      logger?.info({ ecu, version: boot!.version, bank: boot!.activeBank }, `${ecu}: activated ${step.to}`);
      switched.push(step);
      await status(ecu, 'activated');
    }
  }

  // The last word: a refusal that came while the last ECU was activated still undoes the update.
  failure ??= veto(steps.at(-1)?.target.ecu ?? '');
  if (!failure) {
    const problem = await confirmAll(steps, confirmed, targets, options);
    // An ECU that went back to its old image by itself has nothing to roll back.
    if (problem?.runsOldImage) switched.splice(switched.indexOf(problem.step), 1);
    failure = problem;
  }
  if (!failure) {
    return { outcome: 'success', targets, message: `Installed ${steps.map((s) => `${s.target.ecu} ${s.to}`).join(', ')}.` };
  }

  // An ECU that did not answer after its reset may still have switched: roll it back too if it did.
  if (activationFailed) {
    const state = await activationFailed.target.bootState().catch(() => null);
    if (state && state.sha256 === activationFailed.sha256) switched.push(activationFailed);
  }
  return rollBack(switched, confirmed, targets, `${failure.ecu} failed: ${failure.message}`, options);
}

/**
 * The commit: every target must still run its new image, nothing armed (a last look at all of them, since a
 * confirmation cannot be undone), then each confirms it (0xFF03) and counts as installed. Returns the first
 * failure, with `confirmed` holding the steps confirmed before it.
 */
async function confirmAll(steps: readonly InstallStep[], confirmed: InstallStep[], targets: Record<string, TargetOutcome>,
  options: InstallationOptions): Promise<{ ecu: string; message: string; step: InstallStep; runsOldImage: boolean } | null> {
  const { logger, signal } = options;
  const fail = async (step: InstallStep, message: string, runsOldImage = false) => {
    const ecu = step.target.ecu;
    targets[ecu] = { result: 'failed', error: message };
    await options.onStatus?.(ecu, 'failed', message);
    logger?.warn({ ecu, reason: message }, `${ecu}: not confirmed`);
    return { ecu, message, step, runsOldImage };
  };
  for (const step of steps) {
    signal?.throwIfAborted();
    let state;
    try {
      state = await step.target.bootState();
    } catch (error) {
      if (signal?.aborted) throw error;
      return fail(step, `cannot read what it runs before the confirmation: ${errorMessage(error)}`);
    }
    if (state.sha256 !== step.sha256 || state.trialPending) {
      return fail(step, `runs ${state.version ?? 'nothing'} on bank ${state.active}${state.trialPending ? ' with a boot armed' : ''} instead of ${step.to} before the confirmation`,
        state.sha256 !== step.sha256 && !state.trialPending);
    }
  }
  for (const step of steps) {
    signal?.throwIfAborted();
    const ecu = step.target.ecu;
    try {
      await step.target.confirm();
    } catch (error) {
      if (signal?.aborted) throw error;
      return fail(step, `confirmation failed: ${errorMessage(error)}`);
    }
    if (!confirmed.includes(step)) confirmed.push(step);
    targets[ecu] = { result: 'installed' };
    await options.onStatus?.(ecu, 'installed');
    logger?.info({ ecu, version: step.to }, `${ecu}: confirmed ${step.to}`);
  }
  return null;
}

/**
 * Gives up an installation that cannot be finished (restarted in the middle more often than allowed):
 * nothing is programmed or activated, and every ECU that an earlier attempt switched to its new image (on
 * trial or confirmed) is rolled back, newest first, so the vehicle ends on its old versions, as
 * all-or-nothing promises, instead of on a mix of old and new.
 */
export async function abandon(steps: readonly InstallStep[], reason: string, options: InstallationOptions = {}):
  Promise<UnfinishedInstallation> {
  const { signal } = options;
  const targets: Record<string, TargetOutcome> = {};
  for (const step of steps) targets[step.target.ecu] = { result: 'not-attempted' };
  const switched: InstallStep[] = [];
  const confirmed: InstallStep[] = [];
  for (const step of steps) {
    signal?.throwIfAborted();
    const ecu = step.target.ecu;
    try {
      const state = await step.target.bootState();
      if (state.sha256 === step.sha256) {
        switched.push(step);
        if (state.confirmed) confirmed.push(step);
      }
    } catch (error) {
      if (signal?.aborted) throw error;
      const message = `cannot read what it runs: ${errorMessage(error)}`;
      targets[ecu] = { result: 'failed', error: message };
      await options.onStatus?.(ecu, 'failed', message);
    }
  }
  return rollBack(switched, confirmed, targets, reason, options);
}

/**
 * Rolls back the ECUs that switched (newest first) after `failure`, except those that confirmed their new
 * image (installed for good: a rollback would be refused); the installation's result.
 */
async function rollBack(switched: readonly InstallStep[], confirmed: readonly InstallStep[], targets: Record<string, TargetOutcome>,
  failure: string, options: InstallationOptions): Promise<UnfinishedInstallation> {
  const { logger, signal } = options;
  const status = async (ecu: string, value: TargetStatus, error?: string) => options.onStatus?.(ecu, value, error);
  let rolledBack = 0;
  const kept: string[] = [];
  for (const step of switched.filter((candidate) => confirmed.includes(candidate))) {
    const ecu = step.target.ecu;
    targets[ecu] = { result: 'installed' };
    kept.push(`${ecu} ${step.to}`);
    await status(ecu, 'installed');
    logger?.warn({ ecu, version: step.to }, `${ecu}: stays on ${step.to} (already confirmed, not rolled back)`);
  }
  for (const step of [...switched].reverse().filter((candidate) => !confirmed.includes(candidate))) {
    const ecu = step.target.ecu;
    await status(ecu, 'rolled-back');
    try {
      const boot = await step.target.rollback();
      if (boot.sha256 === step.sha256) throw new TmuError(`still runs ${boot.version} after the rollback`);
      rolledBack += 1;
      if (targets[ecu]!.result !== 'failed') targets[ecu] = { result: 'rolled-back' };
      logger?.warn({ ecu, version: boot.version, bank: boot.activeBank }, `${ecu}: rolled back to ${boot.version}`);
    } catch (error) {
      if (signal?.aborted) throw error;
      const message = `rollback failed: ${errorMessage(error)}`;
      targets[ecu] = { result: 'failed', error: message };
      await status(ecu, 'failed', message);
      logger?.error({ ecu, err: error }, `${ecu}: ${message}`);
    }
  }
  const outcome = rolledBack > 0 ? 'rolled-back' : 'failed';
  return {
    outcome,
    targets,
    message: `${failure}${rolledBack > 0 ? `; rolled back ${rolledBack} ECU(s) to their old versions` : ''}`
      + `${kept.length > 0 ? `; already confirmed, kept: ${kept.join(', ')}` : ''}`,
  };
}

/** Programs one ECU; returns why it finally failed, or undefined. */
async function programWithRetries(step: InstallStep, maxTries: number, options: InstallationOptions):
  Promise<{ message: string; refused: boolean } | undefined> {
  const ecu = step.target.ecu;
  for (let attempt = 1; ; attempt++) {
    options.signal?.throwIfAborted();
    try {
      await step.target.program(step.image, step.manifest);
      options.logger?.info({ ecu, attempt }, `${ecu}: image written and checked`);
      return undefined;
    } catch (error) {
      if (options.signal?.aborted) throw error;
      const message = errorMessage(error);
      // The ECU's verdict on the bytes, or a key it refuses, will not change by sending them again.
      const refused = error instanceof ImageRefusedError;
      const final = refused || (error instanceof FlashStepError && error.step === 'security' && error.nrc !== undefined);
      if (final || attempt >= maxTries) {
        options.logger?.error({ ecu, attempt, err: error }, `${ecu}: programming failed: ${message}`);
        return { message, refused };
      }
      options.logger?.warn({ ecu, attempt, reason: message }, `${ecu}: try ${attempt} of ${maxTries} failed; starting again from the erase`);
    }
  }
}
