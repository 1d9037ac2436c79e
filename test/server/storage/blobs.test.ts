import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readdir, readFile, writeFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { BlobStore } from '../../../src/server/storage/blobs.ts';
import { InvalidBlobHashError } from '../../../src/server/storage/errors.ts';
import { tempDir } from '../../support/temp-dir.ts';

const sha = (text: string) => createHash('sha256').update(text).digest('hex');

test('blobs are stored under their SHA-256, visible only after commit', async (t) => {
  const store = new BlobStore(join(await tempDir(t), 'blobs'));
  await store.open();
  const pending = await store.write(Readable.from([Buffer.from('hello '), Buffer.from('world')]));
  assert.equal(pending.sha256, sha('hello world'));
  assert.equal(pending.size, 11);
  assert.equal(await store.size(pending.sha256), undefined, 'not visible before commit');
  await pending.commit();
  assert.equal(await store.size(pending.sha256), 11);
  assert.equal(await readFile(store.pathOf(pending.sha256), 'utf8'), 'hello world');
  assert.deepEqual(await readdir(join(store.root, 'incoming')), []);

  const same = await store.write(Readable.from([Buffer.from('hello world')]));
  await same.commit();
  assert.deepEqual(await readdir(join(store.root, pending.sha256.slice(0, 2))), [pending.sha256]);

  const dropped = await store.write(Readable.from([Buffer.from('dropped')]));
  await dropped.discard();
  assert.equal(await store.size(sha('dropped')), undefined);
  assert.deepEqual(await readdir(join(store.root, 'incoming')), []);
});

test('a failing source leaves nothing behind; open() clears leftovers of a crash', async (t) => {
  const store = new BlobStore(join(await tempDir(t), 'blobs'));
  await store.open();
  async function* broken() {
    yield Buffer.from('partial data');
    throw new Error('connection cut');
  }
  await assert.rejects(store.write(Readable.from(broken())), /connection cut/);
  assert.deepEqual(await readdir(join(store.root, 'incoming')), []);

  await mkdir(join(store.root, 'incoming'), { recursive: true });
  await writeFile(join(store.root, 'incoming', 'left-by-a-crash'), 'half');
  await store.open();
  assert.deepEqual(await readdir(join(store.root, 'incoming')), []);
  assert.throws(() => store.pathOf('../../etc/passwd'), /not a SHA-256/);
  assert.throws(() => store.pathOf('../../etc/passwd'), InvalidBlobHashError);
});
