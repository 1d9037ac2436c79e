import type { FastifyPluginAsync } from 'fastify';
import type { ServerContext } from '../context.ts';
import { requireRole, requireUser, verifyCsrf } from '../auth/guards.ts';
import { requireAccess } from '../auth/access.ts';
import { clientIp } from '../client-ip.ts';
import { BadRequestError, ConflictError, NotFoundError } from '../errors.ts';
import { AlreadyExistsError } from '../storage/errors.ts';
import { registerVehicle } from '../vehicles/registration.ts';
import { VehicleInputError } from '../vehicles/vin.ts';
import { reportJson, vehicleHistory, vehicleJson, vehicleSummaries } from '../vehicles/overview.ts';
import { vehiclesPage } from '../views/vehicles-page.ts';
import { vehiclePage } from '../views/vehicle-page.ts';
import { errorSchema } from './schemas.ts';

const vinParams = { type: 'object', properties: { vin: { type: 'string', minLength: 1, maxLength: 64 } }, required: ['vin'] } as const;
const historyQuery = { type: 'object', properties: { limit: { type: 'integer', minimum: 1, maximum: 1000, default: 100 } } } as const;

const ecuStateSchema = {
  type: 'object',
  properties: {
    version: { type: ['string', 'null'] }, sha256: { type: ['string', 'null'] }, active_bank: { type: ['string', 'null'] },
    state: { type: ['string', 'null'] }, reported_at: { type: 'string', format: 'date-time' },
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
const vehicleSchema = {
  type: 'object',
  properties: {
    vin: { type: 'string' }, registered_at: { type: 'string', format: 'date-time' }, token_issued_at: { type: 'string', format: 'date-time' },
    last_seen_at: { type: ['string', 'null'], format: 'date-time' }, last_seen_ip: { type: ['string', 'null'] },
    ecus: { type: 'object', additionalProperties: ecuStateSchema },
    last_report: { anyOf: [reportSchema, { type: 'null' }] },
  },
} as const;

/** The admin UI's vehicles (pages and session API): every logged-in user looks, admins also register. */
const registeredSchema = {
  type: 'object',
  properties: { vin: { type: 'string' }, token: { type: 'string' }, rotated: { type: 'boolean' } },
} as const;

export const vehicleRoutes: FastifyPluginAsync<{ ctx: ServerContext }> = async (app, { ctx }) => {
  const html = 'text/html; charset=utf-8';

  app.get('/vehicles', {
    config: { page: true },
    schema: { tags: ['admin'], summary: 'Vehicles page: ECUs and versions, last report, last seen', produces: ['text/html'] },
  }, async (request, reply) => {
    const user = requireUser(request, reply);
    if (!user) return reply;
    const flash = request.session.flash;
    if (flash) request.session.flash = undefined;
    return reply.type(html).send(vehiclesPage({ user, csrfToken: reply.generateCsrf(), vehicles: await vehicleSummaries(ctx.storage), flash }).value);
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
      .send(vehiclesPage({ user, csrfToken: reply.generateCsrf(), vehicles: await vehicleSummaries(ctx.storage), ...extra }).value);
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
    return reply.type(html).send(vehiclePage({ user, csrfToken: reply.generateCsrf(), history, limit }).value);
  });

  app.get('/api/v1/vehicles', {
    schema: {
      tags: ['admin'],
      summary: 'Vehicles with their ECUs and versions and their last report (session login or API token with vehicles:read)',
      response: { 200: { type: 'object', properties: { vehicles: { type: 'array', items: vehicleSchema } } }, 401: errorSchema, 403: errorSchema },
    },
  }, async (request, reply) => {
    await requireAccess(ctx, request, reply, { scope: 'vehicles:read', event: 'access' });
    return { vehicles: (await vehicleSummaries(ctx.storage)).map(vehicleJson) };
  });

  app.get<{ Params: { vin: string }; Querystring: { limit?: number } }>('/api/v1/vehicles/:vin', {
    schema: {
      tags: ['admin'],
      summary: 'One vehicle and its update history, newest report first (session login or API token with vehicles:read)',
      params: vinParams,
      querystring: historyQuery,
      response: {
        200: { type: 'object', properties: { vehicle: vehicleSchema, reports: { type: 'array', items: reportSchema } } },
        401: errorSchema, 403: errorSchema, 404: errorSchema,
      },
    },
  }, async (request, reply) => {
    await requireAccess(ctx, request, reply, { scope: 'vehicles:read', event: 'access' });
    const history = await vehicleHistory(ctx.storage, request.params.vin.toUpperCase(), request.query.limit ?? 100);
    if (!history) throw new NotFoundError(`no vehicle ${request.params.vin}`);
    return { vehicle: vehicleJson(history), reports: history.reports.map(({ report, updates }) => reportJson(report, updates)) };
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
};
