import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { HttpError } from './errors.ts';
import { errorPage } from './views/error-page.ts';

/**
 * The one place where failures become responses: JSON `{error}` for API routes, a readable page for
 * HTML routes (and for browsers on negotiating routes). Unexpected errors are logged in full and
 * answered with a generic 500, so no internals leak.
 */
export function installErrorHandling(app: FastifyInstance): void {
  app.setErrorHandler((error: FastifyError | HttpError | Error, request, reply) => {
    const status = statusOf(error);
    const message = status >= 500 ? 'internal server error' : error.message;
    if (status >= 500) request.log.error({ err: error }, 'request failed');
    if (error instanceof HttpError) reply.headers(error.headers);
    return respond(request, reply, status, message);
  });

  app.setNotFoundHandler((request, reply) => respond(request, reply, 404, 'not found'));
}

function statusOf(error: FastifyError | HttpError | Error): number {
  const status = (error as { statusCode?: unknown }).statusCode;
  return typeof status === 'number' && status >= 400 && status < 600 ? status : 500;
}

export function wantsHtml(request: FastifyRequest): boolean {
  const config = request.routeOptions.config;
  if (config.page) return true;
  if (config.negotiate || request.is404) return (request.headers.accept ?? '').includes('text/html');
  return false;
}

function respond(request: FastifyRequest, reply: FastifyReply, status: number, message: string) {
  reply.code(status);
  if (wantsHtml(request)) {
    const session = (request as { session?: FastifyRequest['session'] }).session;
    return reply.type('text/html; charset=utf-8').send(errorPage({ status, message, user: session?.user }).value);
  }
  return reply.type('application/json; charset=utf-8').send({ error: message });
}
