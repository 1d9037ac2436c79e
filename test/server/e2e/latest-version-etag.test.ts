import { test } from 'node:test';
import assert from 'node:assert/strict';
import { admin, loggedIn, startTestServer } from '../support/server.ts';
import { image } from '../support/images.ts';

test('/latest_version: an ETag naming the newest release; If-None-Match answers 304 without a body', async (t) => {
  const server = await startTestServer(t);
  const poller = server.client();
  const poll = (ifNoneMatch?: string) => poller.fetch('/latest_version', ifNoneMatch === undefined ? {} : { headers: { 'if-none-match': ifNoneMatch } });

  const empty = await poll();
  assert.equal(empty.status, 200);
  assert.equal(empty.headers.etag, 'W/"none"');
  assert.equal(empty.headers['cache-control'], 'no-cache');
  const unchanged = await poll('W/"none"');
  assert.equal(unchanged.status, 304);
  assert.equal(unchanged.body.length, 0);
  assert.equal(unchanged.headers.etag, 'W/"none"');
  assert.equal(unchanged.headers['content-length'], undefined);

  const uploader = await loggedIn(server, admin);
  const release = (await uploader.upload('a.bin', image('first'), { ecu: 'EDT', firmware_version: '1.0.0' })).json<{ release: { id: number; sha256: string } }>().release;
  const changed = await poll('W/"none"');
  assert.equal(changed.status, 200, 'an upload changes the answer at once');
  const etag = `W/"${release.id}-${release.sha256}"`;
  assert.equal(changed.headers.etag, etag);
  assert.equal(changed.json().version, 'a.bin');

  assert.equal((await poll(etag)).status, 304);
  assert.equal((await poll(`"${release.id}-${release.sha256}"`)).status, 304, 'weak comparison: a strong form of the tag matches too');
  assert.equal((await poll(`"other", ${etag}`)).status, 304, 'any tag of a list');
  assert.equal((await poll('*')).status, 304);
  assert.equal((await poll('"other"')).status, 200);

  // The same bytes uploaded again (as a seed-style file: one ECU version is released once) are a new
  // release: a new tag, so pollers do look.
  const again = (await uploader.upload('a.bin', image('first'))).json<{ release: { id: number } }>().release;
  const reuploaded = await poll(etag);
  assert.equal(reuploaded.status, 200);
  assert.equal(reuploaded.json().release_id, again.id);
});
