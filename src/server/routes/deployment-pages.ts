import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import type { ServerContext, SessionUser } from '../context.ts';
import { requireRole, requireUser, verifyCsrf } from '../auth/guards.ts';
import { clientIp } from '../client-ip.ts';
import { NotFoundError } from '../errors.ts';
import { AlreadyExistsError } from '../storage/errors.ts';
import { DeploymentService, type DeploymentAction } from '../deployments/deployment-service.ts';
import { DeploymentConflictError, DeploymentInputError } from '../deployments/deployment-errors.ts';
import { deploymentSummary, parseWavesText } from '../deployments/deployment-view.ts';
import { DueStarts } from '../deployments/due-starts.ts';
import type { DeploymentTarget } from '../deployments/target.ts';
import { vehicleStates } from '../deployments/vehicle-states.ts';
import { deploymentPage } from '../views/deployment-page.ts';
import { deploymentsPage, type DeploymentForm } from '../views/deployments-page.ts';
import { splitTagList } from '../vehicles/tags.ts';

const perPage = 50;
const vehiclesShown = 500;
const htmlType = 'text/html; charset=utf-8';
const actions: readonly DeploymentAction[] = ['pause', 'resume', 'advance', 'cancel'];

/** The create form as the service takes it; DeploymentInputError for what cannot be read. */
function fromForm(form: DeploymentForm) {
  const list = (text: string | undefined) => (text ?? '').split(/[\s,;]+/).filter((part) => part !== '');
  let target: DeploymentTarget;
  switch (form.target ?? 'all') {
    case 'all': target = { all: true }; break;
    case 'vins': target = { vins: list(form.vins) }; break;
    case 'tags': target = { tags: splitTagList(form.tags ?? '') }; break;
    case 'filter': target = { filter: { ecu: (form.filter_ecu ?? '').trim(), version_below: (form.filter_below ?? '').trim() } }; break;
    default: throw new DeploymentInputError('choose which vehicles');
  }
  const threshold = (form.failure_threshold_percent ?? '').trim();
  let startAt: number | undefined;
  if (form.start_at) {
    // datetime-local has no zone: the form says UTC.
    startAt = Date.parse(`${form.start_at}Z`);
    if (!Number.isFinite(startAt)) throw new DeploymentInputError('the start time is not a date and time');
  }
  return {
    name: form.name ?? '',
    releaseIds: (form.release_ids ?? []).map(Number),
    target,
    waves: parseWavesText(form.waves ?? '100%'),
    ...(threshold !== '' ? { failureThresholdPercent: Number(threshold) } : {}),
    requireApproval: form.require_approval === '1',
    ...(startAt !== undefined ? { startAt } : {}),
  };
}

