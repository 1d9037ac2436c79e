import { z } from 'zod';
import type { CanFrame } from '../../can/bus/frame.ts';
import type { FrameDescriber } from '../../can/log/traffic-decoder.ts';
import { SecOcReceiver, STATUS_FRAME_PROFILE } from '../../can/secoc/index.ts';
import { readValidJson } from '../../files/read-optional.ts';
import { standardVehicleConfig, type VehicleConfig } from '../config.ts';
import { readEcuKeys } from '../keys/ecu-keys.ts';
import { statusKeyName } from '../keys/key-plan.ts';
import { STATUS_FRESHNESS_BLOCK, statusFreshnessPath } from './status-broadcast.ts';
import { EcuState, STATUS_FRAME_BYTES, STATUS_PAYLOAD_BYTES, readStatusFrame } from './status-frame.ts';

/** One ECU whose status frames are described; with its key they are verified too. */
export interface DescribedSender {
  ecu: string;
  statusId: number;
  key?: Uint8Array;
  /** Where verification starts (a value at or below the sender's current freshness). Default 0. */
  latestFreshness?: bigint;
}

/**
 * `canota can dump --decode` for status frames (can/canota.dbc): the signals, and whether the MAC verified:
 * `mac=ok`, `mac=bad` (forged, corrupted, or not a status frame), `mac=replay` (genuine but not newer than
 * one already seen), `mac=unverified` (no key: the sender's keys.json was not given). A bus monitor, not a
 * receiver: it resynchronises without waiting for silence, and nothing acts on its verdicts.
 */
export class StatusFrameDescriber implements FrameDescriber {
  readonly #senders = new Map<number, { ecu: string; receiver: SecOcReceiver | null }>();

  constructor(senders: readonly DescribedSender[]) {
    for (const sender of senders) {
      const receiver = sender.key
        ? new SecOcReceiver({
          key: sender.key, dataId: sender.statusId, profile: STATUS_FRAME_PROFILE, authenticLength: STATUS_PAYLOAD_BYTES,
          resyncAfterSilenceMs: 0, ...(sender.latestFreshness !== undefined ? { initialFreshness: sender.latestFreshness } : {}),
        })
        : null;
      this.#senders.set(sender.statusId, { ecu: sender.ecu, receiver });
    }
  }

  /** The senders whose frames are verified (a key was found). */
  get verifying(): string[] {
    return [...this.#senders.values()].filter((sender) => sender.receiver).map((sender) => sender.ecu);
  }

  describe(frame: CanFrame): string[] | null {
    if (frame.extended || frame.remote || frame.error) return null;
    const sender = this.#senders.get(frame.id);
    if (!sender) return null;
    const name = `${sender.ecu}_Status`;
    if (frame.fd || frame.data.length !== STATUS_FRAME_BYTES) {
      return [`${name}: not a status frame (${frame.fd ? 'CAN FD, ' : ''}${frame.data.length} bytes) mac=bad`];
    }
    const { status, freshness } = readStatusFrame(frame.data);
    let verdict = 'unverified';
    let full = '';
    if (sender.receiver) {
      const result = sender.receiver.verify(frame.data);
      verdict = result.result === 'verified' ? 'ok' : result.result === 'replay' ? 'replay' : 'bad';
      if (result.result === 'verified' || result.result === 'replay') full = `/${result.freshness}`;
    }
    const flags = [
      `bank=${status.activeBank}`,
      ...(status.trialPending ? ['trial-pending'] : []),
      ...(status.lastBootRolledBack ? ['rolled-back'] : []),
      status.vehicleMoving ? 'moving' : 'stopped',
    ];
    return [`${name} ${status.version.join('.')} ${EcuState[status.state] ?? status.state} ${flags.join(' ')} fv=${freshness}${full} mac=${verdict}`];
  }
}

const counterFileSchema = z.object({ reservedUpTo: z.string().regex(/^[0-9]{1,20}$/) });

/**
 * The describer for a vehicle: with `stateDir`, its vehicle.json (else the standard car's ids) and, read
 * only, each ECU's own `status:<ECU>` key from its keys.json and a starting point from its
 * status-freshness.json. Without a state dir, frames are decoded but `mac=unverified`.
 */
export async function vehicleStatusDescriber(options: { config?: VehicleConfig | null; stateDir?: string }): Promise<StatusFrameDescriber> {
  const config = options.config ?? standardVehicleConfig('00000000000000000');
  const senders: DescribedSender[] = [];
  for (const ecu of config.ecus) {
    const sender: DescribedSender = { ecu: ecu.name, statusId: ecu.statusId };
    if (options.stateDir !== undefined) {
      // A missing or damaged key file leaves that sender's frames unverified: a monitor never stops on it.
      const keys = await readEcuKeys(options.stateDir, ecu.name).catch(() => null);
      if (keys?.has(statusKeyName(ecu.name))) sender.key = keys.get(statusKeyName(ecu.name));
      const counter = await readValidJson(statusFreshnessPath(options.stateDir, ecu.name), counterFileSchema);
      // The sender hands out values below its reservation, at most 1.5 blocks below it.
      if (counter) {
        const start = BigInt(counter.reservedUpTo) - BigInt(Math.ceil(STATUS_FRESHNESS_BLOCK * 1.5)) - 1n;
        if (start > 0n) sender.latestFreshness = start;
      }
    }
    senders.push(sender);
  }
  return new StatusFrameDescriber(senders);
}
