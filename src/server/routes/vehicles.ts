import type { FastifyPluginAsync } from 'fastify';
import type { ServerContext } from '../context.ts';
import { requireRole, requireUser, verifyCsrf } from '../auth/guards.ts';
import { requireAccess } from '../auth/access.ts';
import { clientIp } from '../client-ip.ts';
import { BadRequestError, ConflictError, NotFoundError } from '../errors.ts';
import { AlreadyExistsError } from '../storage/errors.ts';
import { registerVehicle } from '../vehicles/registration.ts';
import { VehicleInputError } from '../vehicles/vin.ts';
import { deploymentStateJson, isOnline, reportJson, searchVehicleSummaries, vehicleHistory, vehicleJson } from '../vehicles/overview.ts';
import { parseVehicleQuery, VehicleQueryError, vehicleSearch, defaultVehicleLimit, maxVehicleLimit, type VehicleListQuery } from '../vehicles/vehicle-query.ts';
import { changeVehicleTags, UnknownVehicleError } from '../vehicles/tag-change.ts';
import { splitTagList, TagInputError } from '../vehicles/tags.ts';
import type { SessionUser } from '../context.ts';
import { vehiclesPage } from '../views/vehicles-page.ts';
import { vehiclePage } from '../views/vehicle-page.ts';
import { errorSchema } from './schemas.ts';

const vinParams = { type: 'object', properties: { vin: { type: 'string', minLength: 1, maxLength: 64 } }, required: ['vin'] } as const;
const historyQuery = { type: 'object', properties: { limit: { type: 'integer', minimum: 1, maximum: 1000, default: 100 } } } as const;

const ecuStateSchema = {
  type: 'object',
  properties: {
    version: { type: ['string', 'null'] }, sha256: { type: ['string', 'null'] }, active_bank: { type: ['string', 'null'] },
    state: { type: ['string', 'null'] }, hardware_id: { type: ['string', 'null'] }, reported_at: { type: 'string', format: 'date-time' },
  },
} as const;
const updateSchema = {
  type: 'object',
  properties: {
    ecu: { type: 'string' }, from: { type: 'string' }, to: { type: 'string' }, release_id: { type: 'string' },
    result: { type: 'string' }, error: { type: ['string', 'null'] },
  },
} as const;
const reportSchema = {
  type: 'object',
  properties: {
    id: { type: 'integer' }, received_at: { type: 'string', format: 'date-time' }, at: { type: 'string', format: 'date-time' },
    campaign_id: { type: ['string', 'null'] }, outcome: { type: 'string' }, message: { type: 'string' },
    updates: { type: 'array', items: updateSchema },
  },
} as const;
const deploymentStateSchema = {
  type: 'object',
  properties: {
    id: { type: 'integer' }, name: { type: 'string' }, status: { type: 'string' }, state: { type: 'string' },
    percent: { type: ['integer', 'null'] }, ecu: { type: ['string', 'null'] }, reason: { type: ['string', 'null'] },
    updated_at: { type: 'string', format: 'date-time' },
  },
} as const;

const vehicleSchema = {
  type: 'object',
  properties: {
    vin: { type: 'string' }, registered_at: { type: 'string', format: 'date-time' }, token_issued_at: { type: 'string', format: 'date-time' },
    last_seen_at: { type: ['string', 'null'], format: 'date-time' }, last_seen_ip: { type: ['string', 'null'] },
    ecus: { type: 'object', additionalProperties: ecuStateSchema },
    last_report: { anyOf: [reportSchema, { type: 'null' }] },
    tags: { type: 'array', items: { type: 'string' } },
    online: { type: 'boolean', description: 'in touch within the server\'s --online-window (default 5 minutes)' },
    deployment: {
      description: 'its state in the newest deployment it belongs to; null when in none',
      anyOf: [deploymentStateSchema, { type: 'null' }],
    },
  },
} as const;

/**
 * The search parameters, documented for OpenAPI; checked by `parseVehicleQuery` (not by the schema) so every
 * refusal names the parameter and what it takes, and the HTML form's empty fields count as absent.
 */
