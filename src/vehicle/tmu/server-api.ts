import { z } from 'zod';
import { parseLatestVersion, safeFilename, type Release } from '../../ota-http/release.ts';
import { errorMessage } from '../../errors/error-message.ts';
import { OtaHttpClient } from '../../ota-http/ota-http-client.ts';
import type { OtaResponse } from '../../ota-http/response.ts';
import { toOtaHttpError } from '../../ota-http/transport-errors.ts';
import { assertManifestShape, type SignedManifest } from '../../crypto/manifest.ts';
import { ServerApiError } from './errors.ts';

/**
 * The TMU's calls to the OTA server (docs/vehicle-protocol.md, "The server's side of vehicles"), typed:
 * the newest release of each ECU, and the update reports. Until a server has `/api/v1/releases/latest`
 * (the seed's has not), the newest release comes from `/latest_version`, whose extra fields name its
 * `ecu` and `firmware_version`; such a release has no manifest.
 */

/** One ECU's newest release as the server announces it. */
export interface AnnouncedRelease {
  ecu: string;
  firmwareVersion: string;
  notes: string;
  /** What the download agent fetches (file name, SHA-256, size, …). */
  release: Release;
  /** The server's signed release manifest; null when the server has none (no signing key, or the seed's routes). */
  manifest: SignedManifest | null;
}

export interface LatestReleases {
  /** `api`: `/api/v1/releases/latest` (every ECU); `latest_version`: the seed's route (only the newest upload). */
  source: 'api' | 'latest_version';
  releases: AnnouncedRelease[];
  /** Releases left out, and why (no `ecu` or `firmware_version`: the TMU cannot tell where they go). */
  skipped: { filename: string; reason: string }[];
  /**
   * The server's campaign for these releases (a registered vehicle: the deployment that assigns them, null
   * when none does); undefined from a server that does not say (anonymous, or the seed's route): the TMU
   * then names the campaign after its images.
   */
  campaignId?: string | null;
}

/** Where the vehicle is in a deployment while it works (`POST /api/v1/vehicles/<vin>/deployment-status`). */
export interface DeploymentProgress {
  campaign_id: string;
  state: 'offered' | 'postponed' | 'downloading' | 'installing' | 'refused';
  percent?: number;
  ecu?: string;
  reason?: string;
}

export type ReportOutcome = 'success' | 'failed' | 'rolled-back' | 'declined' | 'postponed';
export type UpdateResultKind = 'installed' | 'failed' | 'rolled-back' | 'not-attempted';

/** An ECU as the report describes it (the shape of `canota vehicle status --json`, reduced). */
export interface ReportedEcu {
  version: string | null;
  sha256: string | null;
  active_bank: 'A' | 'B' | null;
  state: string;
  /** The ECU's hardware (0xF191, as vehicle.json names it): the server's ECU registry and fleet search use it. */
  hardware_id?: string;
}

/** `POST /api/v1/vehicles/<vin>/reports` body (docs/vehicle-protocol.md). */
export interface VehicleReport {
  campaign_id: string | null;
  outcome: ReportOutcome;
  ecus: Record<string, ReportedEcu>;
  updates: { ecu: string; from: string; to: string; release_id: string; result: UpdateResultKind; error?: string }[];
  message: string;
  at: string;
}

export interface ServerApiOptions {
  server: string | URL;
  /** The vehicle's token, sent as `Authorization: Bearer …`. */
  token?: string | undefined;
  timeoutMs?: number;
  ca?: string | Buffer | undefined;
}

const idText = z.union([z.string().min(1), z.number()]).transform(String);
const optionalText = z.union([z.string(), z.number()]).nullish().transform((value) => (value == null ? undefined : String(value)));

const apiRelease = z.object({
  release_id: idText,
  filename: z.string().min(1),
  ecu: optionalText,
  firmware_version: optionalText,
  size: z.number().int().nonnegative(),
  sha256: z.string().regex(/^[0-9a-fA-F]{64}$/, '64 hex digits'),
  uploaded_at: z.string().nullish(),
  notes: z.string().nullish(),
  manifest: z.unknown().nullish(),
});

const apiAnswer = z.object({ releases: z.array(z.unknown()), campaign_id: z.string().min(1).max(64).nullish() });

/**
 * The vehicle API on top of the shared HTTP client (src/ota-http/): its own connection pool, the token on
 * every request, and every failure a ServerApiError whose `failure` comes from the shared taxonomy.
 */
export class ServerApi {
  readonly #http: OtaHttpClient;

