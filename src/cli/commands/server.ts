import { resolve } from 'node:path';
import { InvalidArgumentError, type Command } from 'commander';
import { createLogger } from '../../logging/logger.ts';
import { openServerData } from '../../server/start.ts';
import type { Storage } from '../../server/storage/index.ts';
import type { AuditLog } from '../../server/audit/audit-log.ts';
import { readOptionsFromEnvironment } from '../env-options.ts';
import { UsageError } from '../exit-codes.ts';
import { defaultServerConfig, parseByteSize, ServerConfigError } from '../../server/config.ts';
import { parseCidr } from '../../server/auth/ip-allowlist.ts';
import { startServer } from '../../server/start.ts';
import { nextStopSignal, type StopSignal } from '../stop-signal.ts';

interface ServerCommandOptions {
  host: string;
  port: number;
  dataDir: string;
  databaseUrl?: string;
  allowIp?: string[];
  trustProxy?: string[];
  tlsCert?: string;
  tlsKey?: string;
  maxUploadSize: number;
  nonceTtl: number;
  nonceRateLimit: number;
  onlineWindow: number;
  sessionSecret?: string;
  shutdownGrace: number;
  sessionIdle: number;
  loginMaxFailures: number;
  loginLock: number;
  signingKey?: string;
  xdelta3?: string;
  requireVehicleToken?: boolean;
  publicDocs?: boolean;
  publicMetrics?: boolean;
  metricsTokenFile?: string;
}

function cidrList(value: string, previous: string[] | undefined): string[] {
  const list = collect(value, previous);
  for (const cidr of list) {
    try {
      parseCidr(cidr);
    } catch (error) {
      if (!(error instanceof ServerConfigError)) throw error;
      throw new InvalidArgumentError(error.message);
    }
  }
  return list;
}

function byteSize(text: string): number {
  try {
    return parseByteSize(text);
  } catch (error) {
    if (!(error instanceof ServerConfigError)) throw error;
    throw new InvalidArgumentError(error.message);
  }
}

export function registerServerCommand(program: Command): void {
  const command = program.command('server')
    .description('run the OTA server: admin UI, uploads, and the seed-compatible download routes')
    .option('--host <address>', 'address to listen on (0.0.0.0 or :: for all)', defaultServerConfig.host)
    .option('--port <port>', 'TCP port (0 picks a free one)', parseInteger(0, 65535), defaultServerConfig.port);
  addDataOptions(command)
    .option('--allow-ip <cidr>', 'client networks allowed to reach any route; repeatable or comma-separated (default: 127.0.0.1/32 and ::1/128)', cidrList)
    .option('--trust-proxy <cidr>', 'reverse proxies whose X-Forwarded-For is believed; repeatable', cidrList)
    .option('--tls-cert <file>', 'PEM certificate: serve HTTPS (with --tls-key)')
    .option('--tls-key <file>', 'PEM private key for --tls-cert')
    .option('--max-upload-size <size>', 'largest accepted upload, e.g. 512MiB or 2G', byteSize, defaultServerConfig.maxUploadBytes)
    .option('--nonce-ttl <seconds>', 'how long a download nonce stays valid', parseInteger(1, 86_400), defaultServerConfig.nonceTtlSeconds)
    .option('--nonce-rate-limit <count>', 'nonces one client address may get per minute', parseInteger(1, 1_000_000), defaultServerConfig.nonceRateLimit)
    .option('--online-window <seconds>', 'a vehicle counts as online when it was in touch within this long (requests, reports)', parseInteger(60, 86_400), defaultServerConfig.onlineWindowSeconds)
    .option('--session-secret <secret>', 'key for session cookies, >= 32 characters (default: generated once into the data dir)')
    .option('--session-idle <seconds>', 'a login session ends after this long without a request', parseInteger(1, 86_400), defaultServerConfig.sessionIdleSeconds)
    .option('--login-max-failures <count>', 'failed logins (per address and per username) before a lockout', parseInteger(1, 1000), defaultServerConfig.loginMaxFailures)
    .option('--login-lock <seconds>', 'how long a lockout lasts', parseInteger(1, 86_400), defaultServerConfig.loginLockSeconds)
    .option('--shutdown-grace <seconds>', 'on SIGTERM, how long running downloads may take to finish', parseInteger(0, 3600), defaultServerConfig.shutdownGraceSeconds)
    .option('--signing-key <file>', 'Ed25519 release signing key, PEM (default: <data-dir>/keys/release-signing.pem, generated on first start)')
    .option('--xdelta3 <program>', 'xdelta3 that makes binary deltas between releases at upload (default: xdelta3 on the PATH; missing or failing: releases are offered without deltas)')
    .option('--require-vehicle-token', 'serve nonces, downloads and release queries only to registered vehicles (Authorization: Bearer <token>)')
    .option('--metrics-token-file <file>', 'a file with the bearer token that may read /metrics besides admin sessions (>= 32 characters)')
    .option('--public-metrics', 'serve /metrics to every allowed address without login or token')
    .option('--public-docs', 'serve /docs (Swagger UI, OpenAPI) to every allowed address without login')
    .action(async (options: ServerCommandOptions) => {
      if (Boolean(options.tlsCert) !== Boolean(options.tlsKey)) throw new UsageError('--tls-cert and --tls-key go together');
      // Before the server logs "listening at": whoever reads that may signal at once.
      const signal = nextStopSignal();
      const server = await startServer({
        host: options.host,
        port: options.port,
        dataDir: options.dataDir,
        databaseUrl: options.databaseUrl,
        allowIps: options.allowIp?.length ? options.allowIp : undefined,
        trustProxies: options.trustProxy,
        tls: options.tlsCert && options.tlsKey ? { cert: options.tlsCert, key: options.tlsKey } : undefined,
        maxUploadBytes: options.maxUploadSize,
        nonceTtlSeconds: options.nonceTtl,
        nonceRateLimit: options.nonceRateLimit,
        onlineWindowSeconds: options.onlineWindow,
        sessionSecret: options.sessionSecret,
        shutdownGraceSeconds: options.shutdownGrace,
        sessionIdleSeconds: options.sessionIdle,
        loginMaxFailures: options.loginMaxFailures,
        loginLockSeconds: options.loginLock,
        signingKeyFile: options.signingKey,
        xdelta3: options.xdelta3,
        requireVehicleToken: options.requireVehicleToken,
        publicDocs: options.publicDocs,
        publicMetrics: options.publicMetrics,
        metricsTokenFile: options.metricsTokenFile,
      });
      await closeOnSignal(await signal, server.ctx.logger, server.close);
    });
  readOptionsFromEnvironment(command);
}

