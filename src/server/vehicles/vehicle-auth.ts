import type { FastifyRequest } from 'fastify';
import type { AuditLog } from '../audit/audit-log.ts';
import type { VehicleRecord, VehicleStore } from '../storage/vehicles.ts';
import type { ServerMetrics } from '../metrics.ts';
import { clientIp } from '../client-ip.ts';
import { VehicleTokenError } from '../errors.ts';
import { redactUrl } from '../plugins/request-log.ts';
import { hashVehicleToken, sameTokenHash } from './vehicle-token.ts';

/** "Last seen" is written at most this often per vehicle: polls must not turn into database writes. */
const lastSeenResolutionMs = 30_000;

type Refusal = 'token required' | 'unknown token' | 'malformed Authorization header';

/**
 * Who a vehicle request comes from: `Authorization: Bearer <token>` names a registered vehicle. No
 * header is an anonymous client (the seed's), allowed unless the server requires tokens; a header that
 * names no vehicle is refused (401) even then, so a misconfigured vehicle finds out at once. Refusals
 * are audited (`vehicle.auth`).
 */
export class VehicleAuth {
  constructor(
    private readonly vehicles: VehicleStore,
    private readonly audit: AuditLog,
    private readonly metrics: ServerMetrics,
    private readonly options: { requireToken: boolean; clock?: () => number },
  ) {}

  /**
   * The vehicle, or null for an anonymous client; throws VehicleTokenError (401). `required`: this
   * request needs a vehicle whatever the server's setting (a report).
   */
  async authenticate(request: FastifyRequest, options: { required?: boolean } = {}): Promise<VehicleRecord | null> {
    const header = request.headers.authorization;
    if (header === undefined) {
      if (!this.options.requireToken && !options.required) return null;
      return this.refuse(request, 'token required', options.required
        ? 'this needs the vehicle\'s token: send Authorization: Bearer <vehicle token>'
        : 'this server serves registered vehicles only: send Authorization: Bearer <vehicle token>');
    }
    const match = /^Bearer +(\S+) *$/i.exec(header);
    if (!match) return this.refuse(request, 'malformed Authorization header', 'expected Authorization: Bearer <vehicle token>');
    const hash = hashVehicleToken(match[1]!);
    const vehicle = hash === undefined ? undefined : await this.vehicles.findByTokenHash(hash);
    if (!vehicle || !sameTokenHash(vehicle.token_hash, hash!)) return this.refuse(request, 'unknown token', 'unknown or revoked vehicle token');
    this.metrics.vehicleAuth.inc({ outcome: 'ok' });
    await this.markSeen(vehicle, clientIp(request));
    return vehicle;
  }

  /** For the OTA routes' `identifyDownloader` seam: the VIN, or null. */
  readonly identify = async (request: FastifyRequest): Promise<string | null> => (await this.authenticate(request))?.vin ?? null;

  private async markSeen(vehicle: VehicleRecord, ip: string): Promise<void> {
    const now = (this.options.clock ?? Date.now)();
    if (vehicle.last_seen_ip === ip && vehicle.last_seen_at !== null && now - vehicle.last_seen_at < lastSeenResolutionMs) return;
    await this.vehicles.markSeen(vehicle.id, now, ip);
  }

  private async refuse(request: FastifyRequest, reason: Refusal, message: string): Promise<never> {
    this.metrics.vehicleAuth.inc({ outcome: reason === 'token required' ? 'missing' : 'invalid' });
    await this.audit.record({
      event: 'vehicle.auth', outcome: 'denied', ip: clientIp(request),
      subject: `${request.method} ${redactUrl(request.url).slice(0, 200)}`, details: { reason },
    });
    throw new VehicleTokenError(message, reason !== 'token required');
  }
}
