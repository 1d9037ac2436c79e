import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tempDir } from '../support/temp-dir.ts';
import { admin, startTestServer, type TestServer } from '../server/support/server.ts';
import { postgresMissing, startPostgres } from '../server/support/postgres.ts';

const maxFailures = 5;
const burstSize = 40;
const limits = ['--login-max-failures', String(maxFailures), '--login-lock', '600'];

interface Guess { username: string; password: string; localAddress?: string }

/**
 * Every guess gets its own client and CSRF token first; then all are posted at once, spread over the
 * servers in turn, so the password checks of the whole burst overlap.
 */
async function burst(servers: TestServer[], guesses: Guess[]): Promise<number[]> {
  const armed = await Promise.all(guesses.map(async (guess, i) => {
    const client = servers[i % servers.length]!.client(guess.localAddress ? { localAddress: guess.localAddress } : {});
    return { client, guess, token: await client.csrfToken('/login') };
  }));
  const answers = await Promise.all(armed.map(({ client, guess, token }) =>
    client.fetch('/login', { form: { username: guess.username, password: guess.password, csrf_token: token } })));
  return answers.map((a) => a.status);
}

async function loginAudits(servers: TestServer[]): Promise<Array<Record<string, unknown>>> {
  return (await Promise.all(servers.map((s) => s.auditLines()))).flat().filter((a) => a.event === 'login');
}

/** The burst checked at most `maxFailures` passwords, refused the rest as locked, and audited all of it. */
async function assertHeld(servers: TestServer[], statuses: number[], what: string): Promise<void> {
  const checked = statuses.filter((s) => s === 401 || s === 302).length;
  const refused = statuses.filter((s) => s === 429).length;
  assert.equal(checked + refused, statuses.length, `${what}: only 401, 302 and 429 (${statuses.join(' ')})`);
  assert.ok(checked <= maxFailures, `${what}: ${checked} passwords were checked, the limit is ${maxFailures}`);
  const audits = await loginAudits(servers);
  const failed = audits.filter((a) => a.outcome === 'failed');
  const denied = audits.filter((a) => a.outcome === 'denied' && (a.details as { reason?: string }).reason === 'locked out');
  assert.equal(failed.length + audits.filter((a) => a.outcome === 'ok').length, checked, `${what}: every check is audited`);
  assert.equal(denied.length, refused, `${what}: every refusal is audited`);
  assert.ok(failed.some((a) => typeof (a.details as { locked_until?: string }).locked_until === 'string'), `${what}: the lock is audited`);
}

const wrong = (i: number) => `wrong-password-${i}`;

test('a burst of 40 parallel guesses on one username from one address: at most 5 checked, the right password refused', async (t) => {
  const server = await startTestServer(t, { args: limits });
  // The right password comes last: sent after 39 wrong guesses, it is one of the attempts over the limit.
  const guesses: Guess[] = Array.from({ length: burstSize }, (_, i) =>
    ({ username: admin.username, password: i === burstSize - 1 ? admin.password : wrong(i) }));
  const statuses = await burst([server], guesses);
  await assertHeld([server], statuses, 'one address, one username');
  assert.equal(statuses.at(-1), 429, 'the right password inside the burst did not log in');
  assert.equal((await server.client().login(admin.username, admin.password)).status, 429, 'and the lock holds after it');
});

test('the username key holds on its own: 40 guesses from 40 addresses', async (t) => {
  const server = await startTestServer(t, { args: [...limits, '--allow-ip', '127.0.0.0/8'] });
  // The whole 127/8 is loopback: each guess comes from an address of its own, so only the username locks.
  const guesses: Guess[] = Array.from({ length: burstSize }, (_, i) =>
    ({ username: admin.username, password: i === burstSize - 1 ? admin.password : wrong(i), localAddress: `127.0.1.${i + 1}` }));
  const statuses = await burst([server], guesses);
  await assertHeld([server], statuses, 'one username, many addresses');
  assert.equal(statuses.at(-1), 429, 'the right password inside the burst did not log in');
});

test('the address key holds on its own: 40 usernames from one address', async (t) => {
  const server = await startTestServer(t, { args: limits });
  const guesses: Guess[] = Array.from({ length: burstSize }, (_, i) => ({ username: `user-${i}`, password: wrong(i) }));
  const statuses = await burst([server], guesses);
  await assertHeld([server], statuses, 'one address, many usernames');
});

test('the same burst against two servers sharing one PostgreSQL database', { skip: postgresMissing }, async (t) => {
  const postgres = await startPostgres(t);
  const databaseUrl = await postgres.createDatabase();
  const dataDir = await tempDir(t, 'canota-race-pg-');
  const first = await startTestServer(t, { dataDir, databaseUrl, args: limits });
  const second = await startTestServer(t, { dataDir, databaseUrl, users: [], args: limits });
  try {
    const guesses: Guess[] = Array.from({ length: burstSize }, (_, i) =>
      ({ username: admin.username, password: i === burstSize - 1 ? admin.password : wrong(i) }));
    const statuses = await burst([first, second], guesses);
    await assertHeld([first, second], statuses, 'two servers, one database');
    assert.equal(statuses.at(-1), 429, 'the right password inside the burst did not log in');
  } finally {
    await Promise.all([first.process.stop(), second.process.stop()]);
  }
});
