import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { createLogger } from '../../../src/logging/logger.ts';
import { openServerData } from '../../../src/server/start.ts';
import { addUser } from '../../../src/server/users.ts';
import type { Role } from '../../../src/server/storage/index.ts';
import { startCanota, listeningPattern, type CanotaProcess } from '../../support/canota-process.ts';
import { tempDir } from '../../support/temp-dir.ts';
import { WebClient } from './web-client.ts';

export interface TestUser {
  username: string;
  role: Role;
  password: string;
}

export const admin: TestUser = { username: 'alice', role: 'admin', password: 'alice-password-123' };
export const employee: TestUser = { username: 'erin', role: 'employee', password: 'erin-password-1234' };

export interface TestServer {
  url: string;
  dataDir: string;
  databaseFile: string;
  process: CanotaProcess;
  /** A fresh client (own cookies); closed when the test ends. */
  client(options?: { localAddress?: string }): WebClient;
  /**
   * Parsed `audit` JSON log lines the server printed, once its output has been quiet for a moment: the
   * server writes a line before it answers, but this process may read the answer before the line.
   */
  auditLines(): Promise<Array<Record<string, unknown>>>;
}

/** Adds users straight into a data dir's database, as `canota user add` would. */
export async function seedUsers(dataDir: string, users: TestUser[], databaseUrl?: string): Promise<void> {
  const { storage, audit } = await openServerData(dataDir, databaseUrl, createLogger({ name: 'test', level: 'silent' }));
  try {
    for (const user of users) await addUser(storage, audit, { ...user, by: 'test' });
  } finally {
    await storage.close();
  }
}

/** Starts the real `bin/canota server` on a free loopback port with a temp data dir. */
export async function startTestServer(t: TestContext, options: { args?: string[]; users?: TestUser[]; dataDir?: string; databaseUrl?: string } = {}): Promise<TestServer> {
  const dataDir = options.dataDir ?? await tempDir(t, 'canota-server-');
  const users = options.users ?? [admin, employee];
  if (users.length > 0) await seedUsers(dataDir, users, options.databaseUrl);
  const database = options.databaseUrl ? ['--database-url', options.databaseUrl] : [];
  const process = await startCanota(['server', '--port', '0', '--data-dir', dataDir, ...database, ...(options.args ?? [])], { ready: listeningPattern });
  t.after(() => process.stop());
  const clients: WebClient[] = [];
  t.after(() => Promise.all(clients.map((c) => c.close())));
  return {
    url: process.url!,
    dataDir,
    databaseFile: join(dataDir, 'canota.db'),
    process,
    client: (clientOptions) => {
      const client = new WebClient(process.url!, clientOptions);
      clients.push(client);
      return client;
    },
    auditLines: async () => {
      await outputSettled(process);
      return process.output.filter((line) => line.includes('"audit"')).map((line) => (JSON.parse(line) as { audit: Record<string, unknown> }).audit);
    },
  };
}

/** Waits until no new output line has arrived for 100 ms (at most 3 s). */
async function outputSettled(process: CanotaProcess): Promise<void> {
  const deadline = Date.now() + 3000;
  let seen = -1;
  while (seen !== process.output.length && Date.now() < deadline) {
    seen = process.output.length;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** A client already logged in as `user`. */
export async function loggedIn(server: TestServer, user: TestUser): Promise<WebClient> {
  const client = server.client();
  const response = await client.login(user.username, user.password);
  if (response.status !== 302) throw new Error(`login as ${user.username} failed: ${response.status} ${response.text.slice(0, 300)}`);
  return client;
}
