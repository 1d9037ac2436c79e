import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { copyFile, mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { runCanota } from '../../support/canota-process.ts';
import { tempDir } from '../../support/temp-dir.ts';

const VIN = 'WCANTAREG00000001';

test('canota vehicle register VIN: the token once, alone on the last line; stored only as a hash', async (t) => {
  const dataDir = await tempDir(t);
  const data = ['--data-dir', dataDir];

  const made = await runCanota(['vehicle', 'register', VIN, ...data]);
  assert.equal(made.code, 0, made.stderr);
  const lines = made.stdout.trim().split('\n');
  assert.equal(lines[0], `registered vehicle ${VIN}`);
  const token = lines.at(-1)!;
  assert.match(token, /^cvt_[A-Za-z0-9_-]{43}$/);

  const db = new Database(join(dataDir, 'canota.db'), { readonly: true });
  try {
    const row = db.prepare('select vin, token_hash from vehicles').get() as { vin: string; token_hash: string };
    assert.deepEqual(row, { vin: VIN, token_hash: createHash('sha256').update(token).digest('hex') });
  } finally {
    db.close();
  }
  const everything = (await Promise.all(['canota.db', 'canota.db-wal'].map((f) => readFile(join(dataDir, f)).catch(() => Buffer.alloc(0))))).join('');
  assert.ok(!everything.includes(token), 'the token itself is nowhere in the database files');

  const duplicate = await runCanota(['vehicle', 'register', VIN, ...data]);
  assert.equal(duplicate.code, 2);
  assert.match(duplicate.stderr, /vehicle WCANTAREG00000001 is already registered \(--rotate gives it a new token\)/);
  assert.equal(duplicate.stdout, '', 'no token printed for a refused registration');

  const rotated = await runCanota(['vehicle', 'register', VIN.toLowerCase(), '--rotate', '--json', ...data]);
  assert.equal(rotated.code, 0, rotated.stderr);
  const json = JSON.parse(rotated.stdout) as { vin: string; token: string };
  assert.deepEqual(Object.keys(json), ['vin', 'token']);
  assert.equal(json.vin, VIN);
  assert.notEqual(json.token, token);

  for (const [args, message] of [
    [['vehicle', 'register', 'WCANTAREG0000000I'], /bad VIN "WCANTAREG0000000I"/],
    [['vehicle', 'register', 'SHORT'], /bad VIN "SHORT": a VIN has 17 characters/],
    [['vehicle', 'register', 'WCANTAREG00000009', '--rotate'], /no vehicle WCANTAREG00000009 to rotate the token of/],
    [['vehicle', 'register'], /missing required argument 'vin'/],
  ] as const) {
    const result = await runCanota([...args, ...data]);
    assert.equal(result.code, 2, `${args.join(' ')}: ${result.stderr}`);
    assert.match(result.stderr, message);
  }

  const viaEnv = await runCanota(['vehicle', 'register', 'WCANTAREG00000002', '--json'], { env: { CANOTA_DATA_DIR: dataDir } });
  assert.equal(viaEnv.code, 0, viaEnv.stderr);
  // Another data dir on the same database must hold the same audit key: a key of its own would fork the chain.
  const elsewhere = join(dataDir, 'elsewhere');
  const sharedDatabase = ['--database-url', `sqlite:${join(dataDir, 'canota.db')}`, '--data-dir', elsewhere];
  const withoutKey = await runCanota(['vehicle', 'register', 'WCANTAREG00000003', ...sharedDatabase]);
  assert.equal(withoutKey.code, 1);
  assert.match(withoutKey.stderr, /no audit key at .*elsewhere.*; the audit log is sealed with the key made at .*keys\/audit-chain\.key \(entry #1\): copy that key file here/);
  await mkdir(join(elsewhere, 'keys'), { recursive: true });
  await copyFile(join(dataDir, 'keys', 'audit-chain.key'), join(elsewhere, 'keys', 'audit-chain.key'));
  const viaUrl = await runCanota(['vehicle', 'register', 'WCANTAREG00000003', ...sharedDatabase]);
  assert.equal(viaUrl.code, 0, viaUrl.stderr);
  assert.equal((await runCanota(['audit', 'verify', ...data])).code, 0, 'one chain, one key');

  const audit = await runCanota(['audit', 'list', '--json', ...data]);
  const events = audit.stdout.trim().split('\n').map((l) => JSON.parse(l) as { event: string; subject: string; actor: string }).reverse();
  assert.deepEqual(events.map((e) => `${e.event} ${e.subject} by ${e.actor}`), [
    `audit.key ${join(dataDir, 'keys', 'audit-chain.key')} by canota`, `vehicle.register ${VIN} by cli`, `vehicle.rotate ${VIN} by cli`, 'vehicle.register WCANTAREG00000002 by cli', 'vehicle.register WCANTAREG00000003 by cli',
  ]);
});
