import type { FastifyPluginAsync } from 'fastify';
import type { ServerContext } from '../context.ts';
import { requireRole, requireUser } from '../auth/guards.ts';
import { requireAccess } from '../auth/access.ts';
import { auditEvents } from '../audit/audit-log.ts';
import { auditEntryJson } from '../audit/audit-entry-json.ts';
import { auditPage } from '../views/audit-page.ts';

interface AuditQuery {
  event?: string;
  outcome?: string;
  actor?: string;
  ip?: string;
  before?: number;
}

const pageSize = 100;

const auditQuerySchema = {
  type: 'object',
  properties: {
    event: { type: 'string', enum: ['', ...auditEvents] },
    outcome: { type: 'string', enum: ['', 'ok', 'failed', 'denied'] },
    actor: { type: 'string', maxLength: 128 },
    ip: { type: 'string', maxLength: 64 },
    before: { type: 'integer', minimum: 1 },
  },
} as const;

/** The audit log for admins, newest first, filterable by event, outcome, actor and address. */
export const auditRoutes: FastifyPluginAsync<{ ctx: ServerContext }> = async (app, { ctx }) => {
  /** One page of entries matching the query, and whether older ones follow. */
  const auditPageOf = async ({ event, outcome, actor, ip, before }: AuditQuery) => {
    const entries = await ctx.audit.list({
      event: event || undefined, outcome: outcome || undefined, actor: actor || undefined, ip: ip || undefined,
      beforeId: before, limit: pageSize + 1,
    });
    return { shown: entries.slice(0, pageSize), older: entries.length > pageSize };
  };

  app.get<{ Querystring: AuditQuery }>('/audit', {
    config: { page: true },
    schema: {
      tags: ['admin'],
      summary: 'Audit log page (admin)',
      produces: ['text/html'],
      querystring: auditQuerySchema,
    },
  }, async (request, reply) => {
    const user = requireUser(request, reply);
    if (!user) return reply;
    await requireRole(ctx, request, user, 'admin', 'access');
    const { event, outcome, actor, ip } = request.query;
    const { shown, older } = await auditPageOf(request.query);
    return reply.type('text/html; charset=utf-8').send(auditPage({
      user, csrfToken: reply.generateCsrf(), entries: shown, filter: { event, outcome, actor, ip },
      olderThan: older ? shown[shown.length - 1]!.id : undefined,
    }).value);
  });

  app.get<{ Querystring: AuditQuery }>('/api/v1/audit', {
    schema: {
      tags: ['admin'],
      summary: `Audit log entries, newest first, ${pageSize} at a time (admin session, or API token with audit:read); \`before\` = next_before of the previous page`,
      querystring: auditQuerySchema,
    },
  }, async (request, reply) => {
    if (!await requireAccess(ctx, request, reply, { scope: 'audit:read', role: 'admin', event: 'access' })) return reply;
    const { shown, older } = await auditPageOf(request.query);
    return {
      entries: shown.map(auditEntryJson),
      next_before: older ? shown[shown.length - 1]!.id : null,
    };
  });
};
