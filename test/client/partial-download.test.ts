import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import fc from 'fast-check';
import { PartialDownload } from '../../src/client/partial-download.ts';
import type { Release } from '../../src/ota-http/release.ts';
import { tempDir } from '../support/temp-dir.ts';

function releaseOf(bytes: Uint8Array, overrides: Partial<Release> = {}): Release {
  return {
    filename: 'fw.bin', mtime: 0, sha256: createHash('sha256').update(bytes).digest('hex'), size: bytes.length,
    ecu: undefined, firmwareVersion: undefined, releaseId: undefined, uploadedAt: undefined, ...overrides,
  };
}

test('rehash: the hash of the bytes on disk, continued with the rest, is the file\'s SHA-256', async (t) => {
  const dir = await tempDir(t);
  await fc.assert(fc.asyncProperty(fc.uint8Array({ minLength: 0, maxLength: 300_000 }), fc.nat(), async (file, n) => {
    const cut = n % (file.length + 1);
    const partial = new PartialDownload(dir);
    const release = releaseOf(file);
    await partial.discard();
    assert.equal((await partial.open(release)).offset, 0);
    await writeFile(partial.partPath, file.subarray(0, cut));
    // A restart finds the bytes and resumes after them.
    const resume = await new PartialDownload(dir).open(release);
    assert.equal(resume.offset, cut);
    const hash = await partial.rehash(resume.offset);
    hash.update(file.subarray(cut));
    assert.equal(hash.digest('hex'), release.sha256);
  }), { numRuns: 30 });
});

test('open: a partial file of another release, or longer than announced, or without its record, is thrown away', async (t) => {
  const dir = await tempDir(t);
  const partial = new PartialDownload(dir);
  const one = releaseOf(Buffer.from('one'));
  await partial.open(one);
  await writeFile(partial.partPath, 'on');
  assert.equal((await partial.open(one)).offset, 2);

  const other = releaseOf(Buffer.from('other'));
  assert.equal((await partial.open(other)).offset, 0, 'another SHA-256: start over');
  assert.equal((await readFile(partial.partPath)).length, 0);

  await writeFile(partial.partPath, 'too long for it');
  assert.equal((await partial.open(other)).offset, 0, 'longer than the announced size: start over');

  await writeFile(partial.partPath, 'oth');
  assert.equal((await partial.open(releaseOf(Buffer.from('other'), { filename: 'renamed.bin' }))).offset, 0,
    'same bytes under another name: start over (the record says which file it is)');

  await writeFile(partial.partPath, 'ot');
  await writeFile(partial.recordPath, '{"sha256": ');
  assert.equal((await partial.open(other)).offset, 0, 'a damaged record: start over');

  await partial.rememberEntityTag('"tag"');
  await writeFile(partial.partPath, 'oth');
  assert.deepEqual(await new PartialDownload(dir).open(other), { offset: 3, entityTag: '"tag"' });

  await partial.discard();
  assert.deepEqual(await readdir(dir), []);
});

test('finish keeps nothing behind once the part was moved away', async (t) => {
  const dir = await tempDir(t);
  const partial = new PartialDownload(dir);
  await partial.open(releaseOf(Buffer.from('x')));
  await writeFile(join(dir, 'elsewhere'), '');
  await partial.finish();
  assert.deepEqual((await readdir(dir)).sort(), ['download.part', 'elsewhere']);
});
