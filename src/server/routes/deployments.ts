import type { FastifyPluginAsync } from 'fastify';
import type { ServerContext } from '../context.ts';
import type { DeploymentRecord } from '../storage/deployments.ts';
import { requireAccess } from '../auth/access.ts';
import { verifyCsrf } from '../auth/guards.ts';
import { clientIp } from '../client-ip.ts';
import { BadRequestError, ConflictError, NotFoundError } from '../errors.ts';
import { AlreadyExistsError } from '../storage/errors.ts';
import { DeploymentService, type DeploymentAction } from '../deployments/deployment-service.ts';
import { deploymentSummary, releaseBrief } from '../deployments/deployment-view.ts';
import { DeploymentConflictError, DeploymentInputError, DeploymentNotFoundError } from '../deployments/deployment-errors.ts';
import { DueStarts } from '../deployments/due-starts.ts';
import { vehicleStates } from '../deployments/vehicle-states.ts';
import { checkPlainText } from '../releases/release-fields.ts';
import { errorSchema } from './schemas.ts';

const idParams = { type: 'object', properties: { id: { type: 'integer', minimum: 1 } }, required: ['id'] } as const;
const pageQuery = {
  page: { type: 'integer', minimum: 1, maximum: 1_000_000 },
  limit: { type: 'integer', minimum: 1, maximum: 1000 },
} as const;
const actions: readonly DeploymentAction[] = ['pause', 'resume', 'advance', 'cancel'];

/** The service's refusals as HTTP errors. */
async function answering<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    if (error instanceof DeploymentInputError) throw new BadRequestError(error.message);
    if (error instanceof DeploymentConflictError || error instanceof AlreadyExistsError) throw new ConflictError(error.message);
    if (error instanceof DeploymentNotFoundError) throw new NotFoundError(error.message);
    throw error;
  }
}

/**
 * The management API for software sets and deployments (docs/server.md, "Deployments"): an admin session
 * with its CSRF token, or an API token with deployments:read / deployments:write.
 */
