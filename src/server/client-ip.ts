import type { FastifyRequest } from 'fastify';
import { unmapIPv4 } from './auth/ip-allowlist.ts';

/** The client's address as the allowlist and audit log see it (X-Forwarded-For only via a trusted proxy). */
export function clientIp(request: FastifyRequest): string {
  return unmapIPv4(request.ip);
}
