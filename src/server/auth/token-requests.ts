import type { FastifyRequest } from 'fastify';

/**
 * Requests that proved who they are with an API token in their Authorization header. A browser never adds
 * that header by itself, so such a request cannot be forged cross-site: the CSRF check does not apply.
 */
const byToken = new WeakSet<FastifyRequest>();

export function markTokenAuthenticated(request: FastifyRequest): void {
  byToken.add(request);
}

export function isTokenAuthenticated(request: FastifyRequest): boolean {
  return byToken.has(request);
}
