import { test } from 'node:test';
import assert from 'node:assert/strict';
import { admin, loggedIn, startTestServer } from '../server/support/server.ts';
import { image } from '../server/support/images.ts';

/**
 * Attack: an admin's client (or anyone holding a session) sends multipart bodies the parser cannot read: no
 * boundary, a boundary the body never uses, a body cut short before its closing boundary. The server must
 * answer 400 with a message saying what is wrong (JSON for API clients, the error page for browsers), never
 * a 500, and must store nothing.
 */
test('malformed multipart uploads get 400 with a clear message, not 500', async (t) => {
  const server = await startTestServer(t);
  const boss = await loggedIn(server, admin);
  const csrf = await boss.csrfToken('/');
  const boundary = 'canota-attack-boundary';
  const head = `--${boundary}\r\nContent-Disposition: form-data; name="csrf_token"\r\n\r\n${csrf}\r\n` +
    `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="cut.bin"\r\nContent-Type: application/octet-stream\r\n\r\n`;
  const cases: Array<{ name: string; contentType: string; body: string; message: RegExp }> = [
    { name: 'no boundary', contentType: 'multipart/form-data', body: head, message: /multipart.*boundary/i },
    { name: 'cut short (no closing boundary)', contentType: `multipart/form-data; boundary=${boundary}`, body: `${head}half of an imag`, message: /multipart.*(cut short|end)/i },
    { name: 'headers cut short', contentType: `multipart/form-data; boundary=${boundary}`, body: `--${boundary}\r\nContent-Disposition: form-da`, message: /multipart/i },
  ];
  for (const { name, contentType, body, message } of cases) {
    await t.test(`${name}: JSON 400 for an API client`, async () => {
      const response = await boss.fetch('/upload', { method: 'POST', body, headers: { 'content-type': contentType, accept: 'application/json', 'x-csrf-token': csrf } });
      assert.equal(response.status, 400, response.text);
      assert.match(String(response.json().error), message);
    });
    await t.test(`${name}: the error page for a browser`, async () => {
      const response = await boss.fetch('/upload', { method: 'POST', body, headers: { 'content-type': contentType, accept: 'text/html', 'x-csrf-token': csrf } });
      assert.equal(response.status, 400, response.text);
      assert.match(String(response.headers['content-type']), /text\/html/);
      assert.match(response.text, message);
    });
  }

  await t.test('nothing was stored and the server still works', async () => {
    const releases = (await boss.fetch('/api/v1/releases')).json<{ releases: unknown[] }>().releases;
    assert.deepEqual(releases, []);
    assert.equal((await boss.upload('fine.bin', image('ok'))).status, 200);
    assert.ok(!server.process.output.some((line) => /"statusCode":500|request failed/.test(line)), 'no 500 was logged');
  });
});
