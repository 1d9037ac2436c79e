import type { FastifyPluginAsync } from 'fastify';
import type { ServerContext } from '../context.ts';
import type { PendingBlob } from '../storage/blobs.ts';
import { clientIp } from '../client-ip.ts';
import { requireRole, requireUser, verifyCsrf } from '../auth/guards.ts';
import { BadRequestError, HttpError, NotFoundError, PayloadTooLargeError } from '../errors.ts';
import { checkFilename, checkLabel } from '../releases/filename.ts';
import { sendBlob } from '../downloads/send-blob.ts';
import { wantsHtml } from '../error-handler.ts';
import { errorSchema, filenameParams, releaseSchema } from './schemas.ts';
import { releaseJson } from './releases.ts';
import { multipartRefusal } from './multipart-errors.ts';
import { errorMessage } from '../../errors/error-message.ts';

/** POST /upload (admin + CSRF, streamed to the blob store) and GET /upload/<filename> (admin check-out). */
export const uploadRoutes: FastifyPluginAsync<{ ctx: ServerContext }> = async (app, { ctx }) => {
  app.post('/upload', {
    config: { negotiate: true },
    schema: {
      tags: ['admin'],
      summary: 'Upload a release: multipart `csrf_token` (or header X-CSRF-Token), `ecu`, `firmware_version`, `hardware_id`, `notes`, then `file`',
      consumes: ['multipart/form-data'],
      response: {
        200: { type: 'object', properties: { message: { type: 'string' }, release: releaseSchema } },
        400: errorSchema, 401: errorSchema, 403: errorSchema, 413: errorSchema,
      },
    },
  }, async (request, reply) => {
    if (!request.session.user) {
      ctx.metrics.uploads.inc({ outcome: 'denied' });
      await ctx.audit.record({ event: 'upload', outcome: 'denied', ip: clientIp(request), details: { reason: 'not logged in' } });
    }
    const user = requireUser(request, reply);
    if (!user) return reply;
    await requireRole(ctx, request, user, 'admin', 'upload');
    if (!request.isMultipart()) throw new BadRequestError('expected a multipart/form-data upload with a "file" field');

    const ip = clientIp(request);
    const fields: Record<string, string> = {};
    let csrfChecked = false;
    let pending: PendingBlob | undefined;
    let filename: string | undefined;
    const fail = async (reason: string) => {
      ctx.metrics.uploads.inc({ outcome: 'failed' });
      await ctx.audit.record({ event: 'upload', outcome: 'failed', actor: user.username, ip, subject: filename ?? null, details: { reason } });
    };
    try {
      for await (const part of request.parts()) {
        if (part.type === 'field') {
          fields[part.fieldname] = String(part.value);
          continue;
        }
        // The token must come before the file (our form puts it first), so a forged upload is refused
        // before a single byte of it is stored.
        await verifyCsrf(app, ctx, request, fields.csrf_token ?? headerToken(request.headers['x-csrf-token']));
        csrfChecked = true;
        if (part.fieldname !== 'file' || pending) throw new BadRequestError('send exactly one file, in the field "file"');
        filename = checkFilename(part.filename);
        pending = await ctx.blobs.write(part.file);
        if (part.file.truncated) throw new PayloadTooLargeError(ctx.config.maxUploadBytes);
      }
      if (!csrfChecked) await verifyCsrf(app, ctx, request, fields.csrf_token ?? headerToken(request.headers['x-csrf-token']));
      if (!pending || !filename) throw new BadRequestError('no file uploaded: send it in the field "file"');
      const ecu = checkLabel('ecu', fields.ecu, 64);
      const firmwareVersion = checkLabel('firmware_version', fields.firmware_version, 64);
      const notes = checkLabel('notes', fields.notes, 1000);
      // As a vehicle config names it (at most 32 characters); the signed manifest carries it to the ECU.
      const hardwareId = checkLabel('hardware_id', fields.hardware_id, 32);

      await pending.commit();
      const release = await ctx.storage.releases.add({
        filename, sha256: pending.sha256, size: pending.size, ecu, firmware_version: firmwareVersion, notes,
        hardware_id: hardwareId, uploaded_by: user.username, uploaded_at: ctx.clock(),
      });
      pending = undefined;
      ctx.latest.invalidate();
      ctx.latestPerEcu.invalidate();
      ctx.metrics.uploads.inc({ outcome: 'ok' });
      await ctx.audit.record({
        event: 'upload', outcome: 'ok', actor: user.username, ip, subject: filename,
        details: { release_id: release.id, sha256: release.sha256, size: release.size, ecu, firmware_version: firmwareVersion, ...(hardwareId ? { hardware_id: hardwareId } : {}) },
      });
      const message = `uploaded ${filename} (${release.size} bytes, sha256 ${release.sha256})`;
      if (wantsHtml(request)) {
        request.session.flash = message;
        return reply.redirect('/', 303);
      }
      return { message, release: releaseJson(release) };
    } catch (caught) {
      await pending?.discard();
      const error = multipartRefusal(caught);
      const status = (error as { statusCode?: number }).statusCode;
      // CSRF refusals are audited as such already.
      if (!(error instanceof HttpError && status === 403)) {
        await fail(status === 413 ? 'too large' : errorMessage(error));
      }
      if (status === 413 && !(error instanceof PayloadTooLargeError)) throw new PayloadTooLargeError(ctx.config.maxUploadBytes);
      throw error;
    }
  });

  app.get<{ Params: { filename: string } }>('/upload/:filename', {
    config: { negotiate: true },
    exposeHeadRoute: false,
    schema: {
      tags: ['admin'],
      summary: 'Check out (download) the newest release with this filename (admin)',
      params: filenameParams,
      response: { 401: errorSchema, 403: errorSchema, 404: errorSchema },
    },
  }, async (request, reply) => {
    const user = requireUser(request, reply);
    if (!user) return reply;
    await requireRole(ctx, request, user, 'admin', 'checkout');
    const { filename } = request.params;
    const release = await ctx.storage.releases.newestNamed(filename);
    if (!release) throw new NotFoundError(`no release named "${filename}"`);
    const sent = await sendBlob(request, reply, release, ctx.blobs);
    void sent.finished.then(({ complete, bytes }) => ctx.audit.recordLater({
      event: 'checkout', outcome: complete ? 'ok' : 'failed', actor: user.username, ip: clientIp(request), subject: filename,
      details: { release_id: release.id, bytes },
    }));
    return reply;
  });
};

function headerToken(header: string | string[] | undefined): string | undefined {
  return typeof header === 'string' ? header : undefined;
}