const listQuery = {
  type: 'object',
  properties: {
    q: { type: 'string', description: 'part of the VIN, any case' },
    tag: { type: 'array', items: { type: 'string' }, description: 'repeatable (or comma-separated): vehicles carrying every tag given' },
    ecu: { type: 'string', description: 'vehicles that reported this ECU' },
    version_below: { type: 'string', description: 'with ecu: its version is below this one (firmware version order)' },
    version: { type: 'string', description: 'with ecu: its version is exactly this one (in the version order: 2.0 = 2.0.0)' },
    hardware_id: { type: 'string', description: 'an ECU (ecu\'s, when given) reported this hardware id' },
    online: { type: 'string', description: 'true: in touch within --online-window (default 5 minutes); false: not' },
    state: { type: 'string', description: 'its state in the newest deployment it belongs to (offered, downloading, failed, …)' },
    sort: { type: 'string', description: 'vin (default), last_seen or registered; a leading - sorts descending' },
    page: { type: 'string', description: '1-based, default 1' },
    limit: { type: 'string', description: `1-${maxVehicleLimit}, default ${defaultVehicleLimit}` },
  },
} as const;
const tagsBody = {
  type: 'object',
  properties: {
    tags: { type: 'array', maxItems: 64, items: { type: 'string', maxLength: 64 }, description: 'every tag the vehicle carries from now on (at most 16)' },
    csrf_token: { type: 'string', maxLength: 256 },
  },
  required: ['tags'],
  additionalProperties: false,
} as const;
const tagsAnswer = { type: 'object', properties: { vin: { type: 'string' }, tags: { type: 'array', items: { type: 'string' } } } } as const;

/** The admin UI's vehicles (pages and session API): every logged-in user looks, admins also register. */
const registeredSchema = {
  type: 'object',
  properties: { vin: { type: 'string' }, token: { type: 'string' }, rotated: { type: 'boolean' } },
} as const;

