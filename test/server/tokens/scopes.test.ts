import { test } from 'node:test';
import assert from 'node:assert/strict';
import { allows, apiScopes, parseScopes, ScopeError } from '../../../src/server/tokens/scopes.ts';
import { ApiTokenInputError, apiTokens, defaultExpiryDays, parseExpiry } from '../../../src/server/tokens/api-tokens.ts';

test('scopes: commas or spaces, each once, in the canonical order; unknown or none refused by name', () => {
  assert.deepEqual(parseScopes('vehicles:read, releases:write releases:write'), ['releases:write', 'vehicles:read']);
  assert.deepEqual(parseScopes(['audit:read', 'releases:read']), ['releases:read', 'audit:read']);
  assert.throws(() => parseScopes(' , '), (error: unknown) => error instanceof ScopeError && /at least one scope/.test(error.message));
  assert.throws(() => parseScopes('releases:write,admin'), /unknown scope "admin" \(known: releases:read, releases:write/);
  assert.throws(() => parseScopes('Releases:Write'), /unknown scope/);
});

test('scopes: :write includes :read of the same resource, nothing else', () => {
  assert.ok(allows(['releases:write'], 'releases:read'));
  assert.ok(allows(['releases:write'], 'releases:write'));
  assert.ok(!allows(['releases:read'], 'releases:write'));
  assert.ok(!allows(['vehicles:write'], 'releases:read'));
  assert.ok(!allows(['releases:write'], 'audit:read'));
  assert.ok(!allows([], 'vehicles:read'));
  for (const scope of apiScopes) assert.ok(allows([scope], scope));
});

test('expiry: days (with or without d), "never" only when asked, bounded', () => {
  assert.equal(parseExpiry(undefined), defaultExpiryDays);
  assert.equal(parseExpiry(''), defaultExpiryDays);
  assert.equal(parseExpiry('30d'), 30);
  assert.equal(parseExpiry(7), 7);
  assert.equal(parseExpiry('never'), null);
  for (const bad of ['0', '0d', '-1', '3651', '1.5', '1w', 'forever']) {
    assert.throws(() => parseExpiry(bad), (error: unknown) => error instanceof ApiTokenInputError, bad);
  }
});

test('API tokens look like nothing else the server issues: cat_ + 256 random bits; a vehicle token does not hash as one', () => {
  const token = apiTokens.newToken();
  assert.match(token, /^cat_[A-Za-z0-9_-]{43}$/);
  assert.notEqual(apiTokens.newToken(), token);
  assert.match(apiTokens.hash(token)!, /^[0-9a-f]{64}$/);
  assert.equal(apiTokens.hash(`cvt_${token.slice(4)}`), undefined);
  assert.equal(apiTokens.hash(`${token}x`), undefined);
});
