import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { UnexpectedAnswerError } from '../../src/ota-http/errors.ts';
import { parseLatestVersion, safeFilename } from '../../src/ota-http/release.ts';

const sha = 'AB'.repeat(32);

test('the seed\'s answer: version (the file name), mtime, sha256', () => {
  assert.deepEqual(parseLatestVersion({ version: 'ota.bin', mtime: 1700000000.5, sha256: sha }), {
    filename: 'ota.bin', mtime: 1700000000.5, sha256: sha.toLowerCase(), size: undefined, ecu: undefined,
    firmwareVersion: undefined, releaseId: undefined, uploadedAt: undefined,
  });
  assert.equal(parseLatestVersion({ version: null, mtime: null, sha256: null }), null);
});

test('canota\'s extras are read, null extras are absent', () => {
  assert.deepEqual(parseLatestVersion({
    version: 'edt.bin', mtime: 1, sha256: sha, size: 42, ecu: 'EDT', firmware_version: '2.1.0', release_id: 7,
    uploaded_at: '2026-01-01T00:00:00Z', notes: 'ignored',
  }), {
    filename: 'edt.bin', mtime: 1, sha256: sha.toLowerCase(), size: 42, ecu: 'EDT', firmwareVersion: '2.1.0', releaseId: '7',
    uploadedAt: '2026-01-01T00:00:00Z',
  });
  assert.equal(parseLatestVersion({ version: 'a.bin', mtime: 1, sha256: sha, size: null, ecu: null })!.size, undefined);
});

test('broken answers are bad responses', () => {
  const bad = [
    null, [], 'x', { version: 'a.bin', mtime: 1 }, { version: 'a.bin', mtime: 1, sha256: 'abc' },
    { version: 'a.bin', mtime: 1, sha256: null }, { version: null, mtime: null, sha256: sha },
    { version: 'a.bin', mtime: 1, sha256: sha, size: -1 }, { version: 'a.bin', mtime: 1, sha256: sha, size: 1.5 },
    { version: 5, mtime: 1, sha256: sha },
  ];
  for (const body of bad) {
    assert.throws(() => parseLatestVersion(body), (error) => error instanceof UnexpectedAnswerError && error.code === 'OTA_HTTP_UNEXPECTED_ANSWER',
      JSON.stringify(body));
  }
});

test('a file name that could leave the download dir is refused', () => {
  for (const name of ['../etc/passwd', 'a/b.bin', 'a\\b.bin', '..', '.', '.hidden.bin', '', 'a\u0000b', 'line\nbreak', 'x'.repeat(256)]) {
    assert.throws(() => safeFilename(name), UnexpectedAnswerError, JSON.stringify(name));
  }
  fc.assert(fc.property(fc.string(), fc.string(), (a, b) => {
    assert.throws(() => safeFilename(`${a}/${b}`), UnexpectedAnswerError);
  }));
  fc.assert(fc.property(fc.stringMatching(/^[A-Za-z0-9_][A-Za-z0-9_.-]{0,40}$/), (name) => {
    assert.equal(safeFilename(name), name);
  }));
});

test('the SHA-256 must be exactly 64 hex digits; the refusals say what was wrong', () => {
  const refusal = (body: unknown) => {
    try {
      parseLatestVersion(body);
    } catch (error) {
      assert.ok(error instanceof UnexpectedAnswerError);
      return error.message;
    }
    return assert.fail(`accepted ${JSON.stringify(body)}`);
  };
  for (const digest of [`${'ab'.repeat(32)}0`, `0${'ab'.repeat(32)}`, `${'ab'.repeat(31)}a`, `${'ab'.repeat(31)}ag`]) {
    assert.equal(refusal({ version: 'a.bin', mtime: 1, sha256: digest }), `/latest_version sha256 is not 64 hex digits: ${JSON.stringify(digest)}`);
  }
  assert.equal(refusal({ version: 'a.bin', mtime: 1, sha256: null }), '/latest_version names a version without a sha256 (or the reverse)');
  assert.match(refusal({ version: 'a.bin', mtime: 1 }), /^unexpected \/latest_version answer: .*sha256/s);
  assert.throws(() => safeFilename('../x'), { message: 'refusing unsafe file name from the server: "../x"' });
});

test('file names up to 255 characters are fine (the usual file system limit)', () => {
  assert.equal(safeFilename('x'.repeat(255)), 'x'.repeat(255));
});
