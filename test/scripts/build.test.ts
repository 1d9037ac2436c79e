import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { access, mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { buildCli } from '../../scripts/build.ts';
import { chooseEntryPoint } from '../../bin/entry-point.js';
import { projectRoot } from '../../src/project-root.ts';
import { startOtaServer } from '../support/ota-server.ts';
import { firmwareImage } from '../client/support/client-run.ts';

const exec = promisify(execFile);

test('the build bundles the CLI; its client downloads and verifies a release from a real server', async (t) => {
  // Inside the checkout (.tmp/ is ignored), so the bundle's external packages resolve from node_modules;
  // never the checkout's own dist/, which other tests' processes may be running.
  await mkdir(join(projectRoot, '.tmp'), { recursive: true });
  const work = await mkdtemp(join(projectRoot, '.tmp', 'build-test-'));
  t.after(() => rm(work, { recursive: true, force: true }));
  const built = await buildCli(join(work, 'dist'));

  assert.ok(built.sources.includes('src/cli/main.ts') && built.sources.includes('src/client/transfer.ts'));
  assert.ok(built.sources.every((input) => input.startsWith('src/')), 'only our sources are counted');
  assert.equal(built.info.sources, built.sources.length);
  assert.ok(built.chunks.includes(join(work, 'dist', 'main.js')));
  for (const chunk of built.chunks) await access(chunk);
  assert.deepEqual((await readdir(work)).sort(), ['dist'], 'no staging folder is left behind');
  assert.deepEqual(chooseEntryPoint(work, {}), { kind: 'bundle', path: join(work, 'dist', 'main.js') }, 'a complete build is run');

  const runner = join(work, 'run.mjs');
  await writeFile(runner, "const { main } = await import('./dist/main.js');\nawait main(process.argv);\n");
  const help = await exec(process.execPath, [runner, 'client', '--help']);
  assert.match(help.stdout, /Usage: canota client/);

  const server = await startOtaServer(t);
  const image = firmwareImage(6 * 1024 * 1024, 61);
  await server.upload('edt-4.0.0.bin', image, { ecu: 'EDT', firmware_version: '4.0.0' });
  const [downloadDir, stateDir] = [join(work, 'downloads'), join(work, 'state')];
  await exec(process.execPath, [runner, 'client', '--server', server.url, '--once', '--download-dir', downloadDir, '--state-dir', stateDir]);
  const digest = createHash('sha256').update(image).digest('hex');
  assert.equal((await readFile(join(stateDir, 'downloaded_sha.txt'), 'utf8')).trim(), digest);
  assert.ok((await readFile(join(downloadDir, 'edt-4.0.0.bin'))).equals(image));
});
