import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** No canota checkout or package above this module: a copy of the code without its package.json or bin/canota. */
export class ProjectRootNotFoundError extends Error {
  override name = 'ProjectRootNotFoundError';
}

/**
 * The canota checkout (or installed package) this code runs from: the nearest directory above this module
 * that holds canota's package.json. Found by walking up rather than by a fixed `../..`, because the same
 * code runs from `src/` (tsx) and bundled into `dist/` (the build), at different depths.
 */
export const projectRoot = findProjectRoot(dirname(fileURLToPath(import.meta.url)));

/** A file or folder shipped with canota (static assets, bin/canota), by its path in the checkout. */
export function projectPath(...segments: string[]): string {
  return join(projectRoot, ...segments);
}

function findProjectRoot(start: string): string {
  for (let directory = start; ; directory = dirname(directory)) {
    if (existsSync(join(directory, 'package.json')) && existsSync(join(directory, 'bin', 'canota'))) return directory;
    if (dirname(directory) === directory) throw new ProjectRootNotFoundError(`canota's package.json not found above ${start}`);
  }
}
