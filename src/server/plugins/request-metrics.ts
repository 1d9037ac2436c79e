import fp from 'fastify-plugin';
import type { ServerContext } from '../context.ts';

/** Counts every answered request by route pattern (never the raw URL: unbounded label values). */
export const requestMetricsPlugin = fp<{ ctx: ServerContext }>(async (app, { ctx }) => {
  app.addHook('onResponse', (request, reply, done) => {
    ctx.metrics.requests.inc({ method: request.method, route: request.routeOptions.url ?? 'unknown', status: reply.statusCode });
    done();
  });
}, { name: 'canota-request-metrics' });
