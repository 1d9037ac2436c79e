import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import type { ServerContext } from '../context.ts';
import { clientIp } from '../client-ip.ts';
import { verifyPassword } from '../auth/passwords.ts';
import { verifyCsrf, verifyLoginCsrf } from '../auth/guards.ts';
import { LoginCsrf } from '../auth/login-csrf.ts';
import { loginPage } from '../views/login-page.ts';
import { confirmLogoutPage } from '../views/confirm-logout-page.ts';

/** One message for an unknown user and a wrong password, so the answer reveals nothing. */
const badCredentials = 'Invalid username or password.';
const lockedOut = 'Too many failed login attempts. Try again later.';

const loginBody = {
  type: 'object',
  properties: {
    username: { type: 'string', maxLength: 128 },
    password: { type: 'string', maxLength: 1024 },
    csrf_token: { type: 'string', maxLength: 256 },
  },
} as const;

export const loginRoutes: FastifyPluginAsync<{ ctx: ServerContext }> = async (app, { ctx }) => {
  const html = 'text/html; charset=utf-8';
  // The login form needs CSRF protection before there is a session: a cookie-bound token, no database row.
  const loginCsrf = new LoginCsrf(ctx.config.sessionSecret, Boolean(ctx.config.tls));

  app.get('/login', {
    config: { page: true },
    schema: { tags: ['admin'], summary: 'Login form', produces: ['text/html'] },
  }, async (request, reply) => {
    if (request.session.user) return reply.redirect('/', 302);
    return reply.type(html).send(loginPage({ csrfToken: loginCsrf.token(request, reply) }).value);
  });

  app.post<{ Body: { username?: string; password?: string } }>('/login', {
    config: { page: true },
    schema: { tags: ['admin'], summary: 'Log in (form post, CSRF token required)', body: loginBody, consumes: ['application/x-www-form-urlencoded'] },
  }, async (request, reply) => {
    await verifyLoginCsrf(ctx, loginCsrf, request);
    const ip = clientIp(request);
    const username = (request.body.username ?? '').trim();
    const password = request.body.password ?? '';
    const again = (status: number, error: string) =>
      reply.code(status).type(html).send(loginPage({ csrfToken: loginCsrf.token(request, reply), error, username }).value);

    // The attempt is counted before the (slow) password check, so a burst of parallel guesses gets at
    // most --login-max-failures checks; a success clears the count again.
    const attempt = await ctx.loginThrottle.reserve(ip, username);
    if (!attempt.allowed) {
      ctx.metrics.logins.inc({ outcome: 'locked' });
      await ctx.audit.record({ event: 'login', outcome: 'denied', actor: username, ip, details: { reason: 'locked out', locked_until: new Date(attempt.lockedUntil).toISOString() } });
      reply.header('retry-after', Math.ceil((attempt.lockedUntil - ctx.clock()) / 1000));
      return again(429, lockedOut);
    }

    const user = username ? await ctx.storage.users.find(username) : undefined;
    if (!await verifyPassword(password, user?.password_hash)) {
      const locked = attempt.lockedUntil;
      ctx.metrics.logins.inc({ outcome: 'failed' });
      await ctx.audit.record({
        event: 'login', outcome: 'failed', actor: username, ip,
        details: { reason: 'bad credentials', ...(locked ? { locked_until: new Date(locked).toISOString() } : {}) },
      });
      return again(401, badCredentials);
    }

    await ctx.loginThrottle.recordSuccess(ip, username);
    // A fresh session id at login defeats session fixation.
    await request.session.regenerate();
    loginCsrf.forget(reply);
    request.session.user = { username: user!.username, role: user!.role };
    ctx.metrics.logins.inc({ outcome: 'ok' });
    await ctx.audit.record({ event: 'login', outcome: 'ok', actor: username, ip, details: { role: user!.role } });
    return reply.redirect('/', 302);
  });

  const logout = async (request: FastifyRequest, reply: FastifyReply) => {
    const user = request.session.user;
    await request.session.destroy();
    if (user) await ctx.audit.record({ event: 'logout', outcome: 'ok', actor: user.username, ip: clientIp(request) });
    return reply.redirect('/login', 302);
  };

  app.post('/logout', {
    config: { page: true },
    schema: { tags: ['admin'], summary: 'Log out (ends the session on the server; CSRF token required)', consumes: ['application/x-www-form-urlencoded'] },
  }, async (request, reply) => {
    await verifyCsrf(app, ctx, request);
    return logout(request, reply);
  });

  app.get<{ Querystring: { csrf_token?: string } }>('/logout', {
    config: { page: true },
    schema: {
      tags: ['admin'],
      summary: 'Log out with ?csrf_token=…; without it, a confirmation form (a cross-site link cannot log anyone out)',
      querystring: { type: 'object', properties: { csrf_token: { type: 'string', maxLength: 256 } } },
    },
  }, async (request, reply) => {
    if (!request.session.user) return reply.redirect('/login', 302);
    if (request.query.csrf_token !== undefined) {
      await verifyCsrf(app, ctx, request, request.query.csrf_token);
      return logout(request, reply);
    }
    return reply.type(html).send(confirmLogoutPage({ csrfToken: reply.generateCsrf() }).value);
  });
};
