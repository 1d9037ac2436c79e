import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import type { ServerContext, SessionUser } from '../context.ts';
import type { AuditEventName } from '../audit/audit-log.ts';
import { BadRequestError, ConflictError, ForbiddenError, NotFoundError } from '../errors.ts';
import { errorSchema } from './schemas.ts';
import { requireRole, requireUser, verifyCsrf } from '../auth/guards.ts';
import { PasswordPolicyError } from '../auth/passwords.ts';
import { clientIp } from '../client-ip.ts';
import { AlreadyExistsError } from '../storage/errors.ts';
import { roles, type Role } from '../storage/index.ts';
import { addUser, removeUser, UserInputError } from '../users.ts';
import { usersPage } from '../views/users-page.ts';

const formFields = {
  csrf_token: { type: 'string', maxLength: 256 },
  username: { type: 'string', maxLength: 128 },
} as const;

/** User administration for admins: list, add, remove. Every change needs the CSRF token. */
export const userRoutes: FastifyPluginAsync<{ ctx: ServerContext }> = async (app, { ctx }) => {
  const html = 'text/html; charset=utf-8';

  app.get('/users', {
    config: { page: true },
    schema: { tags: ['admin'], summary: 'Users page (admin)', produces: ['text/html'] },
  }, async (request, reply) => {
    const user = requireUser(request, reply);
    if (!user) return reply;
    await requireRole(ctx, request, user, 'admin', 'access');
    const flash = request.session.flash;
    if (flash) request.session.flash = undefined;
    return reply.type(html).send(usersPage({ user, csrfToken: reply.generateCsrf(), users: await ctx.storage.users.list(), flash }).value);
  });

  app.post<{ Body: { username: string; role: string; password: string } }>('/users', {
    config: { page: true },
    schema: {
      tags: ['admin'],
      summary: 'Add a user (admin, CSRF token required)',
      consumes: ['application/x-www-form-urlencoded'],
      body: {
        type: 'object',
        properties: { ...formFields, role: { type: 'string', enum: [...roles] }, password: { type: 'string', maxLength: 1024 } },
        required: ['username', 'role', 'password'],
      },
    },
  }, async (request, reply) => {
    const user = requireUser(request, reply);
    if (!user) return reply;
    await requireRole(ctx, request, user, 'admin', 'user.add');
    await verifyCsrf(app, ctx, request);
    const { username, role, password } = request.body;
    try {
      await addUser(ctx.storage, ctx.audit, { username: username.trim(), role: role as Role, password, by: user.username, ip: clientIp(request) });
    } catch (error) {
      if (error instanceof UserInputError || error instanceof PasswordPolicyError || error instanceof AlreadyExistsError) {
        return reply.code(400).type(html).send(usersPage({
          user, csrfToken: reply.generateCsrf(), users: await ctx.storage.users.list(), error: error.message,
        }).value);
      }
      throw error;
    }
    request.session.flash = `added ${role} ${username.trim()}`;
    return reply.redirect('/users', 303);
  });

  app.post<{ Body: { username: string } }>('/users/remove', {
    config: { page: true },
    schema: {
      tags: ['admin'],
      summary: 'Remove a user (admin, CSRF token required)',
      consumes: ['application/x-www-form-urlencoded'],
      body: { type: 'object', properties: formFields, required: ['username'] },
    },
  }, async (request, reply) => {
    const user = requireUser(request, reply);
    if (!user) return reply;
    await requireRole(ctx, request, user, 'admin', 'user.remove');
    await verifyCsrf(app, ctx, request);
    const { username } = request.body;
    if (username === user.username) {
      request.session.flash = 'you cannot remove yourself';
    } else {
      const removed = await removeUser(ctx.storage, ctx.audit, { username, by: user.username, ip: clientIp(request) });
      request.session.flash = removed ? `removed ${username}` : `no user ${username}`;
    }
    return reply.redirect('/users', 303);
  });
  // The same over the API, for an admin's session only: no API token may add or remove users (a leaked
  // token must not be able to make itself an admin).
  const adminSession = async (request: FastifyRequest, reply: FastifyReply, event: AuditEventName): Promise<SessionUser | undefined> => {
    if (request.headers.authorization !== undefined) {
      throw new ForbiddenError('users are managed from an admin\'s session or with `canota user` on the server, not with a token');
    }
    const user = requireUser(request, reply);
    if (user) await requireRole(ctx, request, user, 'admin', event);
    return user;
  };
  const userJson = (u: { username: string; role: Role; created_at: number }) => ({ username: u.username, role: u.role, created_at: new Date(u.created_at).toISOString() });
  const userSchema = { type: 'object', properties: { username: { type: 'string' }, role: { type: 'string' }, created_at: { type: 'string' } } } as const;

  app.get('/api/v1/users', {
    schema: { tags: ['admin'], summary: 'Users (admin session)', response: { 200: { type: 'object', properties: { users: { type: 'array', items: userSchema } } }, 401: errorSchema, 403: errorSchema } },
  }, async (request, reply) => {
    if (!await adminSession(request, reply, 'access')) return reply;
    return { users: (await ctx.storage.users.list()).map(userJson) };
  });

  app.post<{ Body: { username: string; role: Role; password?: string; csrf_token?: string } }>('/api/v1/users', {
    schema: {
      tags: ['admin'],
      summary: 'Add a user (admin session + CSRF): without a password one is generated and answered once',
      body: {
        type: 'object', additionalProperties: false,
        properties: { ...formFields, role: { type: 'string', enum: [...roles] }, password: { type: 'string', maxLength: 1024 } },
        required: ['username', 'role'],
      },
      response: { 201: { type: 'object', properties: { ...userSchema.properties, password: { type: 'string' } } }, 400: errorSchema, 401: errorSchema, 403: errorSchema, 409: errorSchema },
    },
  }, async (request, reply) => {
    const user = await adminSession(request, reply, 'user.add');
    if (!user) return reply;
    await verifyCsrf(app, ctx, request);
    const { username, role, password } = request.body;
    try {
      const added = await addUser(ctx.storage, ctx.audit, { username: username.trim(), role, ...(password !== undefined ? { password } : {}), by: user.username, ip: clientIp(request) });
      return reply.code(201).header('cache-control', 'no-store').send({ ...userJson(added.user), ...(added.generatedPassword ? { password: added.generatedPassword } : {}) });
    } catch (error) {
      if (error instanceof UserInputError || error instanceof PasswordPolicyError) throw new BadRequestError(error.message);
      if (error instanceof AlreadyExistsError) throw new ConflictError(error.message);
      throw error;
    }
  });

  app.delete<{ Params: { username: string } }>('/api/v1/users/:username', {
    schema: {
      tags: ['admin'], summary: 'Remove a user (admin session + CSRF in X-CSRF-Token); not yourself',
      params: { type: 'object', properties: { username: { type: 'string', maxLength: 128 } }, required: ['username'] },
      response: { 400: errorSchema, 401: errorSchema, 403: errorSchema, 404: errorSchema },
    },
  }, async (request, reply) => {
    const user = await adminSession(request, reply, 'user.remove');
    if (!user) return reply;
    await verifyCsrf(app, ctx, request);
    const { username } = request.params;
    if (username === user.username) throw new BadRequestError('you cannot remove yourself');
    if (!await removeUser(ctx.storage, ctx.audit, { username, by: user.username, ip: clientIp(request) })) throw new NotFoundError(`no user ${username}`);
    return reply.code(204).send();
  });
};
