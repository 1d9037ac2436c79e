import type { FastifyPluginAsync, FastifyReply } from 'fastify';
import type { ServerContext, SessionUser } from '../context.ts';
import { requireAccess } from '../auth/access.ts';
import { requireRole, requireUser, verifyCsrf } from '../auth/guards.ts';
import { clientIp } from '../client-ip.ts';
import { BadRequestError, HttpError } from '../errors.ts';
import { putEcu, removeEcu, type EcuChange } from '../releases/ecu-registry.ts';
import type { EcuEntry } from '../storage/ecu-registry.ts';
import { ecusPage } from '../views/ecus-page.ts';
import { errorSchema } from './schemas.ts';

const entryJson = (e: EcuEntry) => ({
  name: e.name, hardware_ids: e.hardwareIds, max_image_bytes: e.maxImageBytes, source: e.source, updated_by: e.updatedBy,
  updated_at: new Date(e.updatedAt).toISOString(),
});
const ecuSchema = {
  type: 'object',
  properties: {
    name: { type: 'string' }, hardware_ids: { type: 'array', items: { type: 'string' } }, max_image_bytes: { type: ['integer', 'null'] },
    source: { type: 'string' }, updated_by: { type: 'string' }, updated_at: { type: 'string' },
  },
} as const;
const nameParams = { type: 'object', properties: { name: { type: 'string', maxLength: 64 } }, required: ['name'] } as const;

/** The ECU registry: `GET|PUT|DELETE /api/v1/ecus[/<name>]` and the `/ecus` page with its form. */
export const ecuRoutes: FastifyPluginAsync<{ ctx: ServerContext }> = async (app, { ctx }) => {
  const page = async (reply: FastifyReply, user: SessionUser, extra: { flash?: string; error?: string; status?: number } = {}) =>
    reply.code(extra.status ?? 200).type('text/html; charset=utf-8').send(ecusPage({
      user, csrfToken: reply.generateCsrf(), ecus: await ctx.storage.ecuRegistry.list(), flash: extra.flash, error: extra.error,
    }).value);

  app.get('/api/v1/ecus', {
    schema: { tags: ['admin'], summary: 'The ECU registry (logged in, or API token with releases:read)', response: { 200: { type: 'object', properties: { ecus: { type: 'array', items: ecuSchema } } }, 401: errorSchema, 403: errorSchema } },
  }, async (request, reply) => {
    if (!await requireAccess(ctx, request, reply, { scope: 'releases:read', event: 'access' })) return reply;
    return { ecus: (await ctx.storage.ecuRegistry.list()).map(entryJson) };
  });

  app.put<{ Params: { name: string }; Body: EcuChange & { csrf_token?: string } }>('/api/v1/ecus/:name', {
    schema: {
      tags: ['admin'], summary: 'Add or change an ECU: {hardware_ids, max_image_bytes} (admin + CSRF, or API token with releases:write)', params: nameParams,
      body: {
        type: 'object', additionalProperties: false,
        properties: {
          hardware_ids: { type: 'array', items: { type: 'string', maxLength: 64 }, maxItems: 32 },
          max_image_bytes: { type: ['integer', 'null'] }, csrf_token: { type: 'string', maxLength: 256 },
        },
      },
      response: { 200: ecuSchema, 400: errorSchema, 401: errorSchema, 403: errorSchema },
    },
  }, async (request, reply) => {
    const actor = await requireAccess(ctx, request, reply, { scope: 'releases:write', role: 'admin', event: 'ecu.update' });
    if (!actor) return reply;
    await verifyCsrf(app, ctx, request);
    return entryJson(await putEcu(ctx.storage, ctx.audit, request.params.name, request.body, actor.username, clientIp(request), ctx.clock()));
  });

  app.delete<{ Params: { name: string }; Body: { csrf_token?: string } | undefined }>('/api/v1/ecus/:name', {
    schema: { tags: ['admin'], summary: 'Remove an ECU no release names (admin + CSRF, or API token with releases:write)', params: nameParams, response: { 400: errorSchema, 401: errorSchema, 403: errorSchema, 404: errorSchema, 409: errorSchema } },
  }, async (request, reply) => {
    const actor = await requireAccess(ctx, request, reply, { scope: 'releases:write', role: 'admin', event: 'ecu.remove' });
    if (!actor) return reply;
    await verifyCsrf(app, ctx, request);
    await removeEcu(ctx.storage, ctx.audit, request.params.name, actor.username, clientIp(request));
    return reply.code(204).send();
  });

  app.get('/ecus', {
    config: { page: true },
    schema: { tags: ['admin'], summary: 'The ECU registry page (admins edit it)', produces: ['text/html'] },
  }, async (request, reply) => {
    const user = requireUser(request, reply);
    if (!user) return reply;
    const flash = request.session.flash;
    if (flash) request.session.flash = undefined;
    return page(reply, user, flash ? { flash } : {});
  });

  app.post<{ Body: { csrf_token?: string; name?: string; hardware_ids?: string; max_image_bytes?: string } }>('/ecus', {
    config: { page: true },
    schema: {
      tags: ['admin'], summary: 'Add or change an ECU from the form (admin, CSRF)', consumes: ['application/x-www-form-urlencoded'],
      body: { type: 'object', properties: { csrf_token: { type: 'string', maxLength: 256 }, name: { type: 'string', maxLength: 64 }, hardware_ids: { type: 'string', maxLength: 2000 }, max_image_bytes: { type: 'string', maxLength: 20 } } },
    },
  }, async (request, reply) => {
    const user = requireUser(request, reply);
    if (!user) return reply;
    await requireRole(ctx, request, user, 'admin', 'ecu.update');
    await verifyCsrf(app, ctx, request);
    const { name = '', hardware_ids: ids = '', max_image_bytes: max = '' } = request.body;
    try {
      if (max.trim() !== '' && !/^[0-9]+$/.test(max.trim())) throw new BadRequestError('the largest image is a whole number of bytes');
      const entry = await putEcu(ctx.storage, ctx.audit, name, {
        hardware_ids: ids.split(',').map((id) => id.trim()).filter((id) => id !== ''),
        max_image_bytes: max.trim() === '' ? null : Number(max),
      }, user.username, clientIp(request), ctx.clock());
      request.session.flash = `saved ${entry.name}`;
      return reply.redirect('/ecus', 303);
    } catch (error) {
      if (error instanceof HttpError && error.statusCode === 400) return page(reply, user, { error: error.message, status: 400 });
      throw error;
    }
  });
};
