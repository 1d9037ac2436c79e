import type { FastifyPluginAsync } from 'fastify';
import type { ServerContext } from '../context.ts';
import { requireRole, requireUser } from '../auth/guards.ts';
import { auditEvents } from '../audit/audit-log.ts';
import { auditPage } from '../views/audit-page.ts';

interface AuditQuery {
  event?: string;
  outcome?: string;
  actor?: string;
  ip?: string;
  before?: number;
}

const pageSize = 100;

/** The audit log for admins, newest first, filterable by event, outcome, actor and address. */
export const auditRoutes: FastifyPluginAsync<{ ctx: ServerContext }> = async (app, { ctx }) => {
  app.get<{ Querystring: AuditQuery }>('/audit', {
    config: { page: true },
    schema: {
      tags: ['admin'],
      summary: 'Audit log page (admin)',
      produces: ['text/html'],
      querystring: {
        type: 'object',
        properties: {
          event: { type: 'string', enum: ['', ...auditEvents] },
          outcome: { type: 'string', enum: ['', 'ok', 'failed', 'denied'] },
          actor: { type: 'string', maxLength: 128 },
          ip: { type: 'string', maxLength: 64 },
          before: { type: 'integer', minimum: 1 },
        },
      },
    },
  }, async (request, reply) => {
    const user = requireUser(request, reply);
    if (!user) return reply;
    await requireRole(ctx, request, user, 'admin', 'access');
    const { event, outcome, actor, ip, before } = request.query;
    const entries = await ctx.audit.list({
      event: event || undefined, outcome: outcome || undefined, actor: actor || undefined, ip: ip || undefined,
      beforeId: before, limit: pageSize + 1,
    });
    const older = entries.length > pageSize;
    const shown = entries.slice(0, pageSize);
    return reply.type('text/html; charset=utf-8').send(auditPage({
      user, csrfToken: reply.generateCsrf(), entries: shown, filter: { event, outcome, actor, ip },
      olderThan: older ? shown[shown.length - 1]!.id : undefined,
    }).value);
  });
};
