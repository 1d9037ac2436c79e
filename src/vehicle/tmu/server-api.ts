import { Agent, errors, request, type Dispatcher } from 'undici';
import { z } from 'zod';
import { parseLatestVersion, safeFilename, type Release } from '../../client/release.ts';
import { AnswerTooLargeError, errorMessageOf, readBodyText } from '../../client/http-body.ts';
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
}

export type ReportOutcome = 'success' | 'failed' | 'rolled-back' | 'declined' | 'postponed';
export type UpdateResultKind = 'installed' | 'failed' | 'rolled-back' | 'not-attempted';

/** An ECU as the report describes it (the shape of `canota vehicle status --json`, reduced). */
export interface ReportedEcu {
  version: string | null;
  sha256: string | null;
  active_bank: 'A' | 'B' | null;
  state: string;
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

const apiAnswer = z.object({ releases: z.array(z.unknown()) });

/** Small JSON answers are read whole; more is a broken or hostile server. */
const JSON_LIMIT_BYTES = 1024 * 1024;

export class ServerApi {
  readonly base: URL;
  readonly #token: string | undefined;
  readonly #dispatcher: Agent;

  constructor(options: ServerApiOptions) {
    this.base = new URL(options.server);
    if (!this.base.pathname.endsWith('/')) this.base.pathname += '/';
    this.#token = options.token || undefined;
    const timeout = options.timeoutMs ?? 30_000;
    this.#dispatcher = new Agent({
      connect: { timeout, ...(options.ca ? { ca: options.ca } : {}) },
      headersTimeout: timeout,
      bodyTimeout: timeout,
    });
  }

  get hasToken(): boolean {
    return this.#token !== undefined;
  }

  /** The newest release of each ECU: the vehicle API, else `/latest_version` (404 on the API). */
  async latestReleases(signal?: AbortSignal): Promise<LatestReleases> {
    const response = await this.#send('GET', 'api/v1/releases/latest', { signal });
    if (response.statusCode === 404 || response.statusCode === 405) {
      await response.body.dump();
      return this.#fromLatestVersion(signal);
    }
    const body = await this.#json(response, '/api/v1/releases/latest');
    const answer = apiAnswer.safeParse(body);
    if (!answer.success) throw badResponse('/api/v1/releases/latest', answer.error);
    const result: LatestReleases = { source: 'api', releases: [], skipped: [] };
    for (const entry of answer.data.releases) {
      const parsed = apiRelease.safeParse(entry);
      if (!parsed.success) throw badResponse('/api/v1/releases/latest', parsed.error);
      const item = parsed.data;
      const uploadedAt = item.uploaded_at ?? undefined;
      let filename: string;
      try {
        filename = safeFilename(item.filename);
      } catch (error) {
        throw new ServerApiError('bad-response', (error as Error).message);
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
          throw new ServerApiError('bad-response', `release ${item.release_id}: ${(error as Error).message}`);
        }
        manifest = item.manifest;
      }
      addRelease(result, release, item.notes ?? '', manifest);
    }
    return result;
  }

  /** Stores a report; resolves with the server's id for it. */
  async postReport(vin: string, report: VehicleReport, signal?: AbortSignal): Promise<string> {
    const path = `api/v1/vehicles/${encodeURIComponent(vin)}/reports`;
    const response = await this.#send('POST', path, { signal, body: JSON.stringify(report) });
    if (response.statusCode !== 201 && response.statusCode !== 200) {
      const message = await errorMessageOf(response);
      throw statusError(response.statusCode, `POST /${path}`, message);
    }
    const body = await this.#json(response, `POST /${path}`, response.statusCode);
    const id = (body as { id?: unknown } | null)?.id;
    return id === undefined || id === null ? '' : String(id);
  }

  async close(): Promise<void> {
    await this.#dispatcher.close();
  }

  async #fromLatestVersion(signal?: AbortSignal): Promise<LatestReleases> {
    const response = await this.#send('GET', 'latest_version', { signal });
    const body = await this.#json(response, '/latest_version');
    let release: Release | null;
    try {
      release = parseLatestVersion(body);
    } catch (error) {
      throw new ServerApiError('bad-response', (error as Error).message);
    }
    const result: LatestReleases = { source: 'latest_version', releases: [], skipped: [] };
    if (release) addRelease(result, release, typeof (body as { notes?: unknown }).notes === 'string' ? (body as { notes: string }).notes : '', null);
    return result;
  }

  async #send(method: 'GET' | 'POST', path: string, options: { signal?: AbortSignal | undefined; body?: string }): Promise<Dispatcher.ResponseData> {
    const headers: Record<string, string> = { 'user-agent': 'canota-tmu', accept: 'application/json' };
    if (this.#token) headers.authorization = `Bearer ${this.#token}`;
    if (options.body !== undefined) headers['content-type'] = 'application/json';
    try {
      return await request(new URL(path, this.base), {
        dispatcher: this.#dispatcher, method, headers,
        ...(options.body !== undefined ? { body: options.body } : {}),
        ...(options.signal ? { signal: options.signal } : {}),
      });
    } catch (error) {
      const what = `${method} /${path}`;
      if (error instanceof errors.UndiciError || error instanceof Error) {
        throw new ServerApiError('unreachable', `${what}: ${(error as Error).message}`, { cause: error });
      }
      throw error;
    }
  }

  async #json(response: Dispatcher.ResponseData, what: string, expected = 200): Promise<unknown> {
    if (response.statusCode !== expected) throw statusError(response.statusCode, what, await errorMessageOf(response));
    const text = await readLimited(response, what);
    try {
      return JSON.parse(text);
    } catch {
      throw new ServerApiError('bad-response', `${what} did not answer JSON: ${text.slice(0, 200)}`);
    }
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

function statusError(status: number, what: string, message: string): ServerApiError {
  const failure = status >= 500 || status === 429 ? 'server-error'
    : status === 404 || status === 405 ? 'no-route'
    : status === 401 ? 'unauthorized'
    : status === 403 ? 'forbidden'
    : status === 400 || status === 413 || status === 422 ? 'rejected'
    : 'bad-response';
  return new ServerApiError(failure, `${what} answered ${status}: ${message}`, { status });
}

function badResponse(what: string, error: z.ZodError): ServerApiError {
  return new ServerApiError('bad-response', `unexpected ${what} answer: ${z.prettifyError(error)}`);
}

async function readLimited(response: Dispatcher.ResponseData, what: string, limit = JSON_LIMIT_BYTES): Promise<string> {
  try {
    return await readBodyText(response.body, limit);
  } catch (error) {
    if (error instanceof AnswerTooLargeError) throw new ServerApiError('bad-response', `${what}: ${error.message}`);
    throw new ServerApiError('unreachable', `${what}: ${(error as Error).message}`, { cause: error });
  }
}
