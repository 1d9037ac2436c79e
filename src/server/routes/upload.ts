import type { FastifyPluginAsync } from 'fastify';
import type { ServerContext } from '../context.ts';
import type { PendingBlob } from '../storage/blobs.ts';
import { clientIp } from '../client-ip.ts';
import { verifyCsrf } from '../auth/guards.ts';
import { requireAccess } from '../auth/access.ts';
import { BadRequestError, ConflictError, HttpError, NotFoundError, PayloadTooLargeError } from '../errors.ts';
import { checkFilename } from '../releases/filename.ts';
import { checkReleaseFields } from '../releases/release-fields.ts';
import { checkAgainstRegistry, ImageTooLargeError } from '../releases/ecu-registry.ts';
import { firmwareImageProblem, sniffBytes } from '../releases/firmware-image.ts';
import { DuplicateReleaseError, type ReleaseRecord } from '../storage/releases.ts';
import { formatTime } from '../views/format.ts';
import { sendBlob } from '../downloads/send-blob.ts';
import { wantsHtml } from '../error-handler.ts';
import { errorSchema, filenameParams, releaseSchema } from './schemas.ts';
import { latestReleaseIds, releaseJson } from './releases.ts';
import { makeReleaseDeltas } from '../releases/release-deltas.ts';
import { multipartRefusal } from './multipart-errors.ts';
import { errorMessage } from '../../errors/error-message.ts';

/**
 * POST /upload and POST /api/v1/releases (admin + CSRF, or an API token with releases:write; streamed to the blob store) and GET
 * /upload/<filename> (admin or releases:read check-out).
 */
