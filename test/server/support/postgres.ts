import { spawn, execFile } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { chown, mkdtemp, rm } from 'node:fs/promises';
import { once } from 'node:events';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { TestContext } from 'node:test';
import pg from 'pg';
import { freePort } from '../../support/free-port.ts';
import { errorMessage } from '../../../src/errors/error-message.ts';

const run = promisify(execFile);

/** Debian's PostgreSQL binaries (package `postgresql`), newest version first; undefined when absent. */
export function postgresBinDir(): string | undefined {
  const root = '/usr/lib/postgresql';
  if (!existsSync(root)) return undefined;
  const versions = readdirSync(root).filter((v) => /^\d+$/.test(v)).sort((a, b) => Number(b) - Number(a));
  for (const version of versions) {
    const bin = join(root, version, 'bin');
    if (existsSync(join(bin, 'initdb')) && existsSync(join(bin, 'postgres'))) return bin;
  }
  return undefined;
}

/** For `test(name, { skip: postgresMissing }, …)`: a reason to skip, or false. */
export const postgresMissing: string | false = postgresBinDir() === undefined
  ? 'PostgreSQL binaries not found under /usr/lib/postgresql (Debian package postgresql; .ci/run installs it)'
  : false;

export interface TestPostgres {
  /** Creates a new empty database and returns its URL. */
  createDatabase(): Promise<string>;
}

/**
 * A throwaway PostgreSQL cluster in a temp dir on a free loopback port (trust auth), stopped and deleted
 * when the test ends. PostgreSQL refuses to run as root, so as root it runs as Debian's `postgres` user.
 * node:test runs `after` hooks in the order they were added, so this one runs before those of anything
 * created later: close database clients (and stop servers) in the test body, not in later `after` hooks.
 */
export async function startPostgres(t: Pick<TestContext, 'after'>): Promise<TestPostgres> {
  const bin = postgresBinDir();
  if (!bin) throw new Error(String(postgresMissing));
  const dir = await mkdtemp(join(tmpdir(), 'canota-pg-'));
  const asRoot = process.getuid?.() === 0;
  const as = (command: string, args: string[]): [string, string[]] =>
    asRoot ? ['runuser', ['-u', 'postgres', '--', command, ...args]] : [command, args];
  if (asRoot) {
    const [{ stdout: uid }, { stdout: gid }] = await Promise.all([run('id', ['-u', 'postgres']), run('id', ['-g', 'postgres'])]);
    await chown(dir, Number(uid), Number(gid));
  }
  const data = join(dir, 'data');
  await run(...as(join(bin, 'initdb'), ['-D', data, '-U', 'postgres', '--auth=trust', '--no-sync', '-E', 'UTF8', '--locale=C']));
  const port = await freePort();
  const [command, args] = as(join(bin, 'postgres'),
    ['-D', data, '-p', String(port), '-h', '127.0.0.1', '-k', dir, '-c', 'fsync=off', '-c', 'max_connections=200']);
  const server = spawn(command, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = "";
  if (process.env.CANOTA_PG_LOG) server.stderr.pipe(process.stderr);
  server.stderr.setEncoding('utf8').on('data', (chunk: string) => { log += chunk; });
  const exited = once(server, 'exit');
  t.after(async () => {
    if (server.exitCode === null) {
      // SIGTERM: runuser passes it on (it ignores SIGINT); the pools are closed by now, so it is quick.
      server.kill('SIGTERM');
      const timer = setTimeout(() => server.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    }
    await rm(dir, { recursive: true, force: true });
  });

  const base = `postgres://postgres@127.0.0.1:${port}`;
  const query = async (sql: string) => {
    const client = new pg.Client({ connectionString: `${base}/postgres` });
    await client.connect();
    try {
      await client.query(sql);
    } finally {
      await client.end();
    }
  };
  for (let attempt = 0; ; attempt++) {
    try {
      await query('select 1');
      break;
    } catch (error) {
      if (attempt > 150 || server.exitCode !== null) throw new Error(`PostgreSQL did not start: ${errorMessage(error)}\n${log}`, { cause: error });
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
  let count = 0;
  return {
    createDatabase: async () => {
      const name = `canota_${count++}`;
      await query(`create database ${name}`);
      return `${base}/${name}`;
    },
  };
}

