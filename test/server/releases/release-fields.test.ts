import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { ecuConfigSchema } from '../../../src/vehicle/config.ts';
import { checkEcu, checkPlainText, checkReleaseFields, checkVersion, ecuNamePattern } from '../../../src/server/releases/release-fields.ts';
import { firmwareImageProblem, looksLikeText, sniffBytes } from '../../../src/server/releases/firmware-image.ts';
import { BadRequestError } from '../../../src/server/errors.ts';

test('an ECU name passes the server exactly when the vehicle config accepts it', () => {
  for (const name of ['EDT', 'CGW', 'TMU', 'E2', 'BMS_2', 'A'.repeat(16), 'A'.repeat(17), 'E', '2EDT', '_EDT', 'E D T', 'EDT-1', 'ÉDT', '']) {
    const vehicle = ecuConfigSchema.shape.name.safeParse(name).success;
    assert.equal(ecuNamePattern.test(name), vehicle, name);
  }
  assert.equal(checkEcu(' edt '), 'EDT', 'trimmed, upper-cased');
  assert.equal(checkEcu(''), null);
  assert.throws(() => checkEcu('E D T'), BadRequestError);
});

test('versions: SemVer 2.0.0 exactly as written, nothing cleaned up', () => {
  for (const version of ['0.0.0', '2.0.0', '10.20.30', '1.0.0-alpha', '1.0.0-alpha.1', '1.0.0-0.3.7', '1.0.0-x.7.z.92', '1.0.0+20130313144700', '1.0.0-beta+exp.sha.5114f85', '1.0.0+21AF26D3----117B344092BD']) {
    assert.equal(checkVersion(version), version, version);
  }
  for (const version of ['banana', '1', '1.2', '1.2.3.4', 'v1.2.3', 'V1.2.3', '=1.2.3', '01.2.3', '1.02.3', '1.2.3-01', '1.2.3-', '1.2.3+', '1.2.3 beta', '1.2.3-α', `1.2.${'9'.repeat(20)}`]) {
    assert.throws(() => checkVersion(version), /is not a SemVer 2\.0\.0 version/, version);
  }
  assert.throws(() => checkVersion(`1.0.0-${'a'.repeat(60)}`), /firmware_version is longer than 64 characters/);
});

test('fields: both or neither of ecu and firmware_version; before the file, each field alone', () => {
  assert.deepEqual(checkReleaseFields({}), { ecu: null, firmware_version: null, hardware_id: null, notes: null });
  assert.deepEqual(checkReleaseFields({ ecu: 'cgw', firmware_version: '1.1.0', hardware_id: 'CGW-HW-1', notes: ' n ' }),
    { ecu: 'CGW', firmware_version: '1.1.0', hardware_id: 'CGW-HW-1', notes: 'n' });
  assert.throws(() => checkReleaseFields({ ecu: 'EDT' }), /needs a firmware_version/);
  assert.throws(() => checkReleaseFields({ firmware_version: '1.0.0' }), /needs an ecu/);
  assert.throws(() => checkReleaseFields({ hardware_id: 'X' }), /hardware_id needs an ecu/);
  assert.equal(checkReleaseFields({ ecu: 'EDT' }, { complete: false }).ecu, 'EDT', 'the version may still come');
  assert.throws(() => checkReleaseFields({ ecu: 'E D T' }, { complete: false }), /is not an ECU name/);
});

test('plain text: tabs and line breaks, no controls, no bidi; length in characters', () => {
  assert.equal(checkPlainText('notes', 'a\r\nb\rc\td', 10), 'a\nb\nc\td');
  assert.equal(checkPlainText('notes', '   ', 10), null);
  assert.equal(checkPlainText('notes', '😀'.repeat(10), 10), '😀'.repeat(10), 'characters, not UTF-16 units');
  assert.throws(() => checkPlainText('notes', '😀'.repeat(11), 10), /^BadRequestError: notes is 11 characters long, at most 10 are allowed$/);
  for (const [text, code] of [['a\u0000', 'U+0000'], ['\u0007', 'U+0007'], ['x\u007f', 'U+007F'], ['x\u0085', 'U+0085'], ['x\u000bx', 'U+000B']] as const) {
    assert.throws(() => checkPlainText('reason', text, 100), new RegExp(`reason must be plain text: ${code.replace('+', '\\+')} is a control character$`));
  }
  for (const bidi of ['\u202e', '\u2066', '\u200f', '\u061c']) assert.throws(() => checkPlainText('notes', `x${bidi}y`, 100), /is a bidi control/);
});

test('firmware images: empty and text files are refused, binary never', () => {
  assert.match(firmwareImageProblem(Buffer.alloc(0), 0)!, /the file is empty/);
  assert.match(firmwareImageProblem(Buffer.from('hello\n'), 6)!, /this looks like a text file/);
  assert.equal(firmwareImageProblem(Buffer.from([0x00]), 1), undefined, 'one NUL byte is no text');
  // Random data: no run of it is text (1000 tries of 64 bytes, the size of a tiny image).
  for (let i = 0; i < 1000; i++) {
    const bytes = randomBytes(64);
    assert.equal(looksLikeText(bytes, false), false, bytes.toString('hex'));
  }
  // An ARM Cortex-M vector table: initial stack pointer, then the reset handler (Thumb: odd).
  assert.equal(looksLikeText(Buffer.from('00800020c1000008c3000008', 'hex'), false), false);

  // Text, in every form the check knows.
  const utf8 = Buffer.from('Grüße ✓ – notes\r\n\ttabbed\f');
  assert.equal(looksLikeText(utf8, false), true);
  assert.equal(looksLikeText(Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), utf8]), false), true, 'UTF-8 with a BOM');
  assert.equal(looksLikeText(Buffer.from('\ufeffnotes\r\n', 'utf16le'), false), true, 'UTF-16LE');
  assert.equal(looksLikeText(Buffer.from([0xfe, 0xff, 0x00, 0x41, 0x00, 0x0a]), false), true, 'UTF-16BE');
  assert.equal(looksLikeText(Buffer.from('text\u001b[0m'), false), false, 'an escape sequence: a control character');
  assert.equal(looksLikeText(Buffer.from([0x41, 0xc3]), false), false, 'a cut character at the end of the whole file: not UTF-8');
  assert.equal(looksLikeText(Buffer.from([0x41, 0xc3]), true), true, 'at the end of the sample it may go on');
  assert.equal(looksLikeText(Buffer.from([0x41, 0xc3, 0x28]), true), false, 'invalid UTF-8 inside the sample');

  // A long text: only the start is read, and a multi-byte character cut by the sample's end is no error.
  const long = Buffer.from(`a${'ö'.repeat(sniffBytes)}`);
  const head = long.subarray(0, sniffBytes);
  assert.equal(head.at(-1), 0xc3, 'the sample ends inside an ö');
  assert.match(firmwareImageProblem(head, long.length)!, /looks like a text file/);
  assert.equal(firmwareImageProblem(head.subarray(0, 100), long.length - 5), firmwareImageProblem(head, long.length));
});
