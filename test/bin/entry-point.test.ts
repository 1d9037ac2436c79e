import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { copyFile, mkdir, mkdtemp, rm, symlink, unlink, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { buildInfoFile, chooseEntryPoint } from '../../bin/entry-point.js';
import { projectRoot } from '../../src/project-root.ts';

const exec = promisify(execFile);

/**
 * A checkout whose bin/ is the real bin/canota and bin/entry-point.js, whose dist/main.js and
 * src/cli/main.ts each say which one ran, and whose node_modules is the real one (for tsx).
 */
async function checkout(t: TestContext, { built }: { built: boolean }): Promise<string> {
  await mkdir(join(projectRoot, '.tmp'), { recursive: true });
  const root = await mkdtemp(join(projectRoot, '.tmp', 'entry-point-'));
  t.after(() => rm(root, { recursive: true, force: true }));
  await mkdir(join(root, 'bin'));
  for (const file of ['canota', 'entry-point.js']) await copyFile(join(projectRoot, 'bin', file), join(root, 'bin', file));
  await symlink(join(projectRoot, 'node_modules'), join(root, 'node_modules'));
  await writeFile(join(root, 'package.json'), '{ "type": "module" }\n');
  const say = (what: string) => `export async function main(argv: string[]) { console.log('${what}', argv.slice(2).join(' ')); }\n`;
  await mkdir(join(root, 'src', 'cli'), { recursive: true });
  await writeFile(join(root, 'src', 'cli', 'main.ts'), say('sources'));
  if (built) {
    await mkdir(join(root, 'dist'));
    await writeFile(join(root, 'dist', 'main.js'), say('bundle').replace(': string[]', ''));
    await writeFile(join(root, 'dist', buildInfoFile), JSON.stringify({ builtAt: new Date().toISOString(), sources: 1 }));
  }
  return root;
}

async function run(root: string, env: NodeJS.ProcessEnv = {}): Promise<string> {
  const { stdout } = await exec(process.execPath, [join(root, 'bin', 'canota'), 'client', '--once'], {
    env: { ...process.env, CANOTA_FROM_SOURCE: '', ...env },
  });
  return stdout.trim();
}

test('bin/canota runs the bundle whenever a complete build exists, however old it is', async (t) => {
  const root = await checkout(t, { built: true });
  assert.equal(await run(root), 'bundle client --once');
  // A source edited after the build does not change the choice: predictable, not guessed from file times.
  const later = new Date(Date.now() + 3_600_000);
  await utimes(join(root, 'src', 'cli', 'main.ts'), later, later);
  assert.equal(await run(root), 'bundle client --once');
  assert.deepEqual(chooseEntryPoint(root, {}), { kind: 'bundle', path: join(root, 'dist', 'main.js') });
});

test('CANOTA_FROM_SOURCE=1 runs the TypeScript sources; other values do not', async (t) => {
  const root = await checkout(t, { built: true });
  assert.equal(await run(root, { CANOTA_FROM_SOURCE: '1' }), 'sources client --once');
  assert.deepEqual(chooseEntryPoint(root, { CANOTA_FROM_SOURCE: '1' }), { kind: 'sources', reason: 'requested' });
  for (const value of ['0', '', 'yes']) {
    assert.equal(chooseEntryPoint(root, { CANOTA_FROM_SOURCE: value }).kind, 'bundle', `CANOTA_FROM_SOURCE=${value}`);
  }
});

test('no build, or a build without its record (cut short), runs the sources', async (t) => {
  const root = await checkout(t, { built: false });
  assert.equal(await run(root), 'sources client --once');
  assert.deepEqual(chooseEntryPoint(root, {}), { kind: 'sources', reason: 'no build' });

  const cutShort = await checkout(t, { built: true });
  await unlink(join(cutShort, 'dist', buildInfoFile));
  assert.equal(await run(cutShort), 'sources client --once');
});
