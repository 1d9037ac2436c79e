import type { FastifyPluginAsync } from 'fastify';
import type { ServerContext } from '../context.ts';
import { ping } from '../storage/index.ts';
import { HttpError } from '../errors.ts';

/** Health for operators and orchestrators: open to every allowed address. */
export const opsRoutes: FastifyPluginAsync<{ ctx: ServerContext }> = async (app, { ctx }) => {
  app.get('/healthz', {
    logLevel: 'warn',
    schema: {
      tags: ['ops'],
      summary: 'Liveness and database reachability',
      response: { 200: { type: 'object', properties: { status: { type: 'string' }, database: { type: 'string' } } } },
    },
  }, async () => {
    try {
      await ping(ctx.storage.database);
    } catch (error) {
      ctx.logger.error({ err: error }, 'health check: database unreachable');
      throw new HttpError(503, 'database unreachable');
    }
    return { status: 'ok', database: ctx.storage.database.dialect };
  });

};

/** Prometheus metrics; registered behind a login or token by `plugins/ops-access.ts`. */
export const metricsRoutes: FastifyPluginAsync<{ ctx: ServerContext }> = async (app, { ctx }) => {
  app.get('/metrics', {
    logLevel: 'warn',
    schema: {
      tags: ['ops'],
      summary: 'Prometheus metrics (text exposition format): an admin session or the --metrics-token-file bearer token, unless --public-metrics',
      produces: ['text/plain'],
    },
  }, async (_request, reply) => {
    return reply.type(ctx.metrics.registry.contentType).send(await ctx.metrics.registry.metrics());
  });
};
