import { createReadStream } from 'node:fs';
import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import type { ServerContext } from '../context.ts';
import { clientIp } from '../client-ip.ts';
import { GoneError, NotFoundError } from '../errors.ts';
import { vehicleReleaseOf } from '../releases/latest-per-ecu.ts';
import type { DeploymentService } from '../deployments/deployment-service.ts';
import { assignmentFor } from '../deployments/assignment.ts';
import { learnFromReport } from '../releases/ecu-registry.ts';
import { DueStarts } from '../deployments/due-starts.ts';
import { ownVehicleOf, requireOwnVehicle } from '../vehicles/own-vehicle.ts';
import { reportBodyLimit, reportRecord, vehicleReportSchema, type VehicleReportBody } from '../vehicles/report.ts';
import { bearerHeader, errorSchema } from './schemas.ts';

const manifestSchema = {
  type: ['object', 'null'],
  description: 'The signed release manifest (src/crypto/manifest.ts); null when the release names no ECU or no firmware version',
  properties: {
    signed: {
      type: 'object',
      properties: {
        _type: { type: 'string', enum: ['canota/release'] }, release_id: { type: 'string' }, filename: { type: 'string' },
        ecu: { type: 'string' }, firmware_version: { type: 'string' }, hardware_id: { type: 'string' },
        size: { type: 'integer' }, sha256: { type: 'string' }, created_at: { type: 'string', format: 'date-time' },
        deltas: {
          type: 'array',
          description: 'VCDIFF deltas to this image from earlier releases (GET /api/v1/releases/<id>/deltas/<base_sha256>)',
          items: {
            type: 'object',
            properties: {
              format: { type: 'string', enum: ['vcdiff'] }, base_version: { type: 'string' }, base_sha256: { type: 'string' },
              base_size: { type: 'integer' }, size: { type: 'integer' }, sha256: { type: 'string' },
            },
          },
        },
      },
    },
    signatures: {
      type: 'array',
      items: { type: 'object', properties: { keyid: { type: 'string' }, sig: { type: 'string', description: 'base64 Ed25519 over the canonical JSON of `signed`' } } },
    },
  },
} as const;

const vehicleReleaseSchema = {
  type: 'object',
  properties: {
    release_id: { type: 'integer' }, filename: { type: 'string' }, ecu: { type: ['string', 'null'] },
    firmware_version: { type: ['string', 'null'] }, hardware_id: { type: ['string', 'null'] }, size: { type: 'integer' },
    sha256: { type: 'string' }, uploaded_at: { type: 'string', format: 'date-time' }, notes: { type: ['string', 'null'] },
    manifest: manifestSchema,
  },
} as const;

const tokenHeaders = { type: 'object', properties: { authorization: bearerHeader } } as const;

/**
 * What the TMU uses besides the seed's routes (docs/vehicle-protocol.md, "The server's side of
 * vehicles"): the newest release of each ECU with its signed manifest, one manifest, and reports. Like
 * the seed's routes they run outside the session scope: a vehicle has a token, not a login.
 */
