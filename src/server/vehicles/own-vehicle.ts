import type { FastifyRequest } from 'fastify';
import type { ServerContext } from '../context.ts';
import type { AuditEventName } from '../audit/audit-log.ts';
import type { VehicleRecord } from '../storage/vehicles.ts';
import { clientIp } from '../client-ip.ts';
import { ForbiddenError } from '../errors.ts';

/**
 * The vehicle a `/api/v1/vehicles/<vin>/…` request comes from, which must be `<vin>` itself: 401 without a
 * known token, 403 (audited under `event`) with another vehicle's token.
 */
const owners = new WeakMap<FastifyRequest, VehicleRecord>();

/** The vehicle requireOwnVehicle() found for this request (in the handler after an onRequest check). */
export function ownVehicleOf(request: FastifyRequest): VehicleRecord | undefined {
  return owners.get(request);
}

export async function requireOwnVehicle(ctx: ServerContext, request: FastifyRequest<{ Params: { vin: string } }>, event: AuditEventName,
  onRefused?: () => void): Promise<VehicleRecord> {
  const vehicle = (await ctx.vehicleAuth.authenticate(request, { required: true }))!;
  if (vehicle.vin !== request.params.vin.toUpperCase()) {
    onRefused?.();
    await ctx.audit.record({
      event, outcome: 'denied', actor: vehicle.vin, ip: clientIp(request), subject: request.params.vin.slice(0, 64),
      details: { reason: 'token of another vehicle' },
    });
    throw new ForbiddenError(`this token belongs to another vehicle than ${request.params.vin.slice(0, 64)}`);
  }
  owners.set(request, vehicle);
  return vehicle;
}
