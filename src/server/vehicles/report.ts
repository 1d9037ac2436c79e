import { canonicalJson, type JsonValue } from '../../crypto/canonical-json.ts';
import type { NewVehicleReport } from '../storage/vehicle-reports.ts';

/** The largest report body accepted (413 past it): a car's ECUs and one campaign's updates fit many times over. */
export const reportBodyLimit = 64 * 1024;

const text = (maxLength: number) => ({ type: 'string', maxLength }) as const;
const nullableText = (maxLength: number) => ({ type: ['string', 'null'], maxLength }) as const;
const ecuName = { type: 'string', pattern: '^[A-Z][A-Z0-9_]{0,31}$' } as const;

/**
 * `POST /api/v1/vehicles/<vin>/reports` (docs/vehicle-protocol.md): the outcome of a campaign (or of a
 * decision not to run one), every ECU as it runs now, and each ECU update's result. Validated by Fastify
 * from this schema (400 with the first problem), which also documents it in the OpenAPI description.
 */
export const vehicleReportSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['outcome', 'ecus', 'updates', 'at'],
  properties: {
    campaign_id: nullableText(128),
    outcome: { type: 'string', enum: ['success', 'failed', 'rolled-back', 'declined', 'postponed'] },
    ecus: {
      type: 'object',
      maxProperties: 64,
      propertyNames: ecuName,
      additionalProperties: {
        type: 'object',
        additionalProperties: false,
        required: ['version', 'state'],
        properties: {
          version: nullableText(64),
          sha256: { type: ['string', 'null'], pattern: '^[0-9a-f]{64}$' },
          active_bank: { type: ['string', 'null'], enum: ['A', 'B', null] },
          state: text(64),
          // Optional (reports from before it omit it): what the ECU answers to 0xF191, as releases name it.
          hardware_id: nullableText(32),
        },
      },
    },
    updates: {
      type: 'array',
      maxItems: 64,
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['ecu', 'from', 'to', 'result'],
        properties: {
          ecu: ecuName,
          from: text(64),
          to: text(64),
          release_id: { anyOf: [text(64), { type: 'integer' }] },
          result: { type: 'string', enum: ['installed', 'failed', 'rolled-back', 'not-attempted'] },
          error: text(4000),
        },
      },
    },
    message: text(4000),
    at: { type: 'string', format: 'date-time' },
  },
} as const;

export interface ReportedEcuBody {
  version: string | null;
  sha256?: string | null;
  active_bank?: 'A' | 'B' | null;
  state: string;
  hardware_id?: string | null;
}

export interface VehicleReportBody {
  campaign_id?: string | null;
  outcome: 'success' | 'failed' | 'rolled-back' | 'declined' | 'postponed';
  ecus: Record<string, ReportedEcuBody>;
  updates: Array<{ ecu: string; from: string; to: string; release_id?: string | number; result: string; error?: string }>;
  message?: string;
  at: string;
}

/** The validated body as the storage layer keeps it. */
export function reportRecord(body: VehicleReportBody, vehicleId: number, receivedAt: number, ip: string | null): NewVehicleReport {
  return {
    vehicleId, receivedAt, ip,
    reportedAt: Date.parse(body.at),
    campaignId: body.campaign_id ?? null,
    outcome: body.outcome,
    message: body.message ?? '',
    body: canonicalJson(body as unknown as JsonValue),
    ecus: Object.entries(body.ecus).map(([ecu, state]) => ({
      ecu, version: state.version, sha256: state.sha256 ?? null, active_bank: state.active_bank ?? null, state: state.state,
      hardware_id: state.hardware_id ?? null,
    })),
    updates: body.updates.map((update) => ({
      ecu: update.ecu, from_version: update.from, to_version: update.to, release_id: String(update.release_id ?? ''),
      result: update.result, error: update.error ?? null,
    })),
  };
}
