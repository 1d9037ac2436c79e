/**
 * `npm run build` (also run by `npm ci`/`npm install` as `prepare`, and before `npm start` and `npm test`):
 * bundles the CLI with esbuild into `dist/`, which `bin/canota` runs whenever it exists (bin/entry-point.js).
 *
 * Why a build at all: running the sources needs tsx, whose loader thread alone costs ~34 MiB, and every
 * ES module costs memory of its own. `canota client` runs inside the vehicle's TMU and has a peak-memory
 * target (bench:client); the bundle also starts every command faster.
 *
 * - One chunk per command (code splitting follows `commandModules`' dynamic imports), so `canota client`
 *   loads only the client's code.
 * - The few packages the client needs are bundled in (they are then one module each, not hundreds);
 *   every other package stays an ordinary import from node_modules: native addons (bcrypt,
 *   better-sqlite3) and packages that find their own files at run time (Fastify's plugins, swagger-ui) must.
 * - The build goes to a temporary folder and replaces `dist/` by renames, so a concurrent `bin/canota`
 *   sees the old build, no build (and runs the sources), or the new one; never half of one. The record
 *   (build-info.json) is written last, so a build without it is not taken for one.
 */
import { build, type Plugin } from 'esbuild';
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildInfoFile, distDirectory, type BuildInfo } from '../bin/entry-point.js';
import { projectRoot as root } from '../src/project-root.ts';

const insideNodeModules = `${sep}node_modules${sep}`;

/** Packages bundled into dist/ (with their own dependencies): what `canota client` loads. */
const bundledPackages = new Set(['commander', 'pino', 'undici', 'zod']);

/** Bare imports from our code stay external unless their package is in `bundledPackages`. */
const externalPackages: Plugin = {
  name: 'external-packages',
  setup(context) {
    context.onResolve({ filter: /^[^./]/ }, (args) => {
      if (args.path.startsWith('node:')) return { path: args.path, external: true };
      if (args.importer.includes(insideNodeModules)) return undefined;
      const name = args.path.startsWith('@') ? args.path.split('/').slice(0, 2).join('/') : args.path.split('/')[0]!;
      return bundledPackages.has(name) ? undefined : { path: args.path, external: true };
    });
  },
};

export interface BuiltCli {
  directory: string;
  info: BuildInfo;
  /** Our source files bundled into it, relative to the checkout. */
  sources: string[];
  /** The JavaScript files written: the entry and one chunk per command and shared part. */
  chunks: string[];
}

/** Bundles the CLI into `target` (default: the checkout's dist/), replacing what was there. */
export async function buildCli(target = join(root, distDirectory)): Promise<BuiltCli> {
  const staging = `${target}.staging-${process.pid}`;
  await rm(staging, { recursive: true, force: true });
  await mkdir(staging, { recursive: true });
  try {
    const result = await build({
      absWorkingDir: root,
      entryPoints: { main: 'src/cli/main.ts' },
      outdir: staging,
      bundle: true,
      splitting: true,
      format: 'esm',
      platform: 'node',
      target: 'node20.19',
      sourcemap: 'linked',
      metafile: true,
      logLevel: 'warning',
      plugins: [externalPackages],
      // Bundled CommonJS packages (undici, pino, commander) call require() for Node's built-ins.
      banner: { js: "import { createRequire as __canotaCreateRequire } from 'node:module';\nconst require = __canotaCreateRequire(import.meta.url);" },
    });
    const sources = Object.keys(result.metafile.inputs).filter((input) => !input.includes('node_modules')).sort();
    const info: BuildInfo = { builtAt: new Date().toISOString(), sources: sources.length };
    await writeFile(join(staging, buildInfoFile), `${JSON.stringify(info, null, 2)}\n`);
    const old = `${target}.old-${process.pid}`;
    await rename(target, old).catch((error: NodeJS.ErrnoException) => { if (error.code !== 'ENOENT') throw error; });
    await rename(staging, target);
    await rm(old, { recursive: true, force: true });
    const chunks = Object.keys(result.metafile.outputs).filter((output) => output.endsWith('.js'))
      .map((output) => join(target, relative(staging, join(root, output))));
    return { directory: target, info, sources, chunks };
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const started = Date.now();
  const built = await buildCli();
  console.log(`canota: built ${relative(root, built.directory)}/ (${built.info.sources} sources, ${built.chunks.length} chunks) ` +
    `in ${Date.now() - started} ms`);
}
