import type { FastifyPluginAsync } from 'fastify';
import rateLimit from '@fastify/rate-limit';
import type { ServerContext } from '../context.ts';
import { clientIp } from '../client-ip.ts';
import { ForbiddenError, GoneError, NotFoundError } from '../errors.ts';
import { sendBlob } from '../downloads/send-blob.ts';
import type { NonceOutcome } from '../nonces/nonce-service.ts';
import { bearerHeader, errorSchema, filenameParams, latestVersionSchema } from './schemas.ts';
import { errorMessage } from '../../errors/error-message.ts';

const nonceRefusals: Record<Exclude<NonceOutcome, 'ok'>, string> = {
  missing: 'a nonce is required: get one from /get_nonce',
  malformed: 'invalid nonce',
  unknown: 'invalid nonce',
  used: 'nonce already used',
  expired: 'nonce expired',
  foreign: 'this nonce was issued to another client',
};

/**
 * The routes vehicles use, drop-in compatible with the seed's `download_file.py`. No session, cookie
 * or CSRF machinery runs here: these are the hot paths.
 */
export const otaRoutes: FastifyPluginAsync<{ ctx: ServerContext }> = async (app, { ctx }) => {
  await app.register(rateLimit, { global: false });

  app.get('/latest_version', {
    logLevel: 'warn',
    schema: {
      tags: ['ota'],
      summary: 'The newest release not withdrawn, by upload (ETag; If-None-Match → 304)',
      headers: { type: 'object', properties: { 'if-none-match': { type: 'string' }, authorization: bearerHeader } },
      response: { 200: latestVersionSchema, 304: { type: 'null', description: 'Unchanged since the ETag sent in If-None-Match' }, 401: errorSchema },
    },
  }, async (request, reply) => {
    await ctx.identifyDownloader(request);
    const latest = await ctx.latest.answer();
    // Pollers revalidate every time; an unchanged answer is a bodiless 304 (RFC 9110 §13.1.2).
    reply.header('etag', latest.etag).header('cache-control', 'no-cache');
    if (notModified(request.headers['if-none-match'], latest.etag)) return reply.code(304).send();
    // A ready-made JSON string: Fastify sends it as is, no serialisation per poll.
    return reply.type('application/json; charset=utf-8').send(latest.json);
  });

  app.get('/get_nonce', {
    config: { rateLimit: { max: ctx.config.nonceRateLimit, timeWindow: 60_000 } },
    schema: {
      tags: ['ota'],
      summary: 'A single-use download nonce (bound to the vehicle whose token came with the request)',
      headers: { type: 'object', properties: { authorization: bearerHeader } },
      response: {
        200: { type: 'object', properties: { nonce: { type: 'string' }, expires_in: { type: 'integer' } }, required: ['nonce', 'expires_in'] },
        401: errorSchema, 429: errorSchema,
      },
    },
  }, async (request) => {
    const issuedTo = await ctx.identifyDownloader(request);
    const issued = await ctx.nonces.issue(clientIp(request), issuedTo);
    ctx.metrics.nonces.inc({ outcome: 'issued' });
    return { nonce: issued.nonce, expires_in: issued.expiresIn };
  });

  app.get<{ Params: { filename: string }; Querystring: { nonce?: string } }>('/ota_download/:filename', {
    exposeHeadRoute: false,
    schema: {
      tags: ['ota'],
      summary: 'Download a release\'s file with a nonce (Range supported; 410 for a withdrawn release)',
      params: filenameParams,
      querystring: { type: 'object', properties: { nonce: { type: 'string', maxLength: 128 } } },
      headers: { type: 'object', properties: { authorization: bearerHeader } },
      response: { 401: errorSchema, 403: errorSchema, 404: errorSchema, 410: errorSchema, 416: errorSchema },
    },
  }, async (request, reply) => {
    const { filename } = request.params;
    const ip = clientIp(request);
    const identity = await ctx.identifyDownloader(request);
    const use = await ctx.nonces.consume(request.query.nonce, filename, ip, identity);
    ctx.metrics.nonces.inc({ outcome: use.outcome });
    const actor = identity ?? use.issuedTo;
    await ctx.audit.record({
      event: 'nonce.use', outcome: use.outcome === 'ok' ? 'ok' : 'failed', actor, ip, subject: filename,
      details: use.outcome === 'ok' ? {} : { reason: use.outcome },
    });
    if (use.outcome !== 'ok') {
      ctx.metrics.downloads.inc({ outcome: 'failed' });
      throw new ForbiddenError(nonceRefusals[use.outcome]);
    }

    const release = await ctx.storage.releases.newestOfferedNamed(filename);
    if (!release) {
      ctx.metrics.downloads.inc({ outcome: 'failed' });
      // Only withdrawn releases have this name: they are never offered again, and the client is told why.
      const withdrawn = await ctx.storage.releases.newestNamed(filename);
      await ctx.audit.record({
        event: 'download', outcome: 'failed', actor, ip, subject: filename,
        details: withdrawn ? { release_id: withdrawn.id, reason: 'withdrawn' } : { reason: 'unknown file' },
      });
      if (withdrawn) throw new GoneError(`release ${withdrawn.id} (${filename}) was withdrawn: it is no longer offered`);
      throw new NotFoundError(`no release named "${filename}"`);
    }
    const sent = await sendBlob(request, reply, release, ctx.blobs).catch(async (error: unknown) => {
      ctx.metrics.downloads.inc({ outcome: 'failed' });
      await ctx.audit.record({
        event: 'download', outcome: 'failed', actor, ip, subject: filename,
        details: { release_id: release.id, reason: errorMessage(error) },
      });
      throw error;
    });
    void sent.finished.then(({ complete, bytes }) => {
      ctx.metrics.downloads.inc({ outcome: complete ? 'ok' : 'failed' });
      ctx.metrics.downloadBytes.inc(bytes);
      ctx.audit.recordLater({
        event: 'download', outcome: complete ? 'ok' : 'failed', actor, ip, subject: filename,
        details: {
          release_id: release.id, sha256: release.sha256, bytes, status: sent.status,
          ...(complete ? {} : { reason: 'connection closed before the end' }),
        },
      });
    });
    return reply;
  });
};

/** If-None-Match with the weak comparison RFC 9110 §13.1.2 prescribes: `*`, or any listed tag naming ours. */
function notModified(header: string | undefined, etag: string): boolean {
  if (header === undefined) return false;
  if (header.trim() === '*') return true;
  const opaque = (tag: string) => tag.trim().replace(/^W\//, '');
  const ours = opaque(etag);
  return header.split(',').some((tag) => opaque(tag) === ours);
}
