import fp from 'fastify-plugin';
import type { ServerContext } from '../context.ts';
import { IpAllowlist } from '../auth/ip-allowlist.ts';
import { clientIp } from '../client-ip.ts';
import { ForbiddenError } from '../errors.ts';

/** Refuses every request (any route, even unknown ones) from an address outside `--allow-ip`. */
export const ipAllowlistPlugin = fp<{ ctx: ServerContext }>(async (app, { ctx }) => {
  const allowlist = new IpAllowlist(ctx.config.allowIps);
  app.addHook('onRequest', async (request) => {
    const ip = clientIp(request);
    if (allowlist.allows(ip)) return;
    await ctx.audit.record({ event: 'ip.block', outcome: 'denied', ip, subject: `${request.method} ${request.url.slice(0, 200)}` });
    throw new ForbiddenError('your address is not allowed to use this server');
  });
}, { name: 'canota-ip-allowlist' });
