import { mkdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { createLogger, type Logger } from '../logging/logger.ts';
import { defaultServerConfig, type ServerConfig } from './config.ts';
import type { DownloaderIdentity, ServerContext } from './context.ts';
import { openStorage, defaultDatabaseUrl, type Storage } from './storage/index.ts';
import { BlobStore } from './storage/blobs.ts';
import { readOptional } from '../files/read-optional.ts';
import { AuditLog } from './audit/audit-log.ts';
import { AuditKeyError, auditKeyPath, loadAuditChainKey } from './audit/chain-key.ts';
import { ServerMetrics } from './metrics.ts';
import { NonceService } from './nonces/nonce-service.ts';
import { LatestRelease } from './releases/latest-release.ts';
import { LoginThrottle } from './auth/login-throttle.ts';
import { warmUpPasswordCheck } from './auth/passwords.ts';
import { loadMetricsToken, loadSessionSecret } from './session-secret.ts';
import { loadReleaseSigningKey } from './releases/signing-key.ts';
import { publicKeyToText } from '../crypto/ed25519.ts';
import { ManifestSigner } from './releases/manifest-signer.ts';
import { DeltaStore } from './releases/delta-store.ts';
import { LatestReleasePerEcu } from './releases/latest-per-ecu.ts';
import { VehicleAuth } from './vehicles/vehicle-auth.ts';
import { buildApp } from './app.ts';

export interface RunningServer {
  app: FastifyInstance;
  ctx: ServerContext;
  /** e.g. `http://127.0.0.1:5000` */
  url: string;
  /** Stops accepting connections, lets running downloads finish (up to the grace period), closes storage. */
  close(): Promise<void>;
}

export type ServerOptions = Partial<ServerConfig> & Pick<ServerConfig, 'dataDir'> & {
  identifyDownloader?: DownloaderIdentity;
};

/** Everything the server and the `user`/`audit` commands share: the data dir's database and audit log. */
export async function openServerData(dataDir: string, databaseUrl: string | undefined, logger: Logger,
  options: { createAuditKey: boolean } = { createAuditKey: true }): Promise<{ storage: Storage; audit: AuditLog }> {
  // Owner only: the database holds password hashes and the session secret lives here.
  await mkdir(dataDir, { recursive: true, mode: 0o700 });
  const storage = await openStorage(databaseUrl ?? defaultDatabaseUrl(dataDir));
  try {
    const missingKey = await auditKeyMissing(storage, dataDir);
    if (missingKey === 'nothing to verify' && !options.createAuditKey) {
      // A data dir nothing has written to yet (no key, no entry) has nothing to verify.
      return { storage, audit: new AuditLog(storage.audit, logger.child({ component: 'audit' })) };
    }
    const chainKey = await loadAuditChainKey(dataDir, { create: options.createAuditKey });
    const audit = new AuditLog(storage.audit, logger.child({ component: 'audit' }), { key: chainKey.key });
    // The first keyed entry: it freezes any unkeyed entries before it, and proves the key was in use.
    if (chainKey.created) {
      await audit.record({ event: 'audit.key', outcome: 'ok', actor: 'canota', subject: chainKey.path, details: { key_id: chainKey.keyId, seal: 'HMAC-SHA256' } });
    }
    return { storage, audit };
  } catch (error) {
    await storage.close();
    throw error;
  }
}

/**
 * Why this data dir has no audit key while it should not make one: `nothing to verify` (no key and an
 * empty log), or undefined (the key is there, or it may be made). A log that is already sealed with a key
 * this data dir lacks (another data dir on the same database made it) is refused: a new key would fork the
 * chain into two halves that no single key verifies.
 */
async function auditKeyMissing(storage: Storage, dataDir: string): Promise<'nothing to verify' | undefined> {
  const path = auditKeyPath(dataDir);
  if (await readOptional(path).then((text) => text !== null, () => true)) return undefined;
  const [sealed] = await storage.audit.list({ event: 'audit.key', limit: 1 });
  if (sealed) {
    throw new AuditKeyError(sealed.subject === path
      ? `no audit key at ${path}, though the audit log is sealed with the key made there (entry #${sealed.id}): ` +
        'it was removed or moved; restore it from a backup (a new key cannot vouch for the entries)'
      : `no audit key at ${path}; the audit log is sealed with the key made at ${sealed.subject ?? 'another data dir'} ` +
        `(entry #${sealed.id}): copy that key file here (servers and commands sharing a database share its audit key)`);
  }
  return (await storage.audit.list({ limit: 1 })).length === 0 ? 'nothing to verify' : undefined;
}

/** Opens the data dir and database, builds the app and listens. */
export async function startServer(options: ServerOptions): Promise<RunningServer> {
  const dataDir = resolve(options.dataDir);
  const logger = options.logger ?? createLogger({ name: 'server' });
  const { storage, audit } = await openServerData(dataDir, options.databaseUrl, logger);
  try {
    const config = {
      ...defaultServerConfig,
      ...withoutUndefined(options),
      dataDir,
      databaseUrl: options.databaseUrl ?? defaultDatabaseUrl(dataDir),
      sessionSecret: await loadSessionSecret(dataDir, options.sessionSecret),
      metricsToken: options.metricsTokenFile === undefined ? undefined : await loadMetricsToken(options.metricsTokenFile),
      logger,
    };
    const blobs = new BlobStore(join(dataDir, 'blobs'));
    await blobs.open();
    const signingKey = await loadReleaseSigningKey(dataDir, config.signingKeyFile);
    logger.info({ path: signingKey.path, key_id: signingKey.key.keyId, public_key: publicKeyToText(signingKey.key.publicKey), created: signingKey.created },
      signingKey.created ? 'generated a new release signing key' : 'release signing key loaded');
    if (signingKey.exposed) logger.warn({ path: signingKey.path }, 'the release signing key file is readable by others: chmod 600 it');
    await warmUpPasswordCheck();
    const clock = Date.now;
    const metrics = new ServerMetrics();
    const deltas = await DeltaStore.open(join(dataDir, 'deltas'), { logger, ...(config.xdelta3 ? { xdelta3: config.xdelta3 } : {}) });
    const signer = new ManifestSigner(signingKey.key, deltas);
    const vehicleAuth = new VehicleAuth(storage.vehicles, audit, metrics, { requireToken: config.requireVehicleToken, clock });
    const ctx: ServerContext = {
      config, storage, blobs, audit, logger, clock, metrics, signer, vehicleAuth, deltas,
      nonces: new NonceService(storage.nonces, config.nonceTtlSeconds, clock),
      latest: new LatestRelease(storage.releases),
      latestPerEcu: new LatestReleasePerEcu(storage.releases, signer),
      loginThrottle: new LoginThrottle(storage.loginFailures, { maxFailures: config.loginMaxFailures, lockMs: config.loginLockSeconds * 1000 }, clock),
      identifyDownloader: options.identifyDownloader ?? vehicleAuth.identify,
    };
    const app = await buildApp(ctx);
    await app.listen({ host: config.host, port: config.port });
    const url = listeningUrl(app, Boolean(config.tls));

    const housekeeping = setInterval(() => {
      void Promise.all([ctx.nonces.prune(), storage.sessions.prune(clock())])
        .catch((error: unknown) => logger.warn({ err: error }, 'housekeeping failed'));
    }, 60_000);
    housekeeping.unref();

    let closing: Promise<void> | undefined;
    const close = () => closing ??= (async () => {
      clearInterval(housekeeping);
      const cut = setTimeout(() => {
        logger.warn('shutdown grace period over: cutting the remaining connections');
        app.server.closeAllConnections();
      }, config.shutdownGraceSeconds * 1000);
      try {
        await app.close();
      } finally {
        clearTimeout(cut);
        await storage.close();
      }
    })();
    return { app, ctx, url, close };
  } catch (error) {
    await storage.close();
    throw error;
  }
}

function listeningUrl(app: FastifyInstance, tls: boolean): string {
  const address = app.server.address();
  if (!address || typeof address === 'string') return String(address);
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return `${tls ? 'https' : 'http'}://${host}:${address.port}`;
}

function withoutUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}