export const vehicleRoutes: FastifyPluginAsync<{ ctx: ServerContext }> = async (app, { ctx }) => {
  const html = 'text/html; charset=utf-8';

  const onlineWindowMs = ctx.config.onlineWindowSeconds * 1000;
  const parse = (query: unknown): VehicleListQuery => {
    try {
      return parseVehicleQuery((query ?? {}) as Record<string, unknown>);
    } catch (error) {
      if (error instanceof VehicleQueryError) throw new BadRequestError(error.message);
      throw error;
    }
  };
  /** The list page for a query, with whatever the request adds (a flash, an error, a new token). */
  const listPage = async (user: SessionUser, csrfToken: string, query: VehicleListQuery, extra: Partial<Parameters<typeof vehiclesPage>[0]> = {}) => {
    const now = ctx.clock();
    const [{ summaries, total }, knownTags] = await Promise.all([
      searchVehicleSummaries(ctx.storage, vehicleSearch(query, now, onlineWindowMs)), ctx.storage.vehicleTags.counts(),
    ]);
    return vehiclesPage({ user, csrfToken, query, summaries, total, now, onlineWindowMs, knownTags, ...extra }).value;
  };

  app.get('/vehicles', {
    config: { page: true },
    schema: {
      tags: ['admin'], summary: 'Vehicles page: search, filters, sort and paging (the parameters of GET /api/v1/vehicles); online state, tags, ECU versions, last report',
      produces: ['text/html'], querystring: listQuery,
    },
  }, async (request, reply) => {
    const user = requireUser(request, reply);
    if (!user) return reply;
    const query = parse(request.query);
    const flash = request.session.flash;
    if (flash) request.session.flash = undefined;
    return reply.type(html).send(await listPage(user, reply.generateCsrf(), query, { flash }));
  });

  app.post<{ Body: { vin: string; rotate?: string } }>('/vehicles', {
    config: { page: true },
    schema: {
      tags: ['admin'],
      summary: 'Register a vehicle, or give it a new token with rotate=1 (admin, CSRF token required); the token is shown once',
      consumes: ['application/x-www-form-urlencoded'],
      body: {
        type: 'object',
        properties: { csrf_token: { type: 'string', maxLength: 256 }, vin: { type: 'string', maxLength: 64 }, rotate: { type: 'string', maxLength: 8 } },
        required: ['vin'],
      },
    },
  }, async (request, reply) => {
    const user = requireUser(request, reply);
    if (!user) return reply;
    await requireRole(ctx, request, user, 'admin', 'vehicle.register');
    await verifyCsrf(app, ctx, request);
    const page = async (status: number, extra: { error?: string; registered?: { vin: string; token: string; rotated: boolean } }) => reply
      .code(status).type(html)
      // The token is in this page alone: no cache may keep a copy.
      .header('cache-control', 'no-store')
      .send(await listPage(user, reply.generateCsrf(), parse({}), extra));
    try {
      const { vehicle, token, rotated } = await registerVehicle(ctx.storage, ctx.audit, {
        vin: request.body.vin, rotate: Boolean(request.body.rotate), by: user.username, ip: clientIp(request),
      });
      return page(200, { registered: { vin: vehicle.vin, token, rotated } });
    } catch (error) {
      if (error instanceof VehicleInputError) return page(400, { error: error.message });
      if (error instanceof AlreadyExistsError) return page(409, { error: `${error.message}: tick "give it a new token" to replace its token` });
      throw error;
    }
  });

  app.get<{ Params: { vin: string } }>('/vehicles/:vin', {
    config: { page: true },
    schema: { tags: ['admin'], summary: 'One vehicle: its ECUs, update history and failures', produces: ['text/html'], params: vinParams },
  }, async (request, reply) => {
    const user = requireUser(request, reply);
    if (!user) return reply;
    const limit = 100;
    const history = await vehicleHistory(ctx.storage, request.params.vin.toUpperCase(), limit);
    if (!history) throw new NotFoundError(`no vehicle ${request.params.vin}`);
    const flash = request.session.flash;
    if (flash) request.session.flash = undefined;
    const online = isOnline(history.vehicle, ctx.clock(), onlineWindowMs);
    return reply.type(html).send(vehiclePage({ user, csrfToken: reply.generateCsrf(), history, limit, online, flash }).value);
  });

  app.post<{ Params: { vin: string }; Body: { tags?: string; csrf_token?: string } }>('/vehicles/:vin/tags', {
    config: { page: true },
    schema: {
      tags: ['admin'],
      summary: 'Set a vehicle\'s tags from the form (admin, CSRF token required): comma- or space-separated, empty removes all',
      consumes: ['application/x-www-form-urlencoded'],
      params: vinParams,
      body: {
        type: 'object',
        properties: { csrf_token: { type: 'string', maxLength: 256 }, tags: { type: 'string', maxLength: 1000 } },
      },
    },
  }, async (request, reply) => {
    const user = requireUser(request, reply);
    if (!user) return reply;
    await requireRole(ctx, request, user, 'admin', 'vehicle.tags');
    await verifyCsrf(app, ctx, request);
    const typed = request.body.tags ?? '';
    try {
      const { vin, tags } = await changeVehicleTags(ctx.storage, ctx.audit, {
        vin: request.params.vin, set: splitTagList(typed), by: user.username, ip: clientIp(request),
      });
      request.session.flash = tags.length === 0 ? `${vin} has no tags now.` : `Tags of ${vin}: ${tags.join(', ')}.`;
      return reply.code(303).redirect(`/vehicles/${encodeURIComponent(vin)}`);
    } catch (error) {
      if (error instanceof UnknownVehicleError || error instanceof VehicleInputError) throw new NotFoundError(`no vehicle ${request.params.vin}`);
      if (!(error instanceof TagInputError)) throw error;
      const limit = 100;
      const history = (await vehicleHistory(ctx.storage, request.params.vin.toUpperCase(), limit))!;
      const online = isOnline(history.vehicle, ctx.clock(), onlineWindowMs);
      return reply.code(400).type(html).send(vehiclePage({
        user, csrfToken: reply.generateCsrf(), history, limit, online, error: `Tags not saved: ${error.message}`, tagsInput: typed,
      }).value);
    }
  });

  app.get('/api/v1/vehicles', {
    schema: {
      tags: ['admin'],
      summary: 'Vehicles with their ECUs and versions, tags, online state and last report: search, filters, sort and paging (session login or API token with vehicles:read)',
      querystring: listQuery,
      response: {
        200: {
          type: 'object',
          properties: {
            vehicles: { type: 'array', items: vehicleSchema },
            total: { type: 'integer', description: 'vehicles matching, all pages together' },
            page: { type: 'integer' }, limit: { type: 'integer' },
            next_page: { type: ['integer', 'null'], description: 'null on the last page' },
          },
        },
        400: errorSchema, 401: errorSchema, 403: errorSchema,
      },
    },
  }, async (request, reply) => {
    await requireAccess(ctx, request, reply, { scope: 'vehicles:read', event: 'access' });
    const query = parse(request.query);
    const now = ctx.clock();
    const { summaries, total } = await searchVehicleSummaries(ctx.storage, vehicleSearch(query, now, onlineWindowMs));
    return {
      vehicles: summaries.map((summary) => vehicleJson(summary, isOnline(summary.vehicle, now, onlineWindowMs))),
      total, page: query.page, limit: query.limit,
      next_page: query.page * query.limit < total ? query.page + 1 : null,
    };
  });

  app.get<{ Params: { vin: string }; Querystring: { limit?: number } }>('/api/v1/vehicles/:vin', {
    schema: {
      tags: ['admin'],
      summary: 'One vehicle and its update history, newest report first (session login or API token with vehicles:read)',
      params: vinParams,
      querystring: historyQuery,
      response: {
        200: {
          type: 'object',
          properties: { vehicle: vehicleSchema, deployments: { type: 'array', items: deploymentStateSchema, description: 'every deployment it is in, newest first' }, reports: { type: 'array', items: reportSchema } },
        },
        401: errorSchema, 403: errorSchema, 404: errorSchema,
      },
    },
  }, async (request, reply) => {
    await requireAccess(ctx, request, reply, { scope: 'vehicles:read', event: 'access' });
    const history = await vehicleHistory(ctx.storage, request.params.vin.toUpperCase(), request.query.limit ?? 100);
    if (!history) throw new NotFoundError(`no vehicle ${request.params.vin}`);
    return {
      vehicle: vehicleJson(history, isOnline(history.vehicle, ctx.clock(), onlineWindowMs)),
      deployments: history.deployments.map(deploymentStateJson),
      reports: history.reports.map(({ report, updates }) => reportJson(report, updates)),
    };
  });
  app.post<{ Body: { vin: string; rotate?: boolean; csrf_token?: string } }>('/api/v1/vehicles', {
    schema: {
      tags: ['admin'],
      summary: 'Register a vehicle, or give it a new token with rotate: true (admin + CSRF, or an API token with vehicles:write); the token is in this answer only',
      body: {
        type: 'object',
        properties: { vin: { type: 'string', maxLength: 64 }, rotate: { type: 'boolean' }, csrf_token: { type: 'string', maxLength: 256 } },
        required: ['vin'],
        additionalProperties: false,
      },
      response: {
        200: registeredSchema, 201: registeredSchema,
        400: errorSchema, 401: errorSchema, 403: errorSchema, 409: errorSchema,
      },
    },
  }, async (request, reply) => {
    const user = await requireAccess(ctx, request, reply, { scope: 'vehicles:write', role: 'admin', event: 'vehicle.register' });
    if (!user) return reply;
    await verifyCsrf(app, ctx, request);
    try {
      const { vehicle, token, rotated } = await registerVehicle(ctx.storage, ctx.audit, {
        vin: request.body.vin, rotate: request.body.rotate === true, by: user.username, ip: clientIp(request),
      });
      return reply.code(rotated ? 200 : 201).header('cache-control', 'no-store').send({ vin: vehicle.vin, token, rotated });
    } catch (error) {
      if (error instanceof VehicleInputError) throw new BadRequestError(error.message);
      if (error instanceof AlreadyExistsError) throw new ConflictError(`${error.message}: send rotate: true to replace its token`);
      throw error;
    }
  });

  app.put<{ Params: { vin: string }; Body: { tags: string[]; csrf_token?: string } }>('/api/v1/vehicles/:vin/tags', {
    schema: {
      tags: ['admin'],
      summary: 'Replace a vehicle\'s tags (admin + CSRF, or an API token with vehicles:write); each 1-32 characters of a-z 0-9 - _ ., at most 16',
      params: vinParams,
      body: tagsBody,
      response: { 200: tagsAnswer, 400: errorSchema, 401: errorSchema, 403: errorSchema, 404: errorSchema },
    },
  }, async (request, reply) => {
    const actor = await requireAccess(ctx, request, reply, { scope: 'vehicles:write', role: 'admin', event: 'vehicle.tags' });
    if (!actor) return reply;
    await verifyCsrf(app, ctx, request);
    try {
      const { vin, tags } = await changeVehicleTags(ctx.storage, ctx.audit, {
        vin: request.params.vin, set: request.body.tags, by: actor.username, ip: clientIp(request),
      });
      return { vin, tags };
    } catch (error) {
      if (error instanceof UnknownVehicleError) throw new NotFoundError(error.message);
      if (error instanceof TagInputError || error instanceof VehicleInputError) throw new BadRequestError(error.message);
      throw error;
    }
  });
};
