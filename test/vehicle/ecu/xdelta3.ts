import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/**
 * A VCDIFF delta from `base` to `target` made by Debian's xdelta3, with the server's settings
 * (-e -9 -S none -W 16384) unless `args` replaces them.
 */
export async function xdelta3(base: Uint8Array, target: Uint8Array, args: readonly string[] = ['-9', '-S', 'none', '-W', '16384']): Promise<Buffer> {
  const directory = await mkdtemp(join(tmpdir(), 'canota-xdelta3-'));
  try {
    const [basePath, targetPath, out] = ['base', 'target', 'delta'].map((name) => join(directory, name)) as [string, string, string];
    await writeFile(basePath, base);
    await writeFile(targetPath, target);
    await run('xdelta3', ['-e', ...args, '-f', '-s', basePath, targetPath, out]);
    return await readFile(out);
  } finally {
    await rm(directory, { recursive: true, force: true });
  }
}