/** The Deployments pages (admin UI): the list with the create form, one deployment with its buttons. */
export const deploymentPageRoutes: FastifyPluginAsync<{ ctx: ServerContext }> = async (app, { ctx }) => {
  const service = new DeploymentService(ctx.storage, ctx.audit, ctx.clock);
  const dueStarts = new DueStarts(service, ctx.clock);

  const listPage = async (request: FastifyRequest, reply: FastifyReply, user: SessionUser, page: number, extra: { form?: DeploymentForm; error?: string; status?: number } = {}) => {
    await dueStarts.check();
    const flash = request.session.flash;
    if (flash) request.session.flash = undefined;
    const [rows, total, releases] = await Promise.all([
      ctx.storage.deployments.list({ limit: perPage, offset: (page - 1) * perPage }), ctx.storage.deployments.count(), ctx.storage.releases.deployable(200),
    ]);
    return reply.code(extra.status ?? 200).type(htmlType).send(deploymentsPage({
      user, csrfToken: reply.generateCsrf(), deployments: await Promise.all(rows.map((row) => deploymentSummary(ctx.storage, row))),
      total, page, perPage, releases, form: extra.form, error: extra.error, flash,
    }).value);
  };

  const onePage = async (request: FastifyRequest, reply: FastifyReply, user: SessionUser, id: number, state: string, extra: { error?: string; status?: number } = {}) => {
    await dueStarts.check();
    const deployment = await ctx.storage.deployments.find(id);
    if (!deployment) throw new NotFoundError(`no deployment ${id}`);
    const flash = request.session.flash;
    if (flash) request.session.flash = undefined;
    const [summary, vehicles, events] = await Promise.all([
      deploymentSummary(ctx.storage, deployment),
      ctx.storage.deployments.vehicles(id, { ...(state ? { state } : {}), limit: vehiclesShown, offset: 0 }),
      ctx.storage.deployments.events(id),
    ]);
    return reply.code(extra.status ?? 200).type(htmlType).send(deploymentPage({
      user, csrfToken: reply.generateCsrf(), deployment: summary, vehicles, state, now: ctx.clock(), flash, error: extra.error,
      events: events.map((e) => ({ at: e.at, vehicleId: e.vehicle_id === null ? null : Number(e.vehicle_id), state: e.state })),
    }).value);
  };

  app.get<{ Querystring: { page?: number } }>('/deployments', {
    config: { page: true },
    schema: {
      tags: ['admin'], summary: 'Deployments page: progress of each (live), and for admins the form that starts one', produces: ['text/html'],
      querystring: { type: 'object', properties: { page: { type: 'integer', minimum: 1, maximum: 1_000_000 } } },
    },
  }, async (request, reply) => {
    const user = requireUser(request, reply);
    if (!user) return reply;
    return listPage(request, reply, user, request.query.page ?? 1);
  });

  app.post<{ Body: DeploymentForm & { csrf_token?: string; release_ids?: string | string[] } }>('/deployments', {
    config: { page: true },
    schema: {
      tags: ['admin'], summary: 'Start a deployment from the form (admin, CSRF); then its page', consumes: ['application/x-www-form-urlencoded'],
      body: {
        type: 'object',
        properties: {
          csrf_token: { type: 'string', maxLength: 256 }, name: { type: 'string', maxLength: 400 },
          release_ids: { anyOf: [{ type: 'string', maxLength: 20 }, { type: 'array', items: { type: 'string', maxLength: 20 }, maxItems: 64 }] },
          target: { type: 'string', maxLength: 16 }, vins: { type: 'string', maxLength: 200_000 }, tags: { type: 'string', maxLength: 1000 },
          filter_ecu: { type: 'string', maxLength: 16 }, filter_below: { type: 'string', maxLength: 64 }, waves: { type: 'string', maxLength: 200 },
          failure_threshold_percent: { type: 'string', maxLength: 8 }, require_approval: { type: 'string', maxLength: 8 }, start_at: { type: 'string', maxLength: 32 },
        },
      },
    },
  }, async (request, reply) => {
    const user = requireUser(request, reply);
    if (!user) return reply;
    await requireRole(ctx, request, user, 'admin', 'deployment.create');
    await verifyCsrf(app, ctx, request);
    const given = request.body.release_ids;
    const form: DeploymentForm = { ...request.body, release_ids: given === undefined ? [] : Array.isArray(given) ? given : [given] };
    try {
      const deployment = await service.create(fromForm(form), user.username, clientIp(request));
      request.session.flash = `deployment ${deployment.id} "${deployment.name}" ${deployment.status === 'scheduled' ? 'scheduled' : 'started'}`;
      return reply.redirect(`/deployments/${deployment.id}`, 303);
    } catch (error) {
      if (error instanceof DeploymentInputError || error instanceof AlreadyExistsError) {
        return listPage(request, reply, user, 1, { form, error: error.message, status: 400 });
      }
      throw error;
    }
  });

  app.get<{ Params: { id: number }; Querystring: { state?: string } }>('/deployments/:id', {
    config: { page: true },
    schema: {
      tags: ['admin'], summary: 'One deployment: status, buttons, waves, progress chart, vehicles by state (live)', produces: ['text/html'],
      params: { type: 'object', properties: { id: { type: 'integer', minimum: 1 } }, required: ['id'] },
      querystring: { type: 'object', properties: { state: { type: 'string', enum: ['', ...vehicleStates] } } },
    },
  }, async (request, reply) => {
    const user = requireUser(request, reply);
    if (!user) return reply;
    return onePage(request, reply, user, request.params.id, request.query.state ?? '');
  });

  app.post<{ Params: { id: number; action: DeploymentAction }; Body: { csrf_token?: string } }>('/deployments/:id/:action', {
    config: { page: true },
    schema: {
      tags: ['admin'], summary: 'Pause, resume, advance or cancel from the deployment\'s page (admin, CSRF)', consumes: ['application/x-www-form-urlencoded'],
      params: { type: 'object', properties: { id: { type: 'integer', minimum: 1 }, action: { type: 'string', enum: [...actions] } }, required: ['id', 'action'] },
      body: { type: 'object', properties: { csrf_token: { type: 'string', maxLength: 256 } } },
    },
  }, async (request, reply) => {
    const user = requireUser(request, reply);
    if (!user) return reply;
    const { id, action } = request.params;
    await requireRole(ctx, request, user, 'admin', `deployment.${action}`);
    await verifyCsrf(app, ctx, request);
    try {
      const deployment = await service.act(id, action, user.username, clientIp(request));
      request.session.flash = `${action}: deployment is ${deployment.status}${deployment.status_reason ? ` (${deployment.status_reason})` : ''}`;
      return reply.redirect(`/deployments/${id}`, 303);
    } catch (error) {
      if (error instanceof DeploymentConflictError) return onePage(request, reply, user, id, '', { error: error.message, status: 409 });
      throw error;
    }
  });
};
