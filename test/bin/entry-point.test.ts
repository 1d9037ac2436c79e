import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, unlink, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { buildInfoFile, freshBuild, type BuildInfo } from '../../bin/fresh-build.js';

const builtAt = Date.parse('2026-06-01T12:00:00Z');

/** A checkout with two sources, a lockfile and a build made at `builtAt`, all files older than it. */
async function checkout(t: TestContext): Promise<string> {
  const root = await mkdtemp(join(tmpdir(), 'canota-fresh-build-'));
  t.after(() => rm(root, { recursive: true, force: true }));
  const info: BuildInfo = { startedAt: builtAt, inputs: ['src/cli/main.ts', 'src/client/transfer.ts'] };
  const files = [...info.inputs, 'package.json', 'package-lock.json', 'node_modules/.package-lock.json', 'dist/main.js'];
  for (const file of files) {
    await mkdir(dirname(join(root, file)), { recursive: true });
    await writeFile(join(root, file), '');
    await age(root, file, -60_000);
  }
  await writeFile(join(root, 'dist', buildInfoFile), JSON.stringify(info));
  return root;
}

/** Sets a file's mtime `offsetMs` from the build's start. */
async function age(root: string, file: string, offsetMs: number): Promise<void> {
  const at = new Date(builtAt + offsetMs);
  await utimes(join(root, file), at, at);
}

test('a complete build older than nothing it depends on is run', async (t) => {
  const root = await checkout(t);
  assert.equal(freshBuild(root, {}), join(root, 'dist', 'main.js'));
  assert.equal(freshBuild(root, { CANOTA_FROM_SOURCE: '1' }), undefined, 'CANOTA_FROM_SOURCE=1 runs the sources');
});

test('an edited source, a deleted source or a new install makes the sources run', async (t) => {
  const root = await checkout(t);
  await age(root, 'src/client/transfer.ts', 60_000);
  assert.equal(freshBuild(root, {}), undefined, 'a source saved after the build');

  const deleted = await checkout(t);
  await unlink(join(deleted, 'src/cli/main.ts'));
  assert.equal(freshBuild(deleted, {}), undefined, 'a source the build was made from is gone');

  const installed = await checkout(t);
  await age(installed, 'node_modules/.package-lock.json', 60_000);
  assert.equal(freshBuild(installed, {}), undefined, 'npm install ran after the build');

  const justInstalled = await checkout(t);
  await age(justInstalled, 'node_modules/.package-lock.json', -400);
  assert.equal(freshBuild(justInstalled, {}), join(justInstalled, 'dist', 'main.js'),
    'npm writes its install record just before prepare builds: no margin for it');

  const noLockfile = await checkout(t);
  await unlink(join(noLockfile, 'package-lock.json'));
  assert.equal(freshBuild(noLockfile, {}), join(noLockfile, 'dist', 'main.js'), 'an installed package has no lockfile: not needed');
});

test('a source saved within the clock margin before the build counts as newer (the error is toward the sources)', async (t) => {
  const root = await checkout(t);
  await age(root, 'src/cli/main.ts', -500);
  assert.equal(freshBuild(root, {}), undefined);
  await age(root, 'src/cli/main.ts', -5000);
  assert.equal(freshBuild(root, {}), join(root, 'dist', 'main.js'));
});

test('no build, a build without its record, or a damaged record: the sources run', async (t) => {
  const root = await checkout(t);
  for (const record of ['{"startedAt": 1', '[]', '{"startedAt": "yesterday", "inputs": ["src/cli/main.ts"]}', '{"startedAt": 1, "inputs": []}']) {
    await writeFile(join(root, 'dist', buildInfoFile), record);
    assert.equal(freshBuild(root, {}), undefined, record);
  }
  await unlink(join(root, 'dist', buildInfoFile));
  assert.equal(freshBuild(root, {}), undefined);
  await rm(join(root, 'dist'), { recursive: true });
  assert.equal(freshBuild(root, {}), undefined);
});
