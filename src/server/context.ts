import type { FastifyRequest } from 'fastify';
import type { Logger } from '../logging/logger.ts';
import type { ServerConfig } from './config.ts';
import type { Storage, Role } from './storage/index.ts';
import type { BlobStore } from './storage/blobs.ts';
import type { AuditLog } from './audit/audit-log.ts';
import type { ServerMetrics } from './metrics.ts';
import type { NonceService } from './nonces/nonce-service.ts';
import type { LatestRelease } from './releases/latest-release.ts';
import type { LoginThrottle } from './auth/login-throttle.ts';
import type { ManifestSigner } from './releases/manifest-signer.ts';
import type { DeltaStore } from './releases/delta-store.ts';
import type { LatestReleasePerEcu } from './releases/latest-per-ecu.ts';
import type { VehicleAuth } from './vehicles/vehicle-auth.ts';

export interface SessionUser {
  username: string;
  role: Role;
}

declare module 'fastify' {
  interface Session {
    user?: SessionUser;
    _csrf?: string;
    /** A one-shot message for the next page (e.g. "uploaded x.bin"). */
    flash?: string;
  }
  interface FastifyContextConfig {
    /** An HTML route: errors become a readable page instead of JSON. */
    page?: boolean;
    /** Answers HTML or JSON depending on the client's Accept header (e.g. POST /upload). */
    negotiate?: boolean;
  }
}

/**
 * Who is downloading: null for an anonymous client (the seed's), else the vehicle's VIN (its
 * `Authorization: Bearer …` token, `vehicles/vehicle-auth.ts`); a function that throws an HttpError refuses
 * the request.
 */
export type DownloaderIdentity = (request: FastifyRequest) => Promise<string | null>;

/** Everything the routes share, built once by `start.ts`. */
export interface ServerContext {
  config: ServerConfig & { databaseUrl: string; sessionSecret: string; metricsToken?: string };
  storage: Storage;
  blobs: BlobStore;
  audit: AuditLog;
  metrics: ServerMetrics;
  nonces: NonceService;
  latest: LatestRelease;
  loginThrottle: LoginThrottle;
  identifyDownloader: DownloaderIdentity;
  vehicleAuth: VehicleAuth;
  /** Signs release manifests with the server's release key. */
  signer: ManifestSigner;
  /** Binary deltas between releases, made at upload (absent: none are made). */
  deltas?: DeltaStore;
  latestPerEcu: LatestReleasePerEcu;
  logger: Logger;
  clock: () => number;
}
