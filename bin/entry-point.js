// @ts-check
// Plain JavaScript on purpose: bin/canota calls this before tsx is loaded (and to decide whether to load it).
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import process from 'node:process';

/** Where `npm run build` (scripts/build.ts) puts the bundle, relative to the checkout. */
export const distDirectory = 'dist';
/** Written last into a build (which then replaces dist/ by a rename): its presence means a complete build. */
export const buildInfoFile = 'build-info.json';

/**
 * @typedef {object} BuildInfo
 * @property {string} builtAt when the build was made (ISO 8601), for people
 * @property {number} sources how many of our source files were bundled into it
 */

/**
 * @typedef {{ kind: 'bundle', path: string } | { kind: 'sources', reason: 'requested' | 'no build' }} EntryPoint
 */

/**
 * What `bin/canota` runs. The rule is explicit and depends on nothing but these two facts (never on file
 * times, which guessed wrong three times):
 * - `CANOTA_FROM_SOURCE=1`: the TypeScript sources through tsx (mutation testing, debugging an edit
 *   without rebuilding);
 * - otherwise the bundle in dist/ whenever a complete one exists. `npm ci`, `npm start` and `npm test`
 *   build it first, so the two commands and every end-to-end test run what ships. After editing a source,
 *   run `npm run build` (or set CANOTA_FROM_SOURCE=1) before running bin/canota by hand;
 * - no build at all (`npm ci --ignore-scripts`, or the instant a new build replaces dist/): the sources.
 * @param {string} root the checkout
 * @param {NodeJS.ProcessEnv} [env]
 * @returns {EntryPoint}
 */
export function chooseEntryPoint(root, env = process.env) {
  if (env.CANOTA_FROM_SOURCE === '1') return { kind: 'sources', reason: 'requested' };
  const dist = join(root, distDirectory);
  if (!existsSync(join(dist, buildInfoFile))) return { kind: 'sources', reason: 'no build' };
  return { kind: 'bundle', path: join(dist, 'main.js') };
}
