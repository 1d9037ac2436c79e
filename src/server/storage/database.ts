import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { Kysely, Migrator, PostgresDialect, SqliteDialect, sql } from 'kysely';
import BetterSqlite3 from 'better-sqlite3';
import pg from 'pg';
import type { Schema } from './schema.ts';
import type { Dialect } from './migrations/column-types.ts';
import { migrationsFor } from './migrations/index.ts';
import { DatabaseUrlError, StorageError } from './errors.ts';
import { errorMessage } from '../../errors/error-message.ts';

export type { Dialect };

export interface Database {
  db: Kysely<Schema>;
  dialect: Dialect;
  /** Where it lives, with any password removed (for logs). */
  description: string;
  close(): Promise<void>;
}

/** `sqlite:<path>` (relative to the working directory) or `postgres://…` / `postgresql://…`. */
export function defaultDatabaseUrl(dataDir: string): string {
  return `sqlite:${resolve(dataDir, 'canota.db')}`;
}

/** Opens the database named by `url` and brings its schema up to date. */
export async function openDatabase(url: string): Promise<Database> {
  const database = connect(url);
  try {
    await migrate(database);
  } catch (error) {
    await database.close();
    throw error;
  }
  return database;
}

function connect(url: string): Database {
  if (url.startsWith('sqlite:')) return connectSqlite(url.slice('sqlite:'.length).replace(/^\/\/(?=\/)/, ''));
  if (/^postgres(ql)?:\/\//.test(url)) return connectPostgres(url);
  throw new DatabaseUrlError(`unsupported database URL "${redact(url)}": use sqlite:<path> or postgres://…`);
}

function connectSqlite(path: string): Database {
  if (!path) throw new DatabaseUrlError('sqlite: URL without a file path');
  const file = path === ':memory:' ? path : resolve(path);
  if (file !== ':memory:') mkdirSync(dirname(file), { recursive: true });
  const sqlite = new BetterSqlite3(file);
  // WAL: readers never block the writer, and several server processes can share one file safely.
  sqlite.pragma('journal_mode = WAL');
  // NORMAL in WAL mode stays consistent after a crash; only the last commits before a power cut may be lost.
  sqlite.pragma('synchronous = NORMAL');
  sqlite.pragma('busy_timeout = 5000');
  sqlite.pragma('foreign_keys = ON');
  const db = new Kysely<Schema>({ dialect: new SqliteDialect({ database: sqlite }) });
  return { db, dialect: 'sqlite', description: `sqlite:${file}`, close: () => db.destroy() };
}

function connectPostgres(url: string): Database {
  const pool = new pg.Pool({
    connectionString: url,
    max: 10,
    // int8 (our millisecond times and sizes) as JavaScript numbers; they stay far below 2^53.
    types: { getTypeParser: (oid: number, format?: string) => oid === 20 ? Number : pg.types.getTypeParser(oid, format as 'text') },
  });
  const db = new Kysely<Schema>({ dialect: new PostgresDialect({ pool }) });
  return { db, dialect: 'postgres', description: redact(url), close: () => db.destroy() };
}

async function migrate(database: Database): Promise<void> {
  const migrator = new Migrator({
    db: database.db,
    provider: migrationsFor(database.dialect),
    migrationTableName: 'canota_migrations',
    migrationLockTableName: 'canota_migrations_lock',
  });
  const { error, results } = await migrator.migrateToLatest();
  if (error) {
    const failed = results?.find((r) => r.status === 'Error')?.migrationName;
    throw new StorageError(`database migration ${failed ?? ''} failed on ${database.description}: ${errorMessage(error)}`);
  }
}

/** Cheap liveness probe for `/healthz`. */
export async function ping(database: Database): Promise<void> {
  await sql`select 1`.execute(database.db);
}

function redact(url: string): string {
  return url.replace(/\/\/([^:/@]+):[^@]*@/, '//$1:***@');
}