export const deploymentRoutes: FastifyPluginAsync<{ ctx: ServerContext }> = async (app, { ctx }) => {
  const service = new DeploymentService(ctx.storage, ctx.audit, ctx.clock);
  const dueStarts = new DueStarts(service, ctx.clock);
  const read = { scope: 'deployments:read', event: 'access' } as const;
  const write = { scope: 'deployments:write', role: 'admin', event: 'access' } as const;

  const deploymentJson = (deployment: DeploymentRecord) => deploymentSummary(ctx.storage, deployment);

  const find = async (id: number) => {
    await dueStarts.check();
    const deployment = await ctx.storage.deployments.find(id);
    if (!deployment) throw new NotFoundError(`no deployment ${id}`);
    return deployment;
  };

  app.get('/api/v1/software-sets', {
    schema: { tags: ['deployments'], summary: 'Software sets, newest first, with their releases (deployments:read)' },
  }, async (request, reply) => {
    if (!await requireAccess(ctx, request, reply, read)) return reply;
    const sets = await ctx.storage.deployments.listSets();
    const releases = await ctx.storage.deployments.setReleases(sets.map((s) => s.id));
    return {
      software_sets: sets.map((set) => ({
        id: set.id, name: set.name, created_by: set.created_by, created_at: new Date(set.created_at).toISOString(),
        releases: (releases.get(set.id) ?? []).map(releaseBrief),
      })),
    };
  });

  app.post<{ Body: { name: string; release_ids: number[]; csrf_token?: string } }>('/api/v1/software-sets', {
    schema: {
      tags: ['deployments'],
      summary: 'Make a software set: releases that go together, one per ECU (admin + CSRF, or deployments:write)',
      body: {
        type: 'object',
        properties: { name: { type: 'string', maxLength: 400 }, release_ids: { type: 'array', items: { type: 'integer', minimum: 1 }, maxItems: 64 }, csrf_token: { type: 'string', maxLength: 256 } },
        required: ['name', 'release_ids'],
        additionalProperties: false,
      },
      response: { 201: { type: 'object', properties: { id: { type: 'integer' }, name: { type: 'string' } } }, 400: errorSchema, 401: errorSchema, 403: errorSchema, 409: errorSchema },
    },
  }, async (request, reply) => {
    const actor = await requireAccess(ctx, request, reply, write);
    if (!actor) return reply;
    await verifyCsrf(app, ctx, request);
    const { set } = await answering(() => service.createSet({ name: request.body.name, releaseIds: request.body.release_ids, by: actor.username, ip: clientIp(request) }));
    return reply.code(201).send({ id: set.id, name: set.name });
  });

  app.get<{ Querystring: { page?: number; limit?: number } }>('/api/v1/deployments', {
    schema: { tags: ['deployments'], summary: 'Deployments, newest first, with their progress (deployments:read)', querystring: { type: 'object', properties: pageQuery } },
  }, async (request, reply) => {
    if (!await requireAccess(ctx, request, reply, read)) return reply;
    await dueStarts.check();
    const { page = 1, limit = 50 } = request.query;
    const [rows, total] = await Promise.all([ctx.storage.deployments.list({ limit, offset: (page - 1) * limit }), ctx.storage.deployments.count()]);
    return {
      deployments: await Promise.all(rows.map(deploymentJson)), total, page, limit,
      next_page: (page - 1) * limit + rows.length < total ? page + 1 : null,
    };
  });

  app.post<{ Body: Record<string, unknown> }>('/api/v1/deployments', {
    schema: {
      tags: ['deployments'],
      summary: 'Start a deployment (admin + CSRF, or deployments:write): name, release_ids or software_set_id, target {vins | tags | filter {ecu, version_below | version} | all}, waves [{count} | {percent}], failure_threshold_percent (default 5), require_approval, start_at',
      body: {
        type: 'object',
        properties: {
          name: { type: 'string', maxLength: 400 },
          release_ids: { type: 'array', items: { type: 'integer', minimum: 1 }, maxItems: 64 },
          software_set_id: { type: 'integer', minimum: 1 },
          target: {
            type: 'object',
            properties: {
              all: { type: 'boolean' },
              vins: { type: 'array', items: { type: 'string', maxLength: 64 }, maxItems: 10_000 },
              tags: { type: 'array', items: { type: 'string', maxLength: 64 }, maxItems: 16 },
              filter: {
                type: 'object',
                properties: { ecu: { type: 'string', maxLength: 16 }, version_below: { type: 'string', maxLength: 64 }, version: { type: 'string', maxLength: 64 } },
                required: ['ecu'], additionalProperties: false,
              },
            },
            additionalProperties: false,
          },
          waves: { type: 'array', maxItems: 64, items: { type: 'object' } },
          failure_threshold_percent: { type: 'integer' },
          require_approval: { type: 'boolean' },
          start_at: { type: 'string', format: 'date-time' },
          csrf_token: { type: 'string', maxLength: 256 },
        },
        required: ['name', 'target'],
        additionalProperties: false,
      },
      response: { 201: { type: 'object', properties: { id: { type: 'integer' }, campaign_id: { type: 'string' }, status: { type: 'string' } } }, 400: errorSchema, 401: errorSchema, 403: errorSchema },
    },
  }, async (request, reply) => {
    const actor = await requireAccess(ctx, request, reply, write);
    if (!actor) return reply;
    await verifyCsrf(app, ctx, request);
    const body = request.body as {
      name: string; release_ids?: number[]; software_set_id?: number; target: object; waves?: unknown[];
      failure_threshold_percent?: number; require_approval?: boolean; start_at?: string;
    };
    const deployment = await answering(() => service.create({
      name: body.name, ...(body.release_ids ? { releaseIds: body.release_ids } : {}), ...(body.software_set_id ? { softwareSetId: body.software_set_id } : {}),
      target: body.target, ...(body.waves ? { waves: body.waves } : {}),
      ...(body.failure_threshold_percent !== undefined ? { failureThresholdPercent: body.failure_threshold_percent } : {}),
      ...(body.require_approval !== undefined ? { requireApproval: body.require_approval } : {}),
      ...(body.start_at ? { startAt: Date.parse(body.start_at) } : {}),
    }, actor.username, clientIp(request)));
    return reply.code(201).send({ id: deployment.id, campaign_id: String(deployment.id), status: deployment.status });
  });

  app.get<{ Params: { id: number } }>('/api/v1/deployments/:id', {
    schema: { tags: ['deployments'], summary: 'One deployment: status, waves, counts per vehicle state (deployments:read)', params: idParams, response: { 401: errorSchema, 403: errorSchema, 404: errorSchema } },
  }, async (request, reply) => {
    if (!await requireAccess(ctx, request, reply, read)) return reply;
    return deploymentJson(await find(request.params.id));
  });

  app.get<{ Params: { id: number }; Querystring: { state?: string; page?: number; limit?: number } }>('/api/v1/deployments/:id/vehicles', {
    schema: {
      tags: ['deployments'], summary: 'The vehicles of a deployment with their state, by wave then VIN; filter by state (deployments:read)', params: idParams,
      querystring: { type: 'object', properties: { state: { type: 'string', enum: [...vehicleStates] }, ...pageQuery } },
    },
  }, async (request, reply) => {
    if (!await requireAccess(ctx, request, reply, read)) return reply;
    const deployment = await find(request.params.id);
    const { state, page = 1, limit = 100 } = request.query;
    const rows = await ctx.storage.deployments.vehicles(deployment.id, { ...(state ? { state } : {}), limit, offset: (page - 1) * limit });
    return {
      vehicles: rows.map((row) => ({
        vin: row.vin, wave: row.wave, state: row.state, percent: row.percent, ecu: row.ecu, reason: row.reason, updated_at: new Date(row.updated_at).toISOString(),
      })),
      page, limit,
    };
  });

  app.get<{ Params: { id: number } }>('/api/v1/deployments/:id/history', {
    schema: { tags: ['deployments'], summary: 'Every change of a deployment and of its vehicles\' states, oldest first: the progress chart\'s data (deployments:read)', params: idParams },
  }, async (request, reply) => {
    if (!await requireAccess(ctx, request, reply, read)) return reply;
    const deployment = await find(request.params.id);
    const [events, vehicles] = await Promise.all([
      ctx.storage.deployments.events(deployment.id),
      ctx.storage.deployments.vehicles(deployment.id, { limit: 100_000, offset: 0 }),
    ]);
    const vins = new Map(vehicles.map((v) => [v.vehicle_id, v.vin]));
    return {
      events: events.map((e) => ({
        at: new Date(e.at).toISOString(), vin: e.vehicle_id === null ? null : vins.get(Number(e.vehicle_id)) ?? null, state: e.state, detail: e.detail,
      })),
    };
  });

  for (const action of actions) {
    app.post<{ Params: { id: number }; Body: { reason?: string; csrf_token?: string } | undefined }>(`/api/v1/deployments/:id/${action}`, {
      schema: {
        tags: ['deployments'], summary: `${action[0]!.toUpperCase()}${action.slice(1)} a deployment (admin + CSRF, or deployments:write); optional reason`, params: idParams,
        body: { type: ['object', 'null'], properties: { reason: { type: 'string', maxLength: 2000 }, csrf_token: { type: 'string', maxLength: 256 } } },
        response: { 400: errorSchema, 401: errorSchema, 403: errorSchema, 404: errorSchema, 409: errorSchema },
      },
    }, async (request, reply) => {
      const actor = await requireAccess(ctx, request, reply, write);
      if (!actor) return reply;
      await verifyCsrf(app, ctx, request);
      const reason = checkPlainText('reason', request.body?.reason, 500);
      const deployment = await answering(() => service.act(request.params.id, action, actor.username, clientIp(request), reason));
      return deploymentJson(deployment);
    });
  }
};
