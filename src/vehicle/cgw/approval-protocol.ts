/**
 * The driver-approval routines on the CGW (docs/vehicle-protocol.md, "Driver approval on the CGW"): routine
 * ids, status codes and the JSON payloads, shared by the CGW (server) and the TMU (tester) so both sides
 * encode and check them the same way.
 */
import { z } from 'zod';
import { ApprovalResponseError, InvalidApprovalMessageError } from './errors.ts';
import { errorMessage } from '../../errors/error-message.ts';
import { GRANT_BYTES, SECURITY_KEY_BYTES, type GrantPurpose } from '../keys/programming-grant.ts';

/** 0x31 01/03/02 F001: offer, result, stop. */
export const APPROVAL_ROUTINE = 0xf001;
/** 0x31 01 F002: progress for the HMI. */
export const PROGRESS_ROUTINE = 0xf002;

/** Status record of `31 03 F001`. */
export enum ApprovalStatusCode {
  Pending = 0x00,
  Approved = 0x01,
  Declined = 0x02,
  Postponed = 0x03,
}

export type ApprovalStatus =
  | { state: 'pending' }
  | { state: 'approved' }
  | { state: 'declined' }
  /** The TMU may offer this campaign again after `retryAfterSeconds`. */
  | { state: 'postponed'; retryAfterSeconds: number };

/** Payloads are small; anything bigger is a mistake or an attack on the CGW's memory. */
export const MAX_PAYLOAD_BYTES = 32 * 1024;

const ecuName = z.string().regex(/^[A-Z][A-Z0-9_]{1,15}$/, 'an ECU name like "EDT"');
const version = z.string().min(1).max(64);

export const offeredEcuSchema = z.object({
  name: ecuName,
  /** The version installed now ("" when the TMU could not read it). */
  from: z.string().max(64),
  to: version,
  /** Image size in bytes. */
  size: z.number().int().min(0).max(0xffff_ffff),
  sha256: z.string().regex(/^[0-9a-f]{64}$/, '64 lowercase hex digits'),
});

export const approvalOfferSchema = z.object({
  campaign_id: z.string().min(1).max(128),
  ecus: z.array(offeredEcuSchema).min(1).max(16).superRefine((ecus, ctx) => {
    const seen = new Set<string>();
    for (const [index, ecu] of ecus.entries()) {
      if (seen.has(ecu.name)) ctx.addIssue({ code: 'custom', path: [index, 'name'], message: `${ecu.name} is offered twice` });
      seen.add(ecu.name);
    }
  }),
  /** Release notes, shown to the driver as plain text. */
  notes: z.string().max(8000).default(''),
  /** The TMU's own estimate; the CGW also estimates from the bus speed. */
  estimated_seconds: z.number().min(0).max(7 * 24 * 3600).optional(),
});

/** Known phases; others are accepted (lowercase words) and shown as they are. */
export const UPDATE_PHASES = [
  'waiting', 'erasing', 'programming', 'checking', 'resetting', 'done', 'failed', 'rolling-back', 'rolled-back',
] as const;

export const updateProgressSchema = z.object({
  ecu: ecuName,
  phase: z.string().regex(/^[a-z][a-z-]{0,31}$/, 'a lowercase phase like "programming"'),
  percent: z.number().min(0).max(100),
  message: z.string().max(500).optional(),
});

export const UPDATE_OUTCOMES = ['success', 'failed', 'rolled-back'] as const;

export const updateResultSchema = z.object({
  outcome: z.enum(UPDATE_OUTCOMES),
  /** Per ECU: what it ended on; the fields are informative and shown as given. */
  ecus: z.record(ecuName, z.looseObject({
    outcome: z.string().max(32).optional(),
    version: z.string().max(64).optional(),
    message: z.string().max(500).optional(),
  })).default({}),
  message: z.string().max(2000).optional(),
});

export type OfferedEcu = z.infer<typeof offeredEcuSchema>;
export type ApprovalOffer = z.infer<typeof approvalOfferSchema>;
/** What a tester writes: `notes` may be left out. */
export type ApprovalOfferInput = z.input<typeof approvalOfferSchema>;
export type UpdateProgress = z.infer<typeof updateProgressSchema>;
export type UpdateResult = z.infer<typeof updateResultSchema>;
export type UpdateResultInput = z.input<typeof updateResultSchema>;
export type UpdateOutcome = (typeof UPDATE_OUTCOMES)[number];

/** Checks a value against a payload schema; InvalidApprovalMessageError says what is wrong. */
export function checkPayload<T extends z.ZodType>(schema: T, value: unknown, what: string): z.infer<T> {
  const result = schema.safeParse(value);
  if (!result.success) throw new InvalidApprovalMessageError(`invalid ${what}:\n${z.prettifyError(result.error)}`);
  return result.data;
}

