import assert from 'node:assert/strict';
import { test } from 'node:test';
import { errorCode, errorMessage } from '../../src/errors/error-message.ts';

test('errorMessage: an Error, a string, a message-bearing object, anything else', () => {
  assert.equal(errorMessage(new TypeError('bad type')), 'bad type');
  assert.equal(errorMessage(new RangeError()), 'RangeError');
  assert.equal(errorMessage('plain text'), 'plain text');
  assert.equal(errorMessage({ message: 'from an object' }), 'from an object');
  assert.equal(errorMessage({ message: 42 }), '[object Object]');
  assert.equal(errorMessage(undefined), 'undefined');
  assert.equal(errorMessage(null), 'null');
  assert.equal(errorMessage(7), '7');
  assert.equal(errorMessage(Object.create(null)), '[object Object]');
});

test('errorCode: system error codes only', () => {
  const enoent = Object.assign(new Error('missing'), { code: 'ENOENT' });
  assert.equal(errorCode(enoent), 'ENOENT');
  assert.equal(errorCode({ code: 'EEXIST' }), 'EEXIST');
  assert.equal(errorCode({ code: 17 }), undefined);
  assert.equal(errorCode(new Error('no code')), undefined);
  assert.equal(errorCode('ENOENT'), undefined);
  assert.equal(errorCode(null), undefined);
});
