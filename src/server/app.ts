import { readFileSync } from 'node:fs';
import Fastify, { LogController, type FastifyInstance } from 'fastify';
import type { ServerContext } from './context.ts';
import { installErrorHandling } from './error-handler.ts';
import { ipAllowlistPlugin } from './plugins/ip-allowlist.ts';
import { requestMetricsPlugin } from './plugins/request-metrics.ts';
import { requestLogPlugin } from './plugins/request-log.ts';
import { openApiPlugin } from './plugins/openapi.ts';
import { uiScope } from './plugins/ui.ts';
import { otaRoutes } from './routes/ota.ts';
import { vehicleApiRoutes } from './routes/vehicle-api.ts';
import { vehicleDeploymentRoutes } from './routes/vehicle-deployments.ts';
import { DeploymentService } from './deployments/deployment-service.ts';
import { opsRoutes } from './routes/ops.ts';

/**
 * The Fastify application: the IP allowlist and metrics for everything, then scopes that share nothing
 * else: the vehicles' OTA routes and API (tokens, no sessions), operations, and the session-based admin UI.
 */
export async function buildApp(ctx: ServerContext): Promise<FastifyInstance> {
  const { config } = ctx;
  const app = Fastify({
    loggerInstance: ctx.logger,
    trustProxy: config.trustProxies.length > 0 ? config.trustProxies : false,
    ...(config.tls ? { https: { cert: readFileSync(config.tls.cert), key: readFileSync(config.tls.key) } } : {}),
    bodyLimit: 64 * 1024,
    // Our own request log line (plugins/request-log.ts) keeps nonces out of the logs.
    logController: new LogController({ disableRequestLogging: true }),
    // On close: idle keep-alive connections end at once, running downloads may finish.
    forceCloseConnections: 'idle',
    return503OnClosing: true,
    routerOptions: { maxParamLength: 1024 },
  }) as unknown as FastifyInstance;

  installErrorHandling(app);
  await app.register(ipAllowlistPlugin, { ctx });
  await app.register(requestMetricsPlugin, { ctx });
  await app.register(requestLogPlugin);
  await app.register(openApiPlugin);

  await app.register(otaRoutes, { ctx });
  const deployments = new DeploymentService(ctx.storage, ctx.audit, ctx.clock);
  await app.register(vehicleApiRoutes, { ctx, deployments });
  await app.register(vehicleDeploymentRoutes, { ctx, deployments });
  await app.register(opsRoutes, { ctx });
  await app.register(uiScope, { ctx });
  return app;
}
