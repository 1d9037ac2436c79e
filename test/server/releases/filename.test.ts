import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { checkFilename, checkLabel, filenameProblem } from '../../../src/server/releases/filename.ts';

test('plain names pass, anything path-like, look-alike or with control characters does not', () => {
  for (const good of ['edt-2.0.0.bin', 'EDT_firmware_final.bin', 'a', 'v1.2.3-rc.1+build.5.hex']) {
    assert.equal(filenameProblem(good), undefined, good);
  }
  for (const bad of ['../x', 'a/b', 'a\\b', '..', 'x..y', '.env', 'tab\t', 'line\nbreak', 'bell\u0007', 'del\u007f', 'rtl\u202eexe.bin', ' x', 'x ', 'é'.repeat(128),
    // Since look-alike names are refused (test/attacks/lookalike-filenames.test.ts): spaces and non-ASCII too.
    'EDT firmware (final).bin', 'ファームウェア.bin', 'edt\u22152.bin', 'ed\u200bt.bin', '\u0435dt.bin', 'edt\uff0ebin', '-x.bin', '+x']) {
    assert.ok(filenameProblem(bad), JSON.stringify(bad));
  }
  assert.throws(() => checkFilename(undefined), /needs a name/);
  assert.throws(() => checkFilename('../x'), (e: Error & { statusCode?: number }) => e.statusCode === 400);
});

test('no accepted name can step out of a directory or carry a control character', () => {
  fc.assert(fc.property(fc.string({ unit: 'binary', maxLength: 40 }), (name) => {
    if (filenameProblem(name)) return;
    assert.ok(!name.includes('/') && !name.includes('\\') && !name.includes('..'));
    // eslint-disable-next-line no-control-regex -- the property under test
    assert.doesNotMatch(name, /[\u0000-\u001f\u007f]/);
    assert.ok(Buffer.byteLength(name) <= 255);
    assert.match(name, /^[A-Za-z0-9._+-]+$/, 'plain ASCII only');
    assert.equal(name.normalize('NFKC'), name);
  }));
});

test('release labels are trimmed, bounded and printable', () => {
  assert.equal(checkLabel('ecu', undefined, 64), null);
  assert.equal(checkLabel('ecu', '  ', 64), null);
  assert.equal(checkLabel('ecu', ' EDT ', 64), 'EDT');
  assert.throws(() => checkLabel('ecu', 'x'.repeat(65), 64), /longer than 64/);
  assert.throws(() => checkLabel('notes', 'a\u0000b', 1000), /control characters/);
});
