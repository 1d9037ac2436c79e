import type { FastifyPluginAsync } from 'fastify';
import type { ServerContext } from '../context.ts';
import type { ReleaseRecord } from '../storage/releases.ts';
import { requireUser, verifyCsrf } from '../auth/guards.ts';
import { requireAccess } from '../auth/access.ts';
import { clientIp } from '../client-ip.ts';
import { BadRequestError, NotFoundError } from '../errors.ts';
import { wantsHtml } from '../error-handler.ts';
import { checkPlainText } from '../releases/release-fields.ts';
import { releasesPage } from '../views/releases-page.ts';
import { formatTime } from '../views/format.ts';
import { errorSchema, releaseSchema } from './schemas.ts';

/** A release as the admin API shows it; `latest`: the latest release of its ECU (`newestPerEcu`). */
export function releaseJson(r: ReleaseRecord, latest = false) {
  const { version_key: _key, ...fields } = r;
  return {
    ...fields,
    uploaded_at: new Date(r.uploaded_at).toISOString(),
    withdrawn_at: r.withdrawn_at === null ? null : new Date(r.withdrawn_at).toISOString(),
    latest,
  };
}

/** The ids of the releases vehicles are offered: the latest of each ECU by version. */
export async function latestReleaseIds(ctx: ServerContext): Promise<Set<number>> {
  return new Set((await ctx.storage.releases.newestPerEcu()).map((r) => r.id));
}

/** Rows per page of the release list. */
export const releasesPerPage = 200;
export const maxWithdrawalReason = 500;

const pageQuery = { page: { type: 'integer', minimum: 1, description: '1-based' } } as const;

/** The home page (release list + upload form), the same list as JSON, and withdrawing a release. */
export const releasesRoutes: FastifyPluginAsync<{ ctx: ServerContext }> = async (app, { ctx }) => {
  app.get<{ Querystring: { page?: number } }>('/', {
    config: { page: true },
    schema: {
      tags: ['admin'],
      summary: 'Release list (200 a page, newest upload first) and upload form',
      produces: ['text/html'],
      querystring: { type: 'object', properties: pageQuery },
    },
  }, async (request, reply) => {
    const user = requireUser(request, reply);
    if (!user) return reply;
    const flash = request.session.flash;
    if (flash) request.session.flash = undefined;
    const page = request.query.page ?? 1;
    const [releases, total, latest] = await Promise.all([
      ctx.storage.releases.list({ limit: releasesPerPage, offset: (page - 1) * releasesPerPage }),
      ctx.storage.releases.count(),
      latestReleaseIds(ctx),
    ]);
    return reply.type('text/html; charset=utf-8').send(releasesPage({
      user, csrfToken: reply.generateCsrf(), releases, latest, flash, maxUploadBytes: ctx.config.maxUploadBytes,
      paging: { page, perPage: releasesPerPage, total },
    }).value);
  });

  app.get<{ Querystring: { limit?: number; offset?: number; page?: number } }>('/api/v1/releases', {
    schema: {
      tags: ['admin'],
      summary: 'Releases, newest upload first, a page at a time (session login or API token with releases:read): `page` and `limit`, or `offset` and `limit`',
      querystring: {
        type: 'object',
        properties: { limit: { type: 'integer', minimum: 1, maximum: 1000, default: 100 }, offset: { type: 'integer', minimum: 0 }, ...pageQuery },
      },
      response: {
        200: {
          type: 'object',
          properties: {
            releases: { type: 'array', items: releaseSchema },
            total: { type: 'integer', description: 'Releases in all' },
            page: { type: 'integer' }, limit: { type: 'integer' }, offset: { type: 'integer' },
            next_page: { type: ['integer', 'null'], description: 'null on the last page' },
          },
        },
        400: errorSchema, 401: errorSchema, 403: errorSchema,
      },
    },
  }, async (request, reply) => {
    await requireAccess(ctx, request, reply, { scope: 'releases:read', event: 'access' });
    const { limit = 100, offset: givenOffset, page: givenPage } = request.query;
    if (givenOffset !== undefined && givenPage !== undefined) throw new BadRequestError('give page or offset, not both');
    const offset = givenOffset ?? ((givenPage ?? 1) - 1) * limit;
    const [releases, total, latest] = await Promise.all([
      ctx.storage.releases.list({ limit, offset }), ctx.storage.releases.count(), latestReleaseIds(ctx),
    ]);
    return {
      releases: releases.map((r) => releaseJson(r, latest.has(r.id))),
      total, limit, offset, page: Math.floor(offset / limit) + 1,
      next_page: offset + releases.length < total ? Math.floor(offset / limit) + 2 : null,
    };
  });

  app.post<{ Params: { release_id: number }; Body: { reason?: string; csrf_token?: string } | undefined }>('/api/v1/releases/:release_id/withdraw', {
    config: { negotiate: true },
    schema: {
      tags: ['admin'],
      summary: 'Withdraw a release: never offered to vehicles again (admin + CSRF, or an API token with releases:write; JSON or form `reason`, optional). Idempotent',
      params: { type: 'object', properties: { release_id: { type: 'integer', minimum: 1 } }, required: ['release_id'] },
      body: {
        type: ['object', 'null'],
        properties: { reason: { type: 'string', maxLength: 4 * maxWithdrawalReason }, csrf_token: { type: 'string', maxLength: 256 } },
      },
      response: {
        200: { type: 'object', properties: { message: { type: 'string' }, release: releaseSchema } },
        400: errorSchema, 401: errorSchema, 403: errorSchema, 404: errorSchema,
      },
    },
  }, async (request, reply) => {
    const user = await requireAccess(ctx, request, reply, { scope: 'releases:write', role: 'admin', event: 'release.withdraw' });
    if (!user) return reply;
    await verifyCsrf(app, ctx, request);
    const id = request.params.release_id;
    const reason = checkPlainText('reason', request.body?.reason, maxWithdrawalReason);
    const result = await ctx.storage.releases.withdraw({ id, by: user.username, at: ctx.clock(), reason });
    if (!result) throw new NotFoundError(`no release ${id}`);
    const { release, changed } = result;
    let message: string;
    if (changed) {
      ctx.latest.invalidate();
      ctx.latestPerEcu.invalidate();
      await ctx.audit.record({
        event: 'release.withdraw', outcome: 'ok', actor: user.username, ip: clientIp(request), subject: release.filename,
        details: { release_id: release.id, ecu: release.ecu, firmware_version: release.firmware_version, sha256: release.sha256, reason },
      });
      message = `withdrew release ${release.id} (${release.filename}): it is no longer offered`;
    } else {
      message = `release ${release.id} (${release.filename}) was withdrawn already, by ${release.withdrawn_by} at ${formatTime(release.withdrawn_at!)}`;
    }
    if (wantsHtml(request)) {
      request.session.flash = message;
      return reply.redirect('/', 303);
    }
    return { message, release: releaseJson(release, false) };
  });
};
