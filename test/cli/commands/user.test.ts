import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { runCanota } from '../../support/canota-process.ts';
import { tempDir } from '../../support/temp-dir.ts';

test('canota user add|list|passwd|remove', async (t) => {
  const dataDir = await tempDir(t);
  const data = ['--data-dir', dataDir];

  const generated = await runCanota(['user', 'add', 'root-admin', '--role', 'admin', ...data]);
  assert.equal(generated.code, 0, generated.stderr);
  const lines = generated.stdout.trim().split('\n');
  assert.equal(lines[0], 'added admin root-admin');
  assert.match(lines.at(-1)!, /^\S{20}$/, 'a random password, alone on the last line');

  const again = await runCanota(['user', 'add', 'root-admin', '--role', 'admin', '--generate-password', ...data]);
  const second = again.stdout.trim().split('\n').at(-1);
  assert.equal(again.code, 2, 'a duplicate is a usage error');
  assert.match(again.stderr, /already exists/);
  assert.notEqual(second, lines.at(-1));

  const piped = await runCanota(['user', 'add', 'erin', '--role', 'employee', '--password-stdin', '--json', ...data], { stdin: 'a long enough password\n' });
  assert.equal(piped.code, 0, piped.stderr);
  assert.deepEqual(JSON.parse(piped.stdout), { username: 'erin', role: 'employee' }, 'no password echoed when it was given');

  const json = await runCanota(['user', 'add', 'ops', '--role', 'employee', '--json', ...data]);
  const parsed = JSON.parse(json.stdout) as { username: string; role: string; password: string };
  assert.equal(parsed.username, 'ops');
  assert.match(parsed.password, /^\S{20}$/);

  for (const [args, stdin, message] of [
    [['user', 'add', 'weak', '--role', 'admin', '--password-stdin'], 'short\n', /at least 12 characters/],
    [['user', 'add', 'bad name', '--role', 'admin'], '', /bad username/],
    [['user', 'add', 'x', '--role', 'root'], '', /Allowed choices are admin, employee/],
    [['user', 'add', 'x'], '', /required option '--role/],
  ] as const) {
    const result = await runCanota([...args, ...data], { stdin });
    assert.equal(result.code, 2, `${args.join(' ')}: ${result.stderr}`);
    assert.match(result.stderr, message);
  }

  const list = await runCanota(['user', 'list', '--json', ...data]);
  assert.deepEqual((JSON.parse(list.stdout) as Array<{ username: string; role: string }>).map((u) => [u.username, u.role]),
    [['erin', 'employee'], ['ops', 'employee'], ['root-admin', 'admin']]);

  const passwd = await runCanota(['user', 'passwd', 'erin', '--password-stdin', ...data], { stdin: 'another good password' });
  assert.equal(passwd.code, 0, passwd.stderr);
  assert.match(passwd.stdout, /password of erin changed/);
  assert.equal((await runCanota(['user', 'passwd', 'nobody', ...data])).code, 2);

  assert.equal((await runCanota(['user', 'remove', 'ops', ...data])).code, 0);
  const missing = await runCanota(['user', 'remove', 'ops', ...data]);
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /no user "ops"/);

  const text = await runCanota(['user', 'list', ...data]);
  assert.match(text.stdout, /^erin\temployee\t/m);
  assert.doesNotMatch(text.stdout, /^ops/m);

  const audit = await runCanota(['audit', 'list', '--json', ...data]);
  const events = audit.stdout.trim().split('\n').map((l) => JSON.parse(l) as { event: string; subject: string; actor: string }).reverse();
  // The first command to write to a new data dir makes its audit key, and says so in the log.
  assert.deepEqual(events.map((e) => `${e.event} ${e.subject} by ${e.actor}`), [
    `audit.key ${join(dataDir, 'keys', 'audit-chain.key')} by canota`, 'user.add root-admin by cli', 'user.add erin by cli', 'user.add ops by cli', 'user.passwd erin by cli', 'user.remove ops by cli',
  ]);
});

test('CANOTA_DATA_DIR works like --data-dir', async (t) => {
  const dataDir = await tempDir(t);
  assert.equal((await runCanota(['user', 'add', 'envy', '--role', 'admin'], { env: { CANOTA_DATA_DIR: dataDir } })).code, 0);
  const list = await runCanota(['user', 'list', '--data-dir', dataDir]);
  assert.match(list.stdout, /^envy\tadmin/m);
});
