import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import swaggerUi from '@fastify/swagger-ui';
import type { ServerContext } from '../context.ts';
import { requireRole } from '../auth/guards.ts';
import { UnauthorizedError } from '../errors.ts';
import { metricsRoutes } from '../routes/ops.ts';

/**
 * `/docs` and `/metrics` tell an attacker the whole API and the server's traffic, so they are not for
 * everyone the allowlist lets in: `/docs` needs a login (any role), `/metrics` an admin session or the
 * bearer token of `--metrics-token-file` (for Prometheus). `--public-docs` / `--public-metrics` open them
 * on purpose. Registered inside the UI scope, where sessions are read; `/healthz` stays open (ops.ts).
 */
export const opsAccessScope: FastifyPluginAsync<{ ctx: ServerContext }> = async (app, { ctx }) => {
  await app.register(async (metrics) => {
    if (!ctx.config.publicMetrics) metrics.addHook('preHandler', (request, reply) => allowMetrics(ctx, request, reply));
    await metrics.register(metricsRoutes, { ctx });
  });
  await app.register(async (docs) => {
    if (!ctx.config.publicDocs) {
      docs.addHook('preHandler', async (request, reply) => {
        if (request.session.user) return;
        await loginFirst(request, reply);
      });
    }
    await docs.register(swaggerUi, { routePrefix: '/docs', staticCSP: true });
  });
};

async function allowMetrics(ctx: ServerContext, request: FastifyRequest, reply: FastifyReply): Promise<void> {
  const token = ctx.config.metricsToken;
  const bearer = /^Bearer (\S+)$/i.exec(request.headers.authorization ?? '')?.[1];
  if (token !== undefined && bearer !== undefined) {
    if (sameSecret(bearer, token)) return;
    throw new UnauthorizedError('invalid metrics token');
  }
  const user = request.session.user;
  if (!user) return loginFirst(request, reply);
  await requireRole(ctx, request, user, 'admin', 'access');
}

/** A browser is sent to the login page; anything else gets 401. */
async function loginFirst(request: FastifyRequest, reply: FastifyReply): Promise<void> {
  if ((request.headers.accept ?? '').includes('text/html')) {
    await reply.redirect('/login', 302);
    return;
  }
  throw new UnauthorizedError('login required (or a metrics token for /metrics)');
}

/** Constant-time, whatever the lengths (hashing first makes both sides 32 bytes). */
function sameSecret(given: string, expected: string): boolean {
  const digest = (text: string) => createHash('sha256').update(text).digest();
  return timingSafeEqual(digest(given), digest(expected));
}
