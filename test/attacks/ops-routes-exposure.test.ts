import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { admin, employee, loggedIn, startTestServer } from '../server/support/server.ts';
import { tempDir } from '../support/temp-dir.ts';

/**
 * Attack: anyone inside the allowlist, with no account, reads `/docs` (the whole API, every admin route)
 * and `/metrics` (traffic, logins, failures: a map of what is happening). `/docs` needs a login, `/metrics`
 * an admin session or the `--metrics-token-file` token; `/healthz` stays open for orchestrators.
 */
test('/docs and /metrics are not open to anonymous clients; /healthz is', async (t) => {
  const dir = await tempDir(t, 'canota-metrics-token-');
  const token = 'prometheus-scrape-token-0123456789abcdef';
  const tokenFile = join(dir, 'metrics-token');
  await writeFile(tokenFile, `${token}\n`, { mode: 0o600 });
  const server = await startTestServer(t, { args: ['--metrics-token-file', tokenFile] });
  const stranger = server.client();

  await t.test('anonymous: /metrics and /docs refused (401 JSON, a browser is sent to /login), /healthz open', async () => {
    for (const path of ['/metrics', '/docs', '/docs/', '/docs/json', '/docs/static/index.html']) {
      const api = await stranger.fetch(path);
      assert.equal(api.status, 401, `${path}: ${api.text.slice(0, 200)}`);
      assert.doesNotMatch(api.text, /canota_|openapi|swagger/i, `${path} leaks nothing`);
      const browser = await stranger.fetch(path, { headers: { accept: 'text/html' } });
      assert.equal(browser.status, 302, path);
      assert.equal(browser.headers.location, '/login');
    }
    assert.equal((await stranger.fetch('/healthz')).status, 200);
  });

  await t.test('a wrong metrics token is refused', async () => {
    const response = await stranger.fetch('/metrics', { headers: { authorization: 'Bearer not-the-token' } });
    assert.equal(response.status, 401);
    assert.doesNotMatch(response.text, /canota_/);
  });

  await t.test('the metrics token reads /metrics, not /docs', async () => {
    const scrape = await stranger.fetch('/metrics', { headers: { authorization: `Bearer ${token}` } });
    assert.equal(scrape.status, 200);
    assert.match(scrape.text, /canota_http_requests_total/);
    assert.equal((await stranger.fetch('/docs/json', { headers: { authorization: `Bearer ${token}` } })).status, 401);
  });

  await t.test('an employee reads /docs but not /metrics (403, audited)', async () => {
    const erin = await loggedIn(server, employee);
    assert.equal((await erin.fetch('/docs/json')).status, 200);
    assert.equal((await erin.fetch('/docs/')).status, 200);
    assert.equal((await erin.fetch('/metrics')).status, 403);
    assert.ok((await server.auditLines()).some((a) => a.event === 'access' && a.outcome === 'denied' && a.actor === employee.username));
  });

  await t.test('an admin reads both', async () => {
    const boss = await loggedIn(server, admin);
    assert.equal((await boss.fetch('/metrics')).status, 200);
    assert.match((await boss.fetch('/docs/json')).json<{ openapi: string }>().openapi, /^3\./);
  });
});

test('--public-docs and --public-metrics open them on purpose', async (t) => {
  const server = await startTestServer(t, { args: ['--public-docs', '--public-metrics'] });
  const stranger = server.client();
  assert.equal((await stranger.fetch('/metrics')).status, 200);
  assert.equal((await stranger.fetch('/docs/json')).status, 200);
});
