import type { Logger } from '../logging/logger.ts';

export interface TlsFiles {
  cert: string;
  key: string;
}

/** Everything `canota server` can be told; `defaultServerConfig` fills in the rest. */
export interface ServerConfig {
  host: string;
  /** 0 picks a free port. */
  port: number;
  dataDir: string;
  /** `sqlite:<path>` or `postgres://…`; defaults to `sqlite:<dataDir>/canota.db`. */
  databaseUrl?: string;
  /** CIDRs allowed to reach any route. */
  allowIps: string[];
  /** CIDRs of reverse proxies whose `X-Forwarded-For` is believed. */
  trustProxies: string[];
  tls?: TlsFiles;
  maxUploadBytes: number;
  nonceTtlSeconds: number;
  /** Nonces one client address may obtain per minute. */
  nonceRateLimit: number;
  /** A vehicle is online when it was in touch (a request or a report) within this many seconds. */
  onlineWindowSeconds: number;
  /** Signs session cookies; generated once and kept in the data dir when not given. */
  sessionSecret?: string;
  sessionIdleSeconds: number;
  loginMaxFailures: number;
  loginLockSeconds: number;
  /** How long a running download may take to finish after SIGTERM before it is cut. */
  shutdownGraceSeconds: number;
  /** The Ed25519 release signing key (PEM); default `<dataDir>/keys/release-signing.pem`, generated on first start. */
  signingKeyFile?: string;
  /** The xdelta3 program that makes deltas between releases at upload; default `xdelta3` on the PATH. */
  xdelta3?: string;
  /** Refuse nonces, downloads and release queries from clients without a valid vehicle token (401). */
  requireVehicleToken: boolean;
  /** Serve `/docs` to every allowed address, not only to logged-in users. */
  publicDocs: boolean;
  /** Serve `/metrics` to every allowed address, not only to admins and the metrics token. */
  publicMetrics: boolean;
  /** A file holding the bearer token that may read `/metrics` (Prometheus), ≥ 32 characters. */
  metricsTokenFile?: string;
  logger?: Logger;
}

export const defaultServerConfig: Omit<ServerConfig, 'dataDir'> = {
  host: '127.0.0.1',
  port: 5000,
  allowIps: ['127.0.0.1/32', '::1/128'],
  trustProxies: [],
  maxUploadBytes: 512 * 1024 * 1024,
  nonceTtlSeconds: 60,
  nonceRateLimit: 120,
  onlineWindowSeconds: 300,
  sessionIdleSeconds: 600,
  loginMaxFailures: 5,
  loginLockSeconds: 900,
  shutdownGraceSeconds: 30,
  requireVehicleToken: false,
  publicDocs: false,
  publicMetrics: false,
};

/** A server setting that cannot work (a size, a network, a secret); thrown before the server starts. */
export class ServerConfigError extends Error {
  override name = 'ServerConfigError';
}

/** Parses `512MiB`, `10M`, `1g`, `4096` into bytes. */
export function parseByteSize(text: string): number {
  const match = /^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)(i?b)?\s*$/i.exec(text);
  if (!match) throw new ServerConfigError(`not a size: "${text}" (try 512MiB, 10M or 4096)`);
  const power = ' kmgt'.indexOf((match[2] || ' ').toLowerCase());
  const bytes = Math.floor(Number(match[1]) * 1024 ** power);
  if (!Number.isSafeInteger(bytes) || bytes <= 0) throw new ServerConfigError(`size out of range: "${text}"`);
  return bytes;
}
