import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { publicKeyToText, signingKeyFromPem } from '../../../src/crypto/ed25519.ts';
import { runCanota } from '../../support/canota-process.ts';
import { tempDir } from '../../support/temp-dir.ts';

const lastLine = (text: string) => text.trim().split('\n').at(-1)!;

test('canota keys show: the public key of the data dir\'s release signing key, alone on the last line', async (t) => {
  const dataDir = await tempDir(t);
  const first = await runCanota(['keys', 'show', '--data-dir', dataDir]);
  assert.equal(first.code, 0, first.stderr);
  assert.match(first.stderr, /generated a new release signing key at .*keys\/release-signing\.pem/);
  const file = join(dataDir, 'keys', 'release-signing.pem');
  const key = signingKeyFromPem(await readFile(file, 'utf8'));
  assert.equal(lastLine(first.stdout), publicKeyToText(key.publicKey));
  assert.match(first.stdout, new RegExp(`key id ${key.keyId}`));

  const again = await runCanota(['keys', 'show', '--json'], { env: { CANOTA_DATA_DIR: dataDir } });
  assert.equal(again.code, 0, again.stderr);
  assert.equal(again.stderr, '');
  assert.deepEqual(JSON.parse(again.stdout), { path: file, key_id: key.keyId, public_key: publicKeyToText(key.publicKey) });

  const missing = await runCanota(['keys', 'show', '--data-dir', dataDir, '--signing-key', join(dataDir, 'none.pem')]);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /no release signing key at .*none\.pem/);
});

test('canota keys generate --out F: a new 0600 key; an existing file only with --force', async (t) => {
  const out = join(await tempDir(t), 'release.pem');
  const made = await runCanota(['keys', 'generate', '--out', out]);
  assert.equal(made.code, 0, made.stderr);
  assert.equal((await stat(out)).mode & 0o777, 0o600);
  const key = signingKeyFromPem(await readFile(out, 'utf8'));
  assert.equal(lastLine(made.stdout), publicKeyToText(key.publicKey));

  const refused = await runCanota(['keys', 'generate', '--out', out]);
  assert.equal(refused.code, 2);
  assert.match(refused.stderr, /exists already \(use --force to replace it\)/);
  assert.equal(signingKeyFromPem(await readFile(out, 'utf8')).keyId, key.keyId, 'untouched');

  const forced = await runCanota(['keys', 'generate', '--out', out, '--force', '--json']);
  assert.equal(forced.code, 0, forced.stderr);
  const replaced = JSON.parse(forced.stdout) as { path: string; key_id: string; public_key: string };
  assert.equal(replaced.path, out);
  assert.notEqual(replaced.key_id, key.keyId);
  assert.equal(signingKeyFromPem(await readFile(out, 'utf8')).keyId, replaced.key_id);

  const usage = await runCanota(['keys', 'generate']);
  assert.equal(usage.code, 2);
  assert.match(usage.stderr, /required option '--out <file>'/);
});
