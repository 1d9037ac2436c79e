import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';

/**
 * CSRF protection for the login form without a server-side session (double submit): the browser gets a
 * random value in an HttpOnly, SameSite=Strict cookie, the form carries an HMAC of it under the session
 * secret. A cross-site form post does not carry the cookie, and no one can compute the token for a value
 * without the secret. Nothing is stored on the server until a login succeeds, so a flood of visitors to
 * /login costs no database rows (sessions are only saved once something is in them).
 */
export const loginCsrfCookie = 'canota_login_csrf';
const cookiePath = '/login';
const valuePattern = /^[A-Za-z0-9_-]{43}$/;

export class LoginCsrf {
  constructor(private readonly secret: string, private readonly secure: boolean) {}

  /** The token for the login form; sets the cookie it is bound to unless the browser already has one. */
  token(request: FastifyRequest, reply: FastifyReply): string {
    let value = cookieValue(request);
    if (value === undefined) {
      value = randomBytes(32).toString('base64url');
      void reply.setCookie(loginCsrfCookie, value, { path: cookiePath, httpOnly: true, sameSite: 'strict', secure: this.secure });
    }
    return this.#mac(value);
  }

  /** Why `token` does not match this browser's cookie, or undefined when it does. */
  refusal(request: FastifyRequest, token: string | undefined): string | undefined {
    const value = cookieValue(request);
    if (value === undefined) return 'missing login CSRF cookie';
    if (token === undefined) return 'missing CSRF token';
    const expected = Buffer.from(this.#mac(value));
    const given = Buffer.from(token);
    return given.length === expected.length && timingSafeEqual(given, expected) ? undefined : 'invalid CSRF token';
  }

  /** After a login the session's own CSRF secret takes over. */
  forget(reply: FastifyReply): void {
    void reply.clearCookie(loginCsrfCookie, { path: cookiePath, httpOnly: true, sameSite: 'strict', secure: this.secure });
  }

  #mac(value: string): string {
    return createHmac('sha256', this.secret).update(`canota login form\0${value}`).digest('base64url');
  }
}

function cookieValue(request: FastifyRequest): string | undefined {
  const value = request.cookies[loginCsrfCookie];
  return value !== undefined && valuePattern.test(value) ? value : undefined;
}
