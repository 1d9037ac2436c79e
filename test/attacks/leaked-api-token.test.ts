import { test } from 'node:test';
import assert from 'node:assert/strict';
import BetterSqlite3 from 'better-sqlite3';
import { runCanota } from '../support/canota-process.ts';
import { admin, loggedIn, startTestServer } from '../server/support/server.ts';
import { image } from '../server/support/images.ts';

// The attacker holds a narrow API token that leaked (a dashboard's, vehicles:read) and tries to turn it
// into more: publish firmware, mint itself a wider token, register vehicles, read the audit log; then a
// reader of the database tries the stored token hashes as tokens; then the token is revoked.
test('a leaked read-only API token publishes nothing, mints nothing, and dies when revoked; stored hashes are no tokens', async (t) => {
  const server = await startTestServer(t);
  const made = await runCanota(['token', 'create', 'dashboard', '--scope', 'vehicles:read', '--json', '--data-dir', server.dataDir]);
  assert.equal(made.code, 0, made.stderr);
  const leaked = (JSON.parse(made.stdout) as { token: string }).token;
  const attacker = server.client();
  const as = (token: string, extra: Record<string, string> = {}) => ({ authorization: `Bearer ${token}`, ...extra });
  const json = { 'content-type': 'application/json' };

  assert.equal((await attacker.fetch('/api/v1/vehicles', { headers: as(leaked) })).status, 200, 'the token does what it was made for');
  const upload = await attacker.upload('edt-9.9.9.bin', image('hostile'), { ecu: 'EDT', firmware_version: '9.9.9' }, { csrf: null, headers: as(leaked) });
  assert.equal(upload.status, 403);
  const mint = await attacker.fetch('/api/v1/tokens', {
    method: 'POST', headers: as(leaked, json), body: JSON.stringify({ name: 'wider', scopes: 'releases:write', expires_in_days: 'never' }),
  });
  assert.equal(mint.status, 403);
  assert.match(String(mint.json().error), /not with a token/);
  const register = await attacker.fetch('/api/v1/vehicles', { method: 'POST', headers: as(leaked, json), body: JSON.stringify({ vin: 'KMHATTACK00000001' }) });
  assert.equal(register.status, 403);
  assert.equal((await attacker.fetch('/api/v1/audit', { headers: as(leaked) })).status, 403);
  // Nor does a cross-site page riding an admin's cookie get one: the session path still wants its CSRF token.
  const boss = await loggedIn(server, admin);
  const forged = await boss.fetch('/api/v1/tokens', { method: 'POST', headers: json, body: JSON.stringify({ name: 'csrf', scopes: 'releases:write' }) });
  assert.equal(forged.status, 403);

  const database = new BetterSqlite3(server.databaseFile, { readonly: true });
  const rows = database.prepare('select name, token_hash from api_tokens').all() as { name: string; token_hash: string }[];
  const releases = database.prepare('select count(*) as n from releases').get() as { n: number };
  const vehicles = database.prepare('select count(*) as n from vehicles').get() as { n: number };
  database.close();
  assert.deepEqual(rows.map((row) => row.name), ['dashboard'], 'no token was minted');
  assert.equal(releases.n, 0, 'nothing was published');
  assert.equal(vehicles.n, 0, 'no vehicle was registered');
  assert.ok(!rows.some((row) => row.token_hash.includes(leaked.slice(4))), 'the token is not stored as such');
  for (const guess of [rows[0]!.token_hash, `cat_${Buffer.from(rows[0]!.token_hash, 'hex').toString('base64url').slice(0, 43)}`]) {
    assert.equal((await attacker.fetch('/api/v1/vehicles', { headers: as(guess) })).status, 401, 'a stored hash is no token');
  }

  const revoke = await runCanota(['token', 'revoke', 'dashboard', '--data-dir', server.dataDir]);
  assert.equal(revoke.code, 0, revoke.stderr);
  assert.equal((await attacker.fetch('/api/v1/vehicles', { headers: as(leaked) })).status, 401, 'revoked: refused at once');

  const audit = await server.auditLines();
  const denied = audit.filter((a) => a.outcome === 'denied' && a.actor === 'token:dashboard').map((a) => `${a.event}`);
  assert.deepEqual(denied, ['upload', 'vehicle.register', 'access', 'token.auth']);
  assert.equal(audit.filter((a) => a.event === 'token.auth' && (a.details as { reason: string }).reason === 'unknown token').length, 2);
  assert.ok(audit.some((a) => a.event === 'access' && a.outcome === 'denied' && (a.details as { reason: string }).reason === 'tokens are not managed with a token'),
    'the minting attempt is audited');
});
