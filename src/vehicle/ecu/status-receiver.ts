import { join } from 'node:path';
import type { Bus } from '../../can/bus/bus.ts';
import type { CanFrame } from '../../can/bus/frame.ts';
import {
  AcceptedFreshnessFile, SecOcReceiver, STATUS_FRAME_PROFILE, type SecOcCounters, type SecOcVerdict,
} from '../../can/secoc/index.ts';
import { readOptional } from '../../files/read-optional.ts';
import type { Logger } from '../../logging/logger.ts';
import { StatisticsFile } from '../cgw/statistics-file.ts';
import type { VehicleConfig } from '../config.ts';
import { loadEcuKeys, type EcuKeys } from '../keys/ecu-keys.ts';
import { statusKeyName } from '../keys/key-plan.ts';
import { ecuStateDir } from './state-dir.ts';
import { STATUS_FRAME_BYTES, STATUS_PAYLOAD_BYTES, decodeStatusPayload, type EcuStatus } from './status-frame.ts';

/** `<state-dir>/ecus/<NAME>/secoc-accepted.json`: the latest accepted freshness of each status frame it receives. */
export const acceptedFreshnessPath = (stateDir: string, ecu: string): string => join(ecuStateDir(stateDir, ecu), 'secoc-accepted.json');
/** `<state-dir>/ecus/<NAME>/secoc.json`: its receivers' counters, for `canota vehicle status`. */
export const secOcStatisticsPath = (stateDir: string, ecu: string): string => join(ecuStateDir(stateDir, ecu), 'secoc.json');

/** After a restart nobody heard, the sender is silent at least this long before its frames resynchronise. */
const RESYNC_AFTER_SILENCE_MS = 1000;
/** Rejections are logged one line per sender at first, then one summary per this period at most. */
const LOG_PERIOD_MS = 10_000;

/** A status frame whose MAC and freshness verified. */
export interface VerifiedStatus {
  /** The sending ECU. */
  ecu: string;
  status: EcuStatus;
  freshness: bigint;
  /** performance.now() at verification. */
  at: number;
}

export interface SenderStatistics extends SecOcCounters {
  /** The latest rejection (ISO time, verdict, why), if any. */
  lastRejection?: { at: string; result: Exclude<SecOcVerdict['result'], 'verified'>; reason: string };
}

/** `secoc.json`: what one ECU's status-frame receivers did, per sending ECU. */
export interface SecOcStatistics {
  ecu: string;
  updatedAt: string;
  senders: Record<string, SenderStatistics>;
}

export interface StatusReceiverOptions {
  config: VehicleConfig;
  stateDir: string;
  /** The receiving ECU: its keys come from its own keys.json, its state goes to its own dir. */
  ecu: string;
  /** The ECU's keys when already loaded (they must be its own). */
  keys?: EcuKeys;
  /** Whose frames to verify; default every other ECU whose status key this ECU holds. */
  senders?: readonly string[];
  /** How often secoc.json is rewritten (when it changed); default 2 s. 0: never written. */
  statisticsIntervalMs?: number;
  /** How often secoc-accepted.json is rewritten at most (the replay window after a crash); default 1 s. */
  acceptedWriteIntervalMs?: number;
  now?: () => number;
  logger?: Logger;
}

interface Sender {
  ecu: string;
  receiver: SecOcReceiver;
  lastRejection?: SenderStatistics['lastRejection'];
  /** Rejections since the last log line, and when that line was written. */
  unlogged: number;
  loggedAt: number | null;
}

/**
 * Everything one ECU receives of other ECUs' status frames, verified (SecOC status-frame profile, key
 * `status:<SENDER>`): a SecOcReceiver per sender, the latest accepted freshness kept in the ECU's own
 * `secoc-accepted.json`, the counters in its `secoc.json`. Only verified statuses reach `onStatus`
 * listeners; forged, replayed and malformed frames are counted, logged (rate-limited) and otherwise ignored.
 * One instance per ECU and bus node: each frame must be verified once (a second look would be a replay).
 */
export class StatusReceiver {
  readonly ecu: string;
  readonly #byId = new Map<number, Sender>();
  readonly #accepted: AcceptedFreshnessFile;
  readonly #statisticsFile: StatisticsFile<SecOcStatistics> | null;
  readonly #listeners = new Set<(verified: VerifiedStatus) => void>();
  readonly #detach = new Set<() => void>();
  readonly #now: () => number;
  readonly #logger: Logger | undefined;
  #closed = false;

