import type { FastifyPluginAsync } from 'fastify';
import type { ServerContext } from '../context.ts';
import type { DeploymentService } from '../deployments/deployment-service.ts';
import { deploymentIdOf } from '../deployments/deployment-service.ts';
import { progressStates, type ProgressState } from '../deployments/vehicle-states.ts';
import { NotFoundError } from '../errors.ts';
import { ownVehicleOf, requireOwnVehicle } from '../vehicles/own-vehicle.ts';
import { bearerHeader, errorSchema } from './schemas.ts';

interface ProgressBody {
  campaign_id: string;
  state: ProgressState;
  percent?: number;
  ecu?: string;
  reason?: string;
}

/**
 * A vehicle says where it is in a deployment while it works (offered to its driver, postponed, downloading,
 * installing, refused in the car); the end comes with its report. Small and frequent, so nothing but the
 * state is stored: the deployment's page shows it live.
 */
export const vehicleDeploymentRoutes: FastifyPluginAsync<{ ctx: ServerContext; deployments: DeploymentService }> = async (app, { ctx, deployments }) => {
  app.post<{ Params: { vin: string }; Body: ProgressBody }>('/api/v1/vehicles/:vin/deployment-status', {
    bodyLimit: 4096,
    schema: {
      tags: ['vehicles'],
      summary: 'A vehicle\'s progress in a deployment: offered, postponed, downloading (percent), installing (ECU, percent), refused (reason); its own token only',
      security: [{ vehicleToken: [] }],
      params: { type: 'object', properties: { vin: { type: 'string', maxLength: 64 } }, required: ['vin'] },
      headers: { type: 'object', properties: { authorization: bearerHeader } },
      body: {
        type: 'object',
        properties: {
          campaign_id: { type: 'string', maxLength: 64 },
          state: { type: 'string', enum: [...progressStates] },
          percent: { type: 'integer', minimum: 0, maximum: 100 },
          ecu: { type: 'string', maxLength: 16, pattern: '^[A-Za-z][A-Za-z0-9_-]*$' },
          reason: { type: 'string', maxLength: 500 },
        },
        required: ['campaign_id', 'state'],
        additionalProperties: false,
      },
      response: {
        200: { type: 'object', properties: { state: { type: 'string' } } },
        400: errorSchema, 401: errorSchema, 403: errorSchema, 404: errorSchema,
      },
    },
    onRequest: async (request) => {
      await requireOwnVehicle(ctx, request, 'deployment.vehicle');
    },
  }, async (request) => {
    const vehicle = ownVehicleOf(request)!;
    const { campaign_id: campaignId, state, percent, ecu, reason } = request.body;
    const deploymentId = deploymentIdOf(campaignId);
    const recorded = deploymentId === undefined ? undefined : await deployments.recordVehicleState(deploymentId, vehicle.id, {
      state, percent: percent ?? null, ecu: ecu?.toUpperCase() ?? null, reason: reason ?? null,
    });
    if (recorded === undefined) throw new NotFoundError(`vehicle ${vehicle.vin} is in no deployment ${campaignId.slice(0, 64)}`);
    return { state: recorded };
  });
};
