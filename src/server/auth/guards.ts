import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ServerContext, SessionUser } from '../context.ts';
import type { AuditEventName } from '../audit/audit-log.ts';
import type { Role } from '../storage/index.ts';
import type { LoginCsrf } from './login-csrf.ts';
import { clientIp } from '../client-ip.ts';
import { ForbiddenError, UnauthorizedError } from '../errors.ts';
import { wantsHtml } from '../error-handler.ts';
import { isTokenAuthenticated } from './token-requests.ts';

/** Where a token to check may come from besides the form field and the header (multipart, GET /logout). */
const csrfCandidate = Symbol('csrfCandidate');
type WithCandidate = FastifyRequest & { [csrfCandidate]?: string };

/** For @fastify/csrf-protection: form field `csrf_token`, else header `X-CSRF-Token`. */
export function csrfTokenOf(request: FastifyRequest): string | undefined {
  const candidate = (request as WithCandidate)[csrfCandidate];
  if (candidate !== undefined) return candidate;
  const body = request.body as { csrf_token?: unknown } | undefined;
  if (body && typeof body.csrf_token === 'string') return body.csrf_token;
  const header = request.headers['x-csrf-token'];
  return typeof header === 'string' ? header : undefined;
}

/**
 * Checks the request's CSRF token against the session's secret (via @fastify/csrf-protection) and
 * audits a failure. `token` overrides where the token is read from (a multipart field, a query). A request
 * authenticated by an API token has no CSRF token to check (auth/token-requests.ts).
 */
export async function verifyCsrf(app: FastifyInstance, ctx: ServerContext, request: FastifyRequest, token?: string): Promise<void> {
  if (isTokenAuthenticated(request)) return;
  if (token !== undefined) (request as WithCandidate)[csrfCandidate] = token;
  // The plugin's hook reports failure through reply.send(error); a reply stand-in turns that into a rejection.
  const refusal = await new Promise<Error | undefined>((resolve) => {
    app.csrfProtection(request, { send: (error: Error) => resolve(error) } as unknown as FastifyReply, () => resolve(undefined));
  });
  if (refusal) await refuseCsrf(ctx, request, refusal.message);
}

/** Checks the login form's token against its cookie (auth/login-csrf.ts: no session yet); audits a failure. */
export async function verifyLoginCsrf(ctx: ServerContext, loginCsrf: LoginCsrf, request: FastifyRequest): Promise<void> {
  const refusal = loginCsrf.refusal(request, csrfTokenOf(request));
  if (refusal) await refuseCsrf(ctx, request, refusal);
}

async function refuseCsrf(ctx: ServerContext, request: FastifyRequest, reason: string): Promise<never> {
  await ctx.audit.record({
    event: 'csrf', outcome: 'denied', actor: request.session.user?.username ?? null, ip: clientIp(request),
    subject: `${request.method} ${request.routeOptions.url ?? request.url}`, details: { reason },
  });
  throw new ForbiddenError('missing or invalid CSRF token: reload the page and try again');
}

/** The logged-in user; a page sends the browser to /login, an API call gets 401 JSON. */
export function requireUser(request: FastifyRequest, reply: FastifyReply): SessionUser | undefined {
  const user = request.session.user;
  if (user) return user;
  if (wantsHtml(request)) {
    void reply.redirect('/login', 302);
    return undefined;
  }
  throw new UnauthorizedError();
}

/** Refuses (403, audited under `event`) a logged-in user without `role`. */
export async function requireRole(ctx: ServerContext, request: FastifyRequest, user: SessionUser, role: Role, event: AuditEventName): Promise<void> {
  if (user.role === role) return;
  await ctx.audit.record({
    event, outcome: 'denied', actor: user.username, ip: clientIp(request),
    subject: `${request.method} ${request.url.slice(0, 200)}`, details: { reason: `role ${user.role} is not ${role}` },
  });
  if (event === 'upload') ctx.metrics.uploads.inc({ outcome: 'denied' });
  throw new ForbiddenError(`only the ${role} role may do this`);
}