  private constructor(options: StatusReceiverOptions, keys: EcuKeys, accepted: AcceptedFreshnessFile) {
    const { config, ecu, stateDir } = options;
    this.ecu = ecu;
    this.#accepted = accepted;
    this.#now = options.now ?? (() => performance.now());
    this.#logger = options.logger?.child({ ecu, component: 'secoc' });
    const senders = options.senders ?? config.ecus.map((other) => other.name).filter((name) => name !== ecu && keys.has(statusKeyName(name)));
    for (const name of senders) {
      const sender = config.ecus.find((other) => other.name === name);
      if (!sender) continue;
      this.#byId.set(sender.statusId, {
        ecu: name,
        unlogged: 0,
        loggedAt: null,
        receiver: new SecOcReceiver({
          key: keys.get(statusKeyName(name)),
          dataId: sender.statusId,
          profile: STATUS_FRAME_PROFILE,
          authenticLength: STATUS_PAYLOAD_BYTES,
          store: { file: accepted, entry: statusKeyName(name) },
          resyncAfterSilenceMs: RESYNC_AFTER_SILENCE_MS,
          now: this.#now,
        }),
      });
    }
    const interval = options.statisticsIntervalMs ?? 2000;
    this.#statisticsFile = interval > 0
      ? new StatisticsFile(secOcStatisticsPath(stateDir, ecu), () => this.statistics(), { intervalMs: interval, ...(options.logger ? { logger: options.logger } : {}) })
      : null;
    this.#statisticsFile?.start();
    if (accepted.damaged) this.#logger?.warn({ path: accepted.path, reason: accepted.damaged }, 'accepted freshness values lost: status frames verify again from 0');
  }

  static async open(options: StatusReceiverOptions): Promise<StatusReceiver> {
    const keys = options.keys ?? await loadEcuKeys(options.config, options.stateDir, options.ecu);
    if (keys.ecu !== options.ecu) throw new Error(`the keys of ${keys.ecu} given to the status receiver of ${options.ecu}`);
    const accepted = await AcceptedFreshnessFile.open(acceptedFreshnessPath(options.stateDir, options.ecu), {
      ...(options.acceptedWriteIntervalMs !== undefined ? { writeIntervalMs: options.acceptedWriteIntervalMs } : {}),
    });
    return new StatusReceiver(options, keys, accepted);
  }

  /** The senders verified here. */
  get senders(): string[] {
    return [...this.#byId.values()].map((sender) => sender.ecu);
  }

  /** Verifies the status frames this node receives on `bus` (one node per bus: a frame heard twice is a replay). */
  attach(bus: Bus): () => void {
    const filters = [...this.#byId.keys()].map((id) => ({ id, mask: 0x7ff, extended: false }));
    if (filters.length === 0) return () => undefined;
    const detach = bus.onFrame((frame) => void this.receive(frame), filters);
    this.#detach.add(detach);
    return () => {
      detach();
      this.#detach.delete(detach);
    };
  }

  onStatus(listener: (verified: VerifiedStatus) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /**
   * Verifies one frame: the verdict, or null when it is not a status frame received here (another id, an
   * extended id, a remote or error frame). Never throws.
   */
  receive(frame: CanFrame): SecOcVerdict | null {
    const sender = frame.extended || frame.remote || frame.error || this.#closed ? undefined : this.#byId.get(frame.id);
    if (!sender) return null;
    // Status frames are classic 8-byte frames; an FD frame is not one, whatever its bytes.
    const verdict: SecOcVerdict = frame.fd || frame.data.length !== STATUS_FRAME_BYTES
      ? countMalformed(sender.receiver, `${frame.fd ? 'CAN FD' : 'classic'} frame of ${frame.data.length} bytes`)
      : sender.receiver.verify(frame.data);
    if (verdict.result === 'verified') {
      const verified = { ecu: sender.ecu, status: decodeStatusPayload(verdict.authenticPdu), freshness: verdict.freshness, at: this.#now() };
      for (const listener of this.#listeners) listener(verified);
    } else {
      this.#rejected(sender, verdict);
    }
    return verdict;
  }

  statistics(): SecOcStatistics {
    const senders: Record<string, SenderStatistics> = {};
    for (const sender of this.#byId.values()) {
      senders[sender.ecu] = { ...sender.receiver.counters, ...(sender.lastRejection ? { lastRejection: sender.lastRejection } : {}) };
    }
    return { ecu: this.ecu, updatedAt: new Date().toISOString(), senders };
  }

  /** Stops listening and writes the accepted freshness values and the counters. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const detach of this.#detach) detach();
    this.#detach.clear();
    await this.#accepted.close();
    await this.#statisticsFile?.stop();
  }

  #rejected(sender: Sender, verdict: Exclude<SecOcVerdict, { result: 'verified' }>): void {
    sender.lastRejection = { at: new Date().toISOString(), result: verdict.result, reason: verdict.reason };
    sender.unlogged += 1;
    const now = this.#now();
    if (sender.loggedAt !== null && now - sender.loggedAt < LOG_PERIOD_MS) return;
    const { verified, macFailures, replays, malformed } = sender.receiver.counters;
    this.#logger?.warn({
      sender: sender.ecu, result: verdict.result, reason: verdict.reason, rejected: sender.unlogged, verified, macFailures, replays, malformed,
    }, sender.loggedAt === null
      ? `status frame of ${sender.ecu} rejected (${verdict.result})`
      : `${sender.unlogged} status frames of ${sender.ecu} rejected in the last ${Math.round((now - sender.loggedAt) / 1000)} s`);
    sender.loggedAt = now;
    sender.unlogged = 0;
  }
}

function countMalformed(receiver: SecOcReceiver, reason: string): SecOcVerdict {
  receiver.counters.malformed += 1;
  return { result: 'malformed', reason };
}

/** The counters an ECU last wrote, or null when it never wrote any (or the file is damaged). */
export async function readSecOcStatistics(stateDir: string, ecu: string): Promise<SecOcStatistics | null> {
  const text = await readOptional(secOcStatisticsPath(stateDir, ecu));
  if (text === null) return null;
  try {
    return JSON.parse(text) as SecOcStatistics;
  } catch {
    return null;
  }
}
