import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import type { ServerContext, SessionUser } from '../context.ts';
import { requireRole, requireUser, verifyCsrf } from '../auth/guards.ts';
import { clientIp } from '../client-ip.ts';
import { BadRequestError, ConflictError, ForbiddenError, NotFoundError } from '../errors.ts';
import { AlreadyExistsError } from '../storage/errors.ts';
import { ApiTokenInputError, createApiToken, parseExpiry, revokeApiToken, tokenView } from '../tokens/api-tokens.ts';
import { apiScopes } from '../tokens/scopes.ts';
import { errorSchema } from './schemas.ts';

const tokenSchema = {
  type: 'object',
  properties: {
    name: { type: 'string' }, scopes: { type: 'array', items: { type: 'string' } }, state: { type: 'string', enum: ['active', 'expired', 'revoked'] },
    created_by: { type: 'string' }, created_at: { type: 'string' }, expires_at: { type: ['string', 'null'] },
    revoked_at: { type: ['string', 'null'] }, revoked_by: { type: ['string', 'null'] },
    last_used_at: { type: ['string', 'null'] }, last_used_ip: { type: ['string', 'null'] },
  },
} as const;
const nameParams = { type: 'object', properties: { name: { type: 'string', maxLength: 64 } }, required: ['name'] } as const;

/**
 * Only an admin's session manages API tokens (or `canota token` on the server's machine): a token cannot
 * make, list or revoke tokens, so a leaked one cannot mint itself a wider one or a longer life.
 */
async function requireAdminSession(ctx: ServerContext, request: FastifyRequest, reply: FastifyReply): Promise<SessionUser | undefined> {
  if (request.headers.authorization !== undefined) {
    await ctx.audit.record({
      event: 'access', outcome: 'denied', ip: clientIp(request), subject: `${request.method} ${request.url.slice(0, 200)}`,
      details: { reason: 'tokens are not managed with a token' },
    });
    throw new ForbiddenError('API tokens are managed from an admin\'s session or with `canota token` on the server, not with a token');
  }
  const user = requireUser(request, reply);
  if (user) await requireRole(ctx, request, user, 'admin', 'access');
  return user;
}

/** The management API's tokens: GET /api/v1/tokens, POST /api/v1/tokens, POST /api/v1/tokens/<name>/revoke. */
export const tokenRoutes: FastifyPluginAsync<{ ctx: ServerContext }> = async (app, { ctx }) => {
  app.get('/api/v1/tokens', {
    schema: {
      tags: ['admin'],
      summary: 'API tokens (admin session): names, scopes, state, expiry, last use; never the tokens',
      response: { 200: { type: 'object', properties: { tokens: { type: 'array', items: tokenSchema } } }, 401: errorSchema, 403: errorSchema },
    },
  }, async (request, reply) => {
    if (!await requireAdminSession(ctx, request, reply)) return reply;
    const now = ctx.clock();
    return { tokens: (await ctx.storage.apiTokens.list()).map((record) => tokenView(record, now)) };
  });

  app.post<{ Body: { name: string; scopes: string[] | string; expires_in_days?: number | 'never'; csrf_token?: string } }>('/api/v1/tokens', {
    schema: {
      tags: ['admin'],
      summary: `Make an API token (admin session + CSRF). Scopes: ${apiScopes.join(', ')}. Expires in 90 days unless expires_in_days says otherwise ("never" allowed). The token is in this answer only`,
      body: {
        type: 'object',
        properties: {
          name: { type: 'string', maxLength: 64 },
          scopes: { anyOf: [{ type: 'array', items: { type: 'string', maxLength: 64 }, maxItems: 32 }, { type: 'string', maxLength: 512 }] },
          expires_in_days: { anyOf: [{ type: 'integer' }, { type: 'string', enum: ['never'] }] },
          csrf_token: { type: 'string', maxLength: 256 },
        },
        required: ['name', 'scopes'],
        additionalProperties: false,
      },
      response: {
        201: { type: 'object', properties: { token: { type: 'string' }, ...tokenSchema.properties } },
        400: errorSchema, 401: errorSchema, 403: errorSchema, 409: errorSchema,
      },
    },
  }, async (request, reply) => {
    const user = await requireAdminSession(ctx, request, reply);
    if (!user) return reply;
    await verifyCsrf(app, ctx, request);
    const now = ctx.clock();
    try {
      const { record, token } = await createApiToken(ctx.storage, ctx.audit, {
        name: request.body.name, scopes: request.body.scopes, expiresInDays: parseExpiry(request.body.expires_in_days),
        by: user.username, ip: clientIp(request), now,
      });
      return reply.code(201).header('cache-control', 'no-store').send({ token, ...tokenView(record, now) });
    } catch (error) {
      if (error instanceof ApiTokenInputError) throw new BadRequestError(error.message);
      if (error instanceof AlreadyExistsError) throw new ConflictError(error.message);
      throw error;
    }
  });

  app.post<{ Params: { name: string }; Body: { csrf_token?: string } | undefined }>('/api/v1/tokens/:name/revoke', {
    schema: {
      tags: ['admin'],
      summary: 'Revoke an API token (admin session + CSRF): it stops working at once. Idempotent',
      params: nameParams,
      body: { type: ['object', 'null'], properties: { csrf_token: { type: 'string', maxLength: 256 } } },
      response: { 200: tokenSchema, 401: errorSchema, 403: errorSchema, 404: errorSchema },
    },
  }, async (request, reply) => {
    const user = await requireAdminSession(ctx, request, reply);
    if (!user) return reply;
    await verifyCsrf(app, ctx, request);
    const { name } = request.params;
    const now = ctx.clock();
    const record = await revokeApiToken(ctx.storage, ctx.audit, { name, by: user.username, ip: clientIp(request), now })
      ?? await ctx.storage.apiTokens.findByName(name);
    if (!record) throw new NotFoundError(`no API token named "${name}"`);
    return tokenView(record, now);
  });
};
