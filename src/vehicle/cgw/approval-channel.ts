import { join } from 'node:path';
import {
  AcceptedFreshnessFile, DIAGNOSTIC_PROFILE, FreshnessCounter, SecOcReceiver, buildSecuredPdu, computeMac, macEquals,
  truncateMac, type SecOcCounters,
} from '../../can/secoc/index.ts';
import { loadEcuKeys, type EcuKeys } from '../keys/ecu-keys.ts';
import type { VehicleConfig } from '../config.ts';
import { APPROVAL_KEY } from '../keys/key-plan.ts';
import { ecuStateDir } from '../ecu/state-dir.ts';
import { ApprovalAuthenticationError, UnauthenticatedAnswerError } from './errors.ts';

/**
 * The TMU↔CGW approval channel, authenticated SecOC-style (docs/in-vehicle-security.md) with the `approval`
 * key that only the TMU and the CGW hold.
 *
 * - A request's Authentic I-PDU is `controlType ‖ routineId (2) ‖ option record`; the TMU appends its full
 *   64-bit freshness (a persisted counter: never reused) and a 128-bit truncated HMAC-SHA256 over Data Id
 *   0xA001 ‖ PDU ‖ freshness. On the wire, freshness and MAC follow the option record.
 * - The CGW accepts a request only if the MAC verifies and the freshness is newer than any it accepted
 *   (kept on disk before it acts), so a recorded request cannot be played again, even after a restart.
 * - The answer's status record is followed by a 128-bit MAC over Data Id 0xA002 ‖ `controlType ‖ routineId
 *   ‖ answer` with the request's freshness: an answer is bound to the very request it answers, so neither a
 *   forged nor a replayed "approved" is believed.
 */
export const APPROVAL_REQUEST_DATA_ID = 0xa001;
export const APPROVAL_ANSWER_DATA_ID = 0xa002;
const FRESHNESS_BYTES = DIAGNOSTIC_PROFILE.freshnessBits / 8;
const MAC_BYTES = DIAGNOSTIC_PROFILE.macBits / 8;

function authenticPdu(controlType: number, routineId: number, record: Uint8Array): Uint8Array {
  const pdu = new Uint8Array(3 + record.length);
  pdu[0] = controlType;
  pdu[1] = routineId >> 8;
  pdu[2] = routineId & 0xff;
  pdu.set(record, 3);
  return pdu;
}

function answerMac(key: Uint8Array, controlType: number, routineId: number, freshness: bigint, answer: Uint8Array): Uint8Array {
  return truncateMac(computeMac(key, APPROVAL_ANSWER_DATA_ID, authenticPdu(controlType, routineId, answer), freshness), DIAGNOSTIC_PROFILE.macBits);
}

/** The TMU's end: secures each request and checks the answer belongs to it. */
export class ApprovalChannelTester {
  readonly #key: Uint8Array;
  readonly #counter: FreshnessCounter;

  constructor(key: Uint8Array, counter: FreshnessCounter) {
    this.#key = key;
    this.#counter = counter;
  }

  /** The channel of the config's tester (the TMU), with its own keys from `stateDir`. */
  static async forTester(config: VehicleConfig, stateDir: string): Promise<ApprovalChannelTester> {
    return ApprovalChannelTester.open(await loadEcuKeys(config, stateDir, config.tester), stateDir);
  }

  /** The tester's channel with its key and its freshness counter in its own ECU state dir. */
  static async open(keys: EcuKeys, stateDir: string): Promise<ApprovalChannelTester> {
    const counter = await FreshnessCounter.open(join(ecuStateDir(stateDir, keys.ecu), 'approval-freshness.json'));
    return new ApprovalChannelTester(keys.get(APPROVAL_KEY), counter);
  }

