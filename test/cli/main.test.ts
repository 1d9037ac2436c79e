import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runCanota } from '../support/canota-process.ts';

test('canota --help lists the program and exits 0', async () => {
  const { code, stdout } = await runCanota(['--help']);
  assert.equal(code, 0);
  assert.match(stdout, /Usage: canota/);
});

test('an unknown command is a usage error (exit 2)', async () => {
  const { code, stderr } = await runCanota(['no-such-command']);
  assert.equal(code, 2);
  assert.match(stderr, /unknown command/i);
});