/** Shuts down gracefully after the first stop signal; a second signal exits at once. */
async function closeOnSignal(signal: StopSignal, logger: { info(msg: string): void }, close: () => Promise<void>): Promise<void> {
  logger.info(`${signal}: shutting down, letting running downloads finish`);
  process.once('SIGTERM', () => process.exit(1));
  process.once('SIGINT', () => process.exit(1));
  await close();
  logger.info('server stopped');
}

// Shared with the `user` and `audit` commands, which work on the same data dir and database.

/** `--data-dir` and `--database-url`, shared by `server`, `user` and `audit` (they must point at the same data). */
export function addDataOptions(command: Command): Command {
  return command
    .option('--data-dir <dir>', 'data directory (database, blobs, session secret)', './data')
    .option('--database-url <url>', 'sqlite:<path> or postgres://user:pass@host/db (default: sqlite:<data-dir>/canota.db)');
}

export function parseInteger(min: number, max: number) {
  return (text: string): number => {
    const value = Number(text);
    if (!/^\d+$/.test(text.trim()) || value < min || value > max) throw new InvalidArgumentError(`expected an integer from ${min} to ${max}`);
    return value;
  };
}

/** Repeatable list option; a comma-separated value (handy in environment variables) adds several. */
export function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), ...value.split(',').map((v) => v.trim()).filter(Boolean)];
}

/** Opens the server's database for a one-shot command, runs `work`, and always closes it. */
export async function withServerData<T>(
  options: { dataDir: string; databaseUrl?: string },
  work: (data: { storage: Storage; audit: AuditLog }) => Promise<T>,
  open: { createAuditKey: boolean } = { createAuditKey: true },
): Promise<T> {
  // Commands print their results on stdout; log lines (warnings only) go to stderr.
  const logger = createLogger({ name: 'cli', level: 'warn', destination: process.stderr });
  const data = await openServerData(resolve(options.dataDir), options.databaseUrl, logger, open);
  try {
    return await work(data);
  } finally {
    await data.storage.close();
  }
}

/** Reads a password piped to stdin (`--password-stdin`), without its final line break. */
export async function readPasswordFromStdin(): Promise<string> {
  let text = '';
  process.stdin.setEncoding('utf8');
  for await (const chunk of process.stdin) text += chunk as string;
  return text.replace(/\r?\n$/, '');
}
