import type { FastifyPluginAsync } from 'fastify';
import type { ServerContext } from '../context.ts';
import type { ReleaseRecord } from '../storage/releases.ts';
import { requireUser } from '../auth/guards.ts';
import { releasesPage } from '../views/releases-page.ts';
import { errorSchema, releaseSchema } from './schemas.ts';

export function releaseJson(r: ReleaseRecord) {
  return { ...r, uploaded_at: new Date(r.uploaded_at).toISOString() };
}

/** The home page (release list + upload form) and the same list as JSON. */
export const releasesRoutes: FastifyPluginAsync<{ ctx: ServerContext }> = async (app, { ctx }) => {
  app.get('/', {
    config: { page: true },
    schema: { tags: ['admin'], summary: 'Release list and upload form', produces: ['text/html'] },
  }, async (request, reply) => {
    const user = requireUser(request, reply);
    if (!user) return reply;
    const flash = request.session.flash;
    if (flash) request.session.flash = undefined;
    const releases = await ctx.storage.releases.list({ limit: 200 });
    return reply.type('text/html; charset=utf-8').send(releasesPage({
      user, csrfToken: reply.generateCsrf(), releases, flash, maxUploadBytes: ctx.config.maxUploadBytes,
    }).value);
  });

  app.get<{ Querystring: { limit?: number; offset?: number } }>('/api/v1/releases', {
    schema: {
      tags: ['admin'],
      summary: 'Releases, newest first (session login)',
      querystring: {
        type: 'object',
        properties: { limit: { type: 'integer', minimum: 1, maximum: 1000, default: 100 }, offset: { type: 'integer', minimum: 0, default: 0 } },
      },
      response: { 200: { type: 'object', properties: { releases: { type: 'array', items: releaseSchema } } }, 401: errorSchema },
    },
  }, async (request, reply) => {
    requireUser(request, reply);
    const releases = await ctx.storage.releases.list({ limit: request.query.limit ?? 100, offset: request.query.offset ?? 0 });
    return { releases: releases.map(releaseJson) };
  });
};