  /** The option record to send: `record ‖ freshness ‖ MAC`, and the freshness the answer must be bound to. */
  async secure(controlType: number, routineId: number, record: Uint8Array): Promise<{ record: Uint8Array; freshness: bigint }> {
    const freshness = await this.#counter.next();
    const secured = buildSecuredPdu(this.#key, APPROVAL_REQUEST_DATA_ID, authenticPdu(controlType, routineId, record), freshness, DIAGNOSTIC_PROFILE);
    return { record: secured.subarray(3), freshness };
  }

  /** The answer's status record without its MAC; UnauthenticatedAnswerError when the MAC is not the CGW's for this request. */
  open(controlType: number, routineId: number, freshness: bigint, status: Uint8Array): Uint8Array {
    if (status.length < MAC_BYTES) {
      throw new UnauthenticatedAnswerError(`the answer to routine 0x${routineId.toString(16).toUpperCase()} is not authenticated by the CGW (${status.length} bytes, too short for a ${MAC_BYTES}-byte MAC)`);
    }
    const answer = status.subarray(0, status.length - MAC_BYTES);
    if (!macEquals(answerMac(this.#key, controlType, routineId, freshness, answer), status.subarray(status.length - MAC_BYTES))) {
      throw new UnauthenticatedAnswerError(`the answer to routine 0x${routineId.toString(16).toUpperCase()} is not authenticated by the CGW (forged, replayed or damaged)`);
    }
    return new Uint8Array(answer);
  }

  close(): Promise<void> {
    return this.#counter.close();
  }
}

/** The CGW's end: verifies each request (MAC, freshness newer than any before) and seals its answer. */
export class ApprovalChannelGateway {
  readonly #key: Uint8Array;
  readonly #receiver: SecOcReceiver;
  readonly #accepted: AcceptedFreshnessFile;

  constructor(key: Uint8Array, accepted: AcceptedFreshnessFile) {
    this.#key = key;
    this.#accepted = accepted;
    this.#receiver = new SecOcReceiver({
      key, dataId: APPROVAL_REQUEST_DATA_ID, profile: DIAGNOSTIC_PROFILE, store: { file: accepted, entry: 'approval' },
    });
  }

  static async open(keys: EcuKeys, stateDir: string): Promise<ApprovalChannelGateway> {
    // Written after every accepted request (they are few): no replay window even after a power loss.
    const accepted = await AcceptedFreshnessFile.open(join(ecuStateDir(stateDir, keys.ecu), 'approval-accepted.json'), { writeIntervalMs: 0 });
    return new ApprovalChannelGateway(keys.get(APPROVAL_KEY), accepted);
  }

  /** Verified / MAC failures / replays / malformed requests since start. */
  get counters(): Readonly<SecOcCounters> {
    return this.#receiver.counters;
  }

  /**
   * The option record the TMU sent, once authenticated and fresh (and that freshness on disk); else
   * ApprovalAuthenticationError saying what failed. Never acts on anything unverified.
   */
  async open(controlType: number, routineId: number, record: Uint8Array): Promise<{ record: Uint8Array; freshness: bigint }> {
    const verdict = this.#receiver.verify(authenticPdu(controlType, routineId, record));
    if (verdict.result !== 'verified') {
      throw new ApprovalAuthenticationError(`request not authenticated (${verdict.result}): ${verdict.reason}`);
    }
    await this.#accepted.flush();
    return { record: new Uint8Array(verdict.authenticPdu.subarray(3)), freshness: verdict.freshness };
  }

  /** `answer ‖ MAC` bound to the request's freshness. */
  seal(controlType: number, routineId: number, freshness: bigint, answer: Uint8Array): Uint8Array {
    const sealed = new Uint8Array(answer.length + MAC_BYTES);
    sealed.set(answer, 0);
    sealed.set(answerMac(this.#key, controlType, routineId, freshness, answer), answer.length);
    return sealed;
  }

  close(): Promise<void> {
    return this.#accepted.close();
  }
}

export { FRESHNESS_BYTES as APPROVAL_FRESHNESS_BYTES, MAC_BYTES as APPROVAL_MAC_BYTES };