export const vehicleApiRoutes: FastifyPluginAsync<{ ctx: ServerContext; deployments: DeploymentService }> = async (app, { ctx, deployments }) => {
  const json = 'application/json; charset=utf-8';
  const dueStarts = new DueStarts(deployments, ctx.clock);

  app.get('/api/v1/releases/latest', {
    logLevel: 'warn',
    schema: {
      tags: ['vehicles'],
      summary: 'What to install, with signed manifests: for a registered vehicle (token) what its deployment assigns (nothing when in none), for an anonymous client the latest release of each ECU by version (withdrawn ones never)',
      security: [{ vehicleToken: [] }, {}],
      headers: tokenHeaders,
      response: {
        200: {
          type: 'object',
          properties: {
            releases: { type: 'array', items: vehicleReleaseSchema },
            campaign_id: { type: ['string', 'null'], description: 'For a registered vehicle: the deployment these releases come from (null: none)' },
          },
        },
        401: errorSchema,
      },
    },
  }, async (request, reply) => {
    const vin = await ctx.identifyDownloader(request);
    const vehicle = vin === null ? undefined : await ctx.storage.vehicles.find(vin);
    // An anonymous client (the seed's way) gets the latest of each ECU; a registered vehicle what its deployments say.
    if (!vehicle) return reply.type(json).send(await ctx.latestPerEcu.json());
    await dueStarts.check();
    return reply.type(json).send(JSON.stringify(await assignmentFor(ctx.storage, ctx.signer, vehicle.id)));
  });

  app.get<{ Params: { release_id: number } }>('/api/v1/releases/:release_id/manifest', {
    schema: {
      tags: ['vehicles'],
      summary: 'A release\'s signed manifest (vehicle token if presented or required)',
      security: [{ vehicleToken: [] }, {}],
      params: { type: 'object', properties: { release_id: { type: 'integer', minimum: 1 } }, required: ['release_id'] },
      headers: tokenHeaders,
      response: { 200: manifestSchema, 400: errorSchema, 401: errorSchema, 404: errorSchema, 410: errorSchema },
    },
  }, async (request, reply) => {
    await ctx.identifyDownloader(request);
    const release = await ctx.storage.releases.find(request.params.release_id);
    if (!release) throw new NotFoundError(`no release ${request.params.release_id}`);
    if (release.withdrawn_at !== null) throw new GoneError(`release ${release.id} (${release.filename}) was withdrawn: it is no longer offered`);
    const { manifest } = vehicleReleaseOf(release, ctx.signer);
    if (!manifest) throw new NotFoundError(`release ${release.id} has no manifest: it names no target ECU or no firmware version`);
    // Serialised as is: the signature covers every field, none may be dropped or reordered away.
    return reply.type(json).send(JSON.stringify(manifest));
  });

  app.get<{ Params: { release_id: number; base_sha256: string } }>('/api/v1/releases/:release_id/deltas/:base_sha256', {
    schema: {
      tags: ['vehicles'],
      summary: 'The VCDIFF delta from the image `base_sha256` to a release\'s image, as its signed manifest lists it (vehicle token if presented or required)',
      security: [{ vehicleToken: [] }, {}],
      params: {
        type: 'object',
        properties: { release_id: { type: 'integer', minimum: 1 }, base_sha256: { type: 'string', pattern: '^[0-9a-f]{64}$' } },
        required: ['release_id', 'base_sha256'],
      },
      headers: tokenHeaders,
      response: { 400: errorSchema, 401: errorSchema, 404: errorSchema, 410: errorSchema },
    },
  }, async (request, reply) => {
    await ctx.identifyDownloader(request);
    const release = await ctx.storage.releases.find(request.params.release_id);
    if (!release) throw new NotFoundError(`no release ${request.params.release_id}`);
    if (release.withdrawn_at !== null) throw new GoneError(`release ${release.id} (${release.filename}) was withdrawn: it is no longer offered`);
    const found = ctx.deltas?.file(release.id, request.params.base_sha256);
    if (!found) throw new NotFoundError(`release ${release.id} has no delta from the image ${request.params.base_sha256}`);
    return reply.type('application/octet-stream').header('content-length', found.delta.size).send(createReadStream(found.path));
  });

  app.post<{ Params: { vin: string }; Body: VehicleReportBody }>('/api/v1/vehicles/:vin/reports', {
    bodyLimit: reportBodyLimit,
    schema: {
      tags: ['vehicles'],
      summary: 'A vehicle reports an update\'s outcome and its ECUs\' versions (its own token only)',
      security: [{ vehicleToken: [] }],
      params: { type: 'object', properties: { vin: { type: 'string', maxLength: 64 } }, required: ['vin'] },
      headers: tokenHeaders,
      body: vehicleReportSchema,
      response: {
        201: { type: 'object', properties: { id: { type: 'integer' } }, required: ['id'] },
        400: errorSchema, 401: errorSchema, 403: errorSchema, 413: errorSchema, 415: errorSchema,
      },
    },
    // Who is asking is settled before the body is even read: an unknown client cannot make the server
    // parse 64 KiB, and a refusal says 401/403 whatever the body holds.
    onRequest: async (request: FastifyRequest<{ Params: { vin: string } }>) => {
      await requireOwnVehicle(ctx, request, 'vehicle.report', () => ctx.metrics.vehicleReports.inc({ outcome: 'refused' }));
    },
    // A body that is not JSON, too large or not a report: audited under the vehicle that sent it.
    onError: async (request, _reply, error) => {
      const vehicle = ownVehicleOf(request);
      if (!vehicle) return;
      ctx.metrics.vehicleReports.inc({ outcome: 'refused' });
      await ctx.audit.record({
        event: 'vehicle.report', outcome: 'failed', actor: vehicle.vin, ip: clientIp(request), subject: vehicle.vin,
        details: { reason: error.message.slice(0, 500), status: (error as { statusCode?: number }).statusCode ?? 500 },
      });
    },
  }, async (request, reply) => {
    const vehicle = ownVehicleOf(request)!;
    const ip = clientIp(request);
    const stored = await ctx.storage.vehicleReports.add(reportRecord(request.body, vehicle.id, ctx.clock(), ip));
    ctx.metrics.vehicleReports.inc({ outcome: 'stored' });
    await ctx.audit.record({
      event: 'vehicle.report', outcome: 'ok', actor: vehicle.vin, ip, subject: vehicle.vin,
      details: {
        report_id: stored.id, outcome: request.body.outcome, campaign_id: request.body.campaign_id ?? null,
        updates: request.body.updates.map((u) => `${u.ecu} ${u.from}->${u.to} ${u.result}`),
      },
    });
    await learnFromReport(ctx.storage, ctx.audit, vehicle.vin, request.body.ecus, ctx.clock());
    await deployments.recordReport(vehicle.id, request.body.campaign_id, request.body.outcome, request.body.message);
    return reply.code(201).send({ id: stored.id });
  });
};
