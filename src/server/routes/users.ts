import type { FastifyPluginAsync } from 'fastify';
import type { ServerContext } from '../context.ts';
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
};
