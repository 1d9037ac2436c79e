// @ts-check
// Plain JavaScript on purpose: bin/canota calls this before tsx is loaded (and to decide whether to load it).
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import process from 'node:process';

/** Where `npm run build` (scripts/build.ts) puts the bundle, relative to the checkout. */
export const distDirectory = 'dist';
/** What the build read, and when: written last into dist/, so its presence means a complete build. */
export const buildInfoFile = 'build-info.json';

/**
 * @typedef {object} BuildInfo
 * @property {number} startedAt when the build started (ms since the epoch), before it read any source
 * @property {string[]} inputs our source files bundled into it, relative to the checkout
 */

/**
 * A file's mtime comes from the kernel's coarse clock and some file systems keep whole (even double)
 * seconds, so a source saved just after a build started can look older than the build. A source or setting
 * changed within this margin before the build counts as newer: the error is always toward the sources.
 */
const clockMarginMs = 2000;

/** Files that, when present, must be older than the build too: how it was made, and what it depends on. */
const buildSettings = ['scripts/build.ts', 'tsconfig.json', 'package.json', 'package-lock.json'];

/**
 * What was installed: a package's files keep npm's fixed 1985 mtime, so node_modules is judged by the record
 * npm rewrites on every install. npm writes it just before `prepare` builds, so it is compared without the
 * margin; the next install comes seconds later at the earliest.
 */
const installRecord = join('node_modules', '.package-lock.json');

/**
 * The bundle's entry (dist/main.js) when `root` has a complete build that is newer than every source it
 * was built from and than the last `npm install`; undefined when the sources must run instead (no build,
 * an edited or deleted source, new dependencies, or CANOTA_FROM_SOURCE=1). So an edit is never shadowed by
 * an old build, and a checkout runs right after `npm ci` either way.
 * @param {string} root the checkout
 * @param {NodeJS.ProcessEnv} [env]
 * @returns {string | undefined}
 */
export function freshBuild(root, env = process.env) {
  if (env.CANOTA_FROM_SOURCE === '1') return undefined;
  const dist = join(root, distDirectory);
  /** @type {BuildInfo} */
  let info;
  try {
    info = JSON.parse(readFileSync(join(dist, buildInfoFile), 'utf8'));
  } catch {
    return undefined;
  }
  if (typeof info?.startedAt !== 'number' || !Array.isArray(info.inputs) || info.inputs.length === 0) return undefined;
  const startedAt = info.startedAt;
  /** Changed after `since`; a missing file counts as changed when the build needs it. */
  const changed = (/** @type {string} */ file, /** @type {number} */ since, /** @type {boolean} */ required) => {
    try {
      return statSync(join(root, file)).mtimeMs > since;
    } catch {
      return required;
    }
  };
  if (info.inputs.some((input) => changed(input, startedAt - clockMarginMs, true))) return undefined;
  if (buildSettings.some((file) => changed(file, startedAt - clockMarginMs, false))) return undefined;
  if (changed(installRecord, startedAt, false)) return undefined;
  return join(dist, 'main.js');
}
