import type { FastifyPluginAsync } from 'fastify';
import cookie from '@fastify/cookie';
import session from '@fastify/session';
import csrf from '@fastify/csrf-protection';
import helmet from '@fastify/helmet';
import formbody from '@fastify/formbody';
import multipart from '@fastify/multipart';
import fastifyStatic from '@fastify/static';
import { projectPath } from '../../project-root.ts';
import type { ServerContext } from '../context.ts';
import { databaseSessionStore } from '../auth/session-store.ts';
import { csrfTokenOf } from '../auth/guards.ts';
import { loginRoutes } from '../routes/login.ts';
import { releasesRoutes } from '../routes/releases.ts';
import { uploadRoutes } from '../routes/upload.ts';
import { auditRoutes } from '../routes/audit.ts';
import { userRoutes } from '../routes/users.ts';
import { vehicleRoutes } from '../routes/vehicles.ts';
import { tokenRoutes } from '../routes/tokens.ts';
import { deploymentRoutes } from '../routes/deployments.ts';
import { deploymentPageRoutes } from '../routes/deployment-pages.ts';
import { ecuRoutes } from '../routes/ecus.ts';
import { opsAccessScope } from './ops-access.ts';

/**
 * Everything people use: sessions, CSRF, security headers, forms and uploads. It is a scope of its own,
 * so none of these hooks run on the vehicles' routes.
 */
export const uiScope: FastifyPluginAsync<{ ctx: ServerContext }> = async (app, { ctx }) => {
  const idleMs = ctx.config.sessionIdleSeconds * 1000;
  await app.register(cookie);
  await app.register(session, {
    secret: ctx.config.sessionSecret,
    cookieName: 'canota_session',
    store: databaseSessionStore(ctx.storage.sessions, idleMs, ctx.clock),
    // Secure under TLS. (Not 'auto': on plain HTTP the plugin would weaken SameSite to Lax.)
    cookie: { httpOnly: true, sameSite: 'strict', secure: Boolean(ctx.config.tls), path: '/', maxAge: idleMs },
    // Every request re-saves the session, which moves the idle timeout.
    rolling: true,
    saveUninitialized: false,
  });
  await app.register(csrf, { sessionPlugin: '@fastify/session', getToken: csrfTokenOf });
  await app.register(helmet, {
    contentSecurityPolicy: {
      useDefaults: false,
      directives: {
        defaultSrc: ["'self'"], scriptSrc: ["'self'"], styleSrc: ["'self'"], imgSrc: ["'self'", 'data:'],
        connectSrc: ["'self'"], formAction: ["'self'"], frameAncestors: ["'none'"], baseUri: ["'none'"],
        objectSrc: ["'none'"],
      },
    },
    hsts: ctx.config.tls ? undefined : false,
  });
  await app.register(formbody, { bodyLimit: 16 * 1024 });
  await app.register(multipart, {
    limits: { fileSize: ctx.config.maxUploadBytes, files: 1, fields: 10, fieldSize: 4096, parts: 11 },
    // Keep the name exactly as sent, so a name with a path is refused (400) instead of silently cut.
    preservePath: true,
  });
  await app.register(fastifyStatic, {
    root: projectPath('src', 'server', 'views', 'assets'),
    prefix: '/assets/',
    decorateReply: false,
    schemaHide: true,
  });

  await app.register(loginRoutes, { ctx });
  await app.register(releasesRoutes, { ctx });
  await app.register(uploadRoutes, { ctx });
  await app.register(auditRoutes, { ctx });
  await app.register(userRoutes, { ctx });
  await app.register(vehicleRoutes, { ctx });
  await app.register(tokenRoutes, { ctx });
  await app.register(deploymentRoutes, { ctx });
  await app.register(deploymentPageRoutes, { ctx });
  await app.register(ecuRoutes, { ctx });
  await app.register(opsAccessScope, { ctx });
};
