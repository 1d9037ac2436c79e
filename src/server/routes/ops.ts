import type { FastifyPluginAsync } from 'fastify';
import type { ServerContext } from '../context.ts';
import { ping } from '../storage/index.ts';
import { HttpError } from '../errors.ts';

/** Health and Prometheus metrics for operators and orchestrators. */
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

  app.get('/metrics', {
    logLevel: 'warn',
    schema: { tags: ['ops'], summary: 'Prometheus metrics (text exposition format)', produces: ['text/plain'] },
  }, async (_request, reply) => {
    return reply.type(ctx.metrics.registry.contentType).send(await ctx.metrics.registry.metrics());
  });
};