  constructor(options: ServerApiOptions) {
    this.#http = new OtaHttpClient({
      url: options.server, token: options.token, timeoutMs: options.timeoutMs, ca: options.ca, userAgent: 'canota-tmu',
    });
  }

  get base(): URL {
    return this.#http.base;
  }

  get hasToken(): boolean {
    return this.#http.hasToken;
  }

  /** The newest release of each ECU: the vehicle API, else `/latest_version` (404 or 405 on the API). */
  async latestReleases(signal?: AbortSignal): Promise<LatestReleases> {
    const what = '/api/v1/releases/latest';
    let body: unknown;
    try {
      body = await (await this.#send('api/v1/releases/latest', { signal })).json();
    } catch (error) {
      const failure = toOtaHttpError(error, `GET ${what}`, signal?.aborted);
      // A server of the seed's generation has no vehicle API: ask its one route instead.
      if (failure.code === 'OTA_HTTP_NOT_FOUND') return this.#fromLatestVersion(signal);
      throw ServerApiError.fromHttp(failure);
    }
    const answer = apiAnswer.safeParse(body);
    if (!answer.success) throw badResponse(what, answer.error);
    const result: LatestReleases = { source: 'api', releases: [], skipped: [] };
    if (answer.data.campaign_id !== undefined) result.campaignId = answer.data.campaign_id;
    for (const entry of answer.data.releases) {
      const parsed = apiRelease.safeParse(entry);
      if (!parsed.success) throw badResponse(what, parsed.error);
      const item = parsed.data;
      const uploadedAt = item.uploaded_at ?? undefined;
      let filename: string;
      try {
        filename = safeFilename(item.filename);
      } catch (error) {
        throw new ServerApiError('bad-response', errorMessage(error), { cause: error });
      }
      const release: Release = {
        filename,
        mtime: uploadedAt ? Date.parse(uploadedAt) / 1000 : 0,
        sha256: item.sha256.toLowerCase(),
        size: item.size,
        ecu: item.ecu,
        firmwareVersion: item.firmware_version,
        releaseId: item.release_id,
        uploadedAt,
      };
      let manifest: SignedManifest | null = null;
      if (item.manifest != null) {
        try {
          assertManifestShape(item.manifest);
        } catch (error) {
          throw new ServerApiError('bad-response', `release ${item.release_id}: ${errorMessage(error)}`, { cause: error });
        }
        manifest = item.manifest;
      }
      addRelease(result, release, item.notes ?? '', manifest);
    }
    return result;
  }

  /**
   * `GET /api/v1/releases/<id>/deltas/<base sha256>`: the delta the server made to a release from an earlier
   * image (issue 13). Refused beyond `maxBytes` (the size its signed manifest names); the caller checks its
   * SHA-256 against the manifest.
   */
  async fetchDelta(releaseId: string, baseSha256: string, maxBytes: number, signal?: AbortSignal): Promise<Uint8Array> {
    const path = `api/v1/releases/${encodeURIComponent(releaseId)}/deltas/${encodeURIComponent(baseSha256)}`;
    try {
      const response = await this.#http.request(path, { signal, headers: { accept: 'application/octet-stream' } });
      if (response.status !== 200) throw await response.statusError();
      const chunks: Buffer[] = [];
      let size = 0;
      for await (const chunk of response.body) {
        size += (chunk as Buffer).length;
        if (size > maxBytes) {
          response.body.destroy();
          throw new ServerApiError('bad-response', `GET /${path}: more than the ${maxBytes} bytes the manifest names`);
        }
        chunks.push(chunk as Buffer);
      }
      return new Uint8Array(Buffer.concat(chunks));
    } catch (error) {
      if (error instanceof ServerApiError) throw error;
      throw ServerApiError.fromHttp(toOtaHttpError(error, `GET /${path}`, signal?.aborted));
    }
  }

  /** Stores a report; resolves with the server's id for it. */
  async postReport(vin: string, report: VehicleReport, signal?: AbortSignal): Promise<string> {
    const path = `api/v1/vehicles/${encodeURIComponent(vin)}/reports`;
    let body: unknown;
    try {
      body = await (await this.#send(path, { method: 'POST', json: report, signal })).json([201, 200]);
    } catch (error) {
      throw ServerApiError.fromHttp(toOtaHttpError(error, `POST /${path}`, signal?.aborted));
    }
    const id = (body as { id?: unknown } | null)?.id;
    return id === undefined || id === null ? '' : String(id);
  }

  /** Says where the vehicle is in a deployment; the server answers with the state it keeps (an end stays an end). */
  async postDeploymentProgress(vin: string, progress: DeploymentProgress, signal?: AbortSignal): Promise<void> {
    const path = `api/v1/vehicles/${encodeURIComponent(vin)}/deployment-status`;
    try {
      await (await this.#send(path, { method: 'POST', json: progress, signal })).json([200]);
    } catch (error) {
      throw ServerApiError.fromHttp(toOtaHttpError(error, `POST /${path}`, signal?.aborted));
    }
  }

  async close(): Promise<void> {
    await this.#http.close();
  }

  async #fromLatestVersion(signal?: AbortSignal): Promise<LatestReleases> {
    let body: unknown;
    try {
      body = await (await this.#send('latest_version', { signal })).json();
    } catch (error) {
      throw ServerApiError.fromHttp(toOtaHttpError(error, 'GET /latest_version', signal?.aborted));
    }
    let release: Release | null;
    try {
      release = parseLatestVersion(body);
    } catch (error) {
      throw new ServerApiError('bad-response', errorMessage(error), { cause: error });
    }
    const result: LatestReleases = { source: 'latest_version', releases: [], skipped: [] };
    if (release) addRelease(result, release, typeof (body as { notes?: unknown }).notes === 'string' ? (body as { notes: string }).notes : '', null);
    return result;
  }

  #send(path: string, options: { method?: 'GET' | 'POST'; json?: unknown; signal?: AbortSignal | undefined }): Promise<OtaResponse> {
    return this.#http.request(path, { ...options, headers: { accept: 'application/json' } });
  }
}

function addRelease(result: LatestReleases, release: Release, notes: string, manifest: SignedManifest | null): void {
  if (!release.ecu || !release.firmwareVersion) {
    result.skipped.push({ filename: release.filename, reason: `it names no ${release.ecu ? 'firmware_version' : 'ecu'}` });
    return;
  }
  const ecu = release.ecu.toUpperCase();
  result.releases.push({ ecu, firmwareVersion: release.firmwareVersion, notes, release: { ...release, ecu }, manifest });
}

function badResponse(what: string, error: z.ZodError): ServerApiError {
  return new ServerApiError('bad-response', `unexpected ${what} answer: ${z.prettifyError(error)}`);
}