/** Decodes a routineControlOptionRecord holding UTF-8 JSON. */
export function decodePayload<T extends z.ZodType>(schema: T, record: Uint8Array, what: string): z.infer<T> {
  if (record.length === 0) throw new InvalidApprovalMessageError(`the ${what} is missing (empty record)`);
  if (record.length > MAX_PAYLOAD_BYTES) {
    throw new InvalidApprovalMessageError(`the ${what} has ${record.length} bytes (max ${MAX_PAYLOAD_BYTES})`);
  }
  let value: unknown;
  try {
    value = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(record));
  } catch (error) {
    throw new InvalidApprovalMessageError(`the ${what} is not UTF-8 JSON: ${errorMessage(error)}`);
  }
  return checkPayload(schema, value, what);
}

export function encodePayload(value: unknown): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(value));
}

export function encodeApprovalStatus(status: ApprovalStatus): Uint8Array {
  switch (status.state) {
    case 'pending': return Uint8Array.of(ApprovalStatusCode.Pending);
    case 'approved': return Uint8Array.of(ApprovalStatusCode.Approved);
    case 'declined': return Uint8Array.of(ApprovalStatusCode.Declined);
    case 'postponed': {
      const record = new Uint8Array(5);
      record[0] = ApprovalStatusCode.Postponed;
      const seconds = Math.min(0xffff_ffff, Math.max(0, Math.ceil(status.retryAfterSeconds)));
      new DataView(record.buffer).setUint32(1, seconds);
      return record;
    }
  }
}

export function decodeApprovalStatus(record: Uint8Array): ApprovalStatus {
  const code = record[0];
  const expectLength = (length: number) => {
    if (record.length !== length) {
      throw new ApprovalResponseError(`approval status 0x${code!.toString(16)} has ${record.length} bytes, expected ${length}`);
    }
  };
  switch (code) {
    case ApprovalStatusCode.Pending: expectLength(1); return { state: 'pending' };
    case ApprovalStatusCode.Approved: expectLength(1); return { state: 'approved' };
    case ApprovalStatusCode.Declined: expectLength(1); return { state: 'declined' };
    case ApprovalStatusCode.Postponed:
      expectLength(5);
      return { state: 'postponed', retryAfterSeconds: new DataView(record.buffer, record.byteOffset).getUint32(1) };
    case undefined: throw new ApprovalResponseError('empty approval status');
    default: throw new ApprovalResponseError(`unknown approval status 0x${code.toString(16)}`);
  }
}

/**
 * 0x31 01 F003: a programming grant (src/vehicle/keys/programming-grant.ts). Record: purpose (1 byte:
 * 0x00 access, 0x01 program, 0x02 rollback), the ECU name's length (1) and ASCII name, then the ECU's
 * security-access seed. Answer: the 16-byte security-access key, then the 69-byte grant.
 */
export const GRANT_ROUTINE = 0xf003;

export interface GrantRequest {
  purpose: GrantPurpose;
  ecu: string;
  seed: Uint8Array;
}

const GRANT_PURPOSES: readonly GrantPurpose[] = ['access', 'program', 'rollback'];

export function encodeGrantRequest(request: GrantRequest): Uint8Array {
  const name = Buffer.from(request.ecu, 'ascii');
  return new Uint8Array(Buffer.concat([Uint8Array.of(GRANT_PURPOSES.indexOf(request.purpose), name.length), name, request.seed]));
}

export function decodeGrantRequest(record: Uint8Array): GrantRequest {
  const purpose = GRANT_PURPOSES[record[0] ?? 0xff];
  if (purpose === undefined) throw new InvalidApprovalMessageError(`unknown grant purpose ${record[0] === undefined ? '(empty record)' : `0x${record[0].toString(16)}`}`);
  const length = record[1] ?? 0;
  const ecu = Buffer.from(record.subarray(2, 2 + length)).toString('ascii');
  const seed = record.subarray(2 + length);
  if (!/^[A-Z][A-Z0-9_]{1,15}$/.test(ecu) || ecu.length !== length) throw new InvalidApprovalMessageError('the grant request names no valid ECU');
  if (seed.length < 8 || seed.length > 64 || seed.every((byte) => byte === 0)) {
    throw new InvalidApprovalMessageError(`the grant request needs the ECU's seed (8 to 64 bytes, not all zero), got ${seed.length} bytes`);
  }
  return { purpose, ecu, seed: new Uint8Array(seed) };
}

export interface GrantAnswer {
  key: Uint8Array;
  grant: Uint8Array;
}

export function encodeGrantAnswer(answer: GrantAnswer): Uint8Array {
  return new Uint8Array(Buffer.concat([answer.key, answer.grant]));
}

export function decodeGrantAnswer(record: Uint8Array): GrantAnswer {
  if (record.length !== SECURITY_KEY_BYTES + GRANT_BYTES) {
    throw new ApprovalResponseError(`a grant answer has ${SECURITY_KEY_BYTES + GRANT_BYTES} bytes, got ${record.length}`);
  }
  return { key: record.slice(0, SECURITY_KEY_BYTES), grant: record.slice(SECURITY_KEY_BYTES) };
}
