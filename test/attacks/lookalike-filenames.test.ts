import { test } from 'node:test';
import assert from 'node:assert/strict';
import { admin, loggedIn, startTestServer } from '../server/support/server.ts';
import { image } from '../server/support/images.ts';

/**
 * Attack: an uploader stores a release whose name looks like another's (`edt-2.0.0.bin`) but is not:
 * a Cyrillic letter, a fullwidth dot, a division slash, a zero-width space, a bidi override. A vehicle or an
 * admin reading the list would take it for the real one. Only plain ASCII names pass; the refusal names the
 * character, its position and why.
 */
test('filenames that only look like plain names are refused, saying which character and why', async (t) => {
  const server = await startTestServer(t);
  const boss = await loggedIn(server, admin);
  const cases: Array<[string, string, RegExp]> = [
    ['Cyrillic a (homoglyph)', 'edt-2.0.0.bin'.replace('d', 'd').replace('e', '\u0435'), /character 1 .*U\+0435.*not an ASCII letter/i],
    ['fullwidth dot', 'edt-2\uff0e0.0.bin', /character 6 .*U\+FF0E.*looks like "\."/i],
    ['division slash', 'edt\u22152.0.0.bin', /character 4 .*U\+2215/i],
    ['zero-width space', 'edt-2.0.0\u200b.bin', /character 10 .*U\+200B.*invisible/i],
    ['zero-width joiner', 'e\u200ddt-2.0.0.bin', /character 2 .*U\+200D.*invisible/i],
    ['bidi override', 'edt-\u202e2.0.0.bin', /character 5 .*U\+202E.*(bidi|direction)/i],
    ['right-to-left mark', 'edt-2.0.0.bin\u200f', /character 14 .*U\+200F/i],
    ['non-breaking space', 'edt\u00a02.0.0.bin', /character 4 .*U\+00A0/i],
    ['fullwidth letters', '\uff45dt-2.0.0.bin', /character 1 .*U\+FF45.*looks like "e"/i],
  ];
  for (const [what, name, message] of cases) {
    await t.test(what, async () => {
      const response = await boss.upload(name, 'look-alike');
      assert.equal(response.status, 400, `${what}: ${response.text}`);
      assert.match(String(response.json().error), message);
    });
  }

  await t.test('the browser gets the same reason on the error page', async () => {
    const response = await boss.upload('edt\u22152.bin', 'x', {}, { accept: 'text/html' });
    assert.equal(response.status, 400);
    assert.match(response.text, /U\+2215/);
  });

  await t.test('no look-alike was stored; the plain name still works', async () => {
    assert.equal((await boss.upload('edt-2.0.0.bin', image('real'))).status, 200);
    const releases = (await boss.fetch('/api/v1/releases')).json<{ releases: Array<{ filename: string }> }>().releases;
    assert.deepEqual(releases.map((r) => r.filename), ['edt-2.0.0.bin']);
    const audit = await server.auditLines();
    assert.ok(audit.some((a) => a.event === 'upload' && a.outcome === 'failed' && /U\+0435/.test(String((a.details as { reason?: string }).reason))),
      'the refusal is audited with its reason');
  });
});
