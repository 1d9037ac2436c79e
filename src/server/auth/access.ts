import type { FastifyReply, FastifyRequest } from 'fastify';
import type { ServerContext } from '../context.ts';
import type { AuditEventName } from '../audit/audit-log.ts';
import type { Role } from '../storage/index.ts';
import { clientIp } from '../client-ip.ts';
import { ApiTokenError, ForbiddenError } from '../errors.ts';
import { redactUrl } from '../plugins/request-log.ts';
import { apiTokens, tokenState } from '../tokens/api-tokens.ts';
import { allows, type ApiScope } from '../tokens/scopes.ts';
import { sameTokenHash } from './bearer-token.ts';
import { requireRole, requireUser } from './guards.ts';
import { markTokenAuthenticated } from './token-requests.ts';

/** Who a management request comes from: a logged-in user, or an API token (named `token:<name>` in the audit log). */
export interface Actor {
  username: string;
  /** The user's role; null for a token (its scopes decide). */
  role: Role | null;
}

export interface AccessNeed {
  /** What an API token must hold. */
  scope: ApiScope;
  /** What a logged-in user must be; any logged-in user when absent. */
  role?: Role;
  /** The audit event a refusal is recorded under. */
  event: AuditEventName;
}

/** "Last used" is written at most this often per token: API calls must not each turn into a database write. */
const lastUsedResolutionMs = 30_000;

/**
 * The management API's gate: `Authorization: Bearer cat_…` is an API token, which must be known, not
 * revoked, not expired (401) and hold `need.scope` (403); without that header the request needs a session
 * (requireUser: pages go to /login, API calls get 401) and `need.role`. Refusals are audited. Undefined
 * when a page was redirected to /login.
 */
export async function requireAccess(ctx: ServerContext, request: FastifyRequest, reply: FastifyReply, need: AccessNeed): Promise<Actor | undefined> {
  if (request.headers.authorization === undefined) {
    const user = requireUser(request, reply);
    if (!user) return undefined;
    if (need.role) await requireRole(ctx, request, user, need.role, need.event);
    return { username: user.username, role: user.role };
  }
  const record = await tokenRecord(ctx, request);
  const actor = `token:${record.name}`;
  const scopes = record.scopes.split(' ');
  if (!allows(scopes, need.scope)) {
    await ctx.audit.record({
      event: need.event, outcome: 'denied', actor, ip: clientIp(request),
      subject: `${request.method} ${redactUrl(request.url).slice(0, 200)}`, details: { reason: `token lacks the scope ${need.scope}`, scopes },
    });
    if (need.event === 'upload') ctx.metrics.uploads.inc({ outcome: 'denied' });
    throw new ForbiddenError(`this API token lacks the scope ${need.scope} (it has ${scopes.join(', ')})`);
  }
  markTokenAuthenticated(request);
  return { username: actor, role: null };
}

async function tokenRecord(ctx: ServerContext, request: FastifyRequest) {
  const refuse = async (reason: string, message: string, name?: string): Promise<never> => {
    await ctx.audit.record({
      event: 'token.auth', outcome: 'denied', actor: name ? `token:${name}` : null, ip: clientIp(request),
      subject: `${request.method} ${redactUrl(request.url).slice(0, 200)}`, details: { reason },
    });
    throw new ApiTokenError(message);
  };
  const match = /^Bearer +(\S+) *$/i.exec(request.headers.authorization ?? '');
  if (!match) return refuse('malformed Authorization header', 'expected Authorization: Bearer <API token> (made by `canota token create`)');
  const hash = apiTokens.hash(match[1]!);
  const record = hash === undefined ? undefined : await ctx.storage.apiTokens.findByHash(hash);
  if (!record || !sameTokenHash(record.token_hash, hash!)) return refuse('unknown token', 'unknown API token');
  const now = ctx.clock();
  const state = tokenState(record, now);
  if (state === 'revoked') return refuse('revoked', `the API token "${record.name}" was revoked`, record.name);
  if (state === 'expired') return refuse('expired', `the API token "${record.name}" expired at ${new Date(record.expires_at!).toISOString()}`, record.name);
  const ip = clientIp(request);
  if (record.last_used_ip !== ip || record.last_used_at === null || now - record.last_used_at >= lastUsedResolutionMs) {
    await ctx.storage.apiTokens.markUsed(record.id, now, ip);
  }
  return record;
}