export const uploadRoutes: FastifyPluginAsync<{ ctx: ServerContext }> = async (app, { ctx }) => {
  // The form's route and the versioned API's: the same upload; the API answers 201 Created.
  for (const [path, created] of [['/upload', false], ['/api/v1/releases', true]] as const) {
    app.post(path, {
      config: { negotiate: true },
      schema: {
        tags: ['admin'],
        summary: `${created ? 'Publish a release (the versioned API of POST /upload). ' : ''}Upload a release (admin session + multipart \`csrf_token\` or header X-CSRF-Token, or \`Authorization: Bearer\` API token with releases:write): \`ecu\`, \`firmware_version\`, \`hardware_id\`, \`notes\`, then \`file\``,
        consumes: ['multipart/form-data'],
        response: {
          [created ? 201 : 200]: { type: 'object', properties: { message: { type: 'string' }, release: releaseSchema } },
          400: errorSchema, 401: errorSchema, 403: errorSchema, 409: errorSchema, 413: errorSchema,
        },
      },
    }, async (request, reply) => {
      if (!request.session.user && request.headers.authorization === undefined) {
        ctx.metrics.uploads.inc({ outcome: 'denied' });
        await ctx.audit.record({ event: 'upload', outcome: 'denied', ip: clientIp(request), details: { reason: 'not logged in' } });
      }
      const user = await requireAccess(ctx, request, reply, { scope: 'releases:write', role: 'admin', event: 'upload' });
      if (!user) return reply;
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
            // The multipart parser cuts a field at its size limit and says so; a cut value is not the one sent.
            if (part.valueTruncated) throw new BadRequestError(`the field "${part.fieldname.slice(0, 64)}" is too long`);
            fields[part.fieldname] = String(part.value);
            continue;
          }
          // The token must come before the file (our form puts it first), so a forged upload is refused
          // before a single byte of it is stored.
          await verifyCsrf(app, ctx, request, fields.csrf_token ?? headerToken(request.headers['x-csrf-token']));
          csrfChecked = true;
          if (part.fieldname !== 'file' || pending) throw new BadRequestError('send exactly one file, in the field "file"');
          filename = checkFilename(part.filename);
          // Fields sent before the file (as our form sends them) are checked before a byte of it is stored.
          const early = checkReleaseFields(fields, { complete: false });
          await checkAgainstRegistry(ctx.storage, early);
          await refuseTakenVersion(ctx, early);
          pending = await ctx.blobs.write(part.file, { headBytes: sniffBytes });
          if (part.file.truncated) throw new PayloadTooLargeError(ctx.config.maxUploadBytes);
        }
        if (!csrfChecked) await verifyCsrf(app, ctx, request, fields.csrf_token ?? headerToken(request.headers['x-csrf-token']));
        if (!pending || !filename) throw new BadRequestError('no file uploaded: send it in the field "file"');
        const release = checkReleaseFields(fields);
        const { ecu, firmware_version: firmwareVersion, hardware_id: hardwareId } = release;
        const imageProblem = firmwareImageProblem(pending.head, pending.size);
        if (imageProblem) throw new BadRequestError(`${filename}: ${imageProblem}`);
        await checkAgainstRegistry(ctx.storage, release, pending.size);
        await refuseTakenVersion(ctx, release);

        const blob = pending;
        const stored = await ctx.storage.releases.add({
          ...release, filename, sha256: blob.sha256, size: blob.size, uploaded_by: user.username, uploaded_at: ctx.clock(),
        }, { beforeCommit: () => blob.commit() }).catch((error: unknown) => {
          if (error instanceof DuplicateReleaseError) throw versionTaken(error.holder, release);
          throw error;
        });
        pending = undefined;
        // Before the answer, so a car polling right after the upload already sees them; never fails the upload.
        await makeReleaseDeltas(ctx, stored);
        ctx.latest.invalidate();
        ctx.latestPerEcu.invalidate();
        ctx.metrics.uploads.inc({ outcome: 'ok' });
        await ctx.audit.record({
          event: 'upload', outcome: 'ok', actor: user.username, ip, subject: filename,
          details: { release_id: stored.id, sha256: stored.sha256, size: stored.size, ecu, firmware_version: firmwareVersion, ...(hardwareId ? { hardware_id: hardwareId } : {}) },
        });
        const message = `uploaded ${filename} (${stored.size} bytes, sha256 ${stored.sha256})`;
        if (wantsHtml(request)) {
          request.session.flash = message;
          return reply.redirect('/', 303);
        }
        return reply.code(created ? 201 : 200).send({ message, release: releaseJson(stored, (await latestReleaseIds(ctx)).has(stored.id)) });
      } catch (caught) {
        await pending?.discard();
        const error = multipartRefusal(caught);
        const status = (error as { statusCode?: number }).statusCode;
        // CSRF refusals are audited as such already.
        if (!(error instanceof HttpError && status === 403)) {
          await fail(status === 413 && !(error instanceof ImageTooLargeError) ? 'too large' : errorMessage(error));
        }
        // The parser's own 413 is the server's limit; the registry's names its ECU's.
        if (status === 413 && !(error instanceof PayloadTooLargeError) && !(error instanceof ImageTooLargeError)) {
          throw new PayloadTooLargeError(ctx.config.maxUploadBytes);
        }
        throw error;
      }
    });
  }

  app.get<{ Params: { filename: string } }>('/upload/:filename', {
    config: { negotiate: true },
    exposeHeadRoute: false,
    schema: {
      tags: ['admin'],
      summary: 'Check out (download) the newest release with this filename (admin, or API token with releases:read)',
      params: filenameParams,
      response: { 401: errorSchema, 403: errorSchema, 404: errorSchema },
    },
  }, async (request, reply) => {
    const user = await requireAccess(ctx, request, reply, { scope: 'releases:read', role: 'admin', event: 'checkout' });
    if (!user) return reply;
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

/** 409 when the upload's ECU already has a release of its version (withdrawn ones included). */
async function refuseTakenVersion(ctx: ServerContext, release: { ecu: string | null; firmware_version: string | null }): Promise<void> {
  if (!release.ecu || !release.firmware_version) return;
  const holder = await ctx.storage.releases.holder(release.ecu, release.firmware_version);
  if (holder) throw versionTaken(holder, release);
}

function versionTaken(holder: ReleaseRecord | undefined, release: { ecu: string | null; firmware_version: string | null }): ConflictError {
  const what = `${release.ecu} ${release.firmware_version}`;
  if (!holder) return new ConflictError(`${what} has been released already: give this image a new version`);
  const withdrawn = holder.withdrawn_at === null ? '' : ', withdrawn';
  return new ConflictError(`${what} is already release ${holder.id} (${holder.filename}, version ${holder.firmware_version}, uploaded by ${holder.uploaded_by} at ${formatTime(holder.uploaded_at)}${withdrawn}): a version is released once, give this image a new version`);
}

function headerToken(header: string | string[] | undefined): string | undefined {
  return typeof header === 'string' ? header : undefined;
}
