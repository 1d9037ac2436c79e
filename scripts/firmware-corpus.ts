/**
 * npm run corpus — builds the firmware corpus the vehicle benchmark flashes (docs/ecu.md, "Compressed
 * downloads"): three consecutive releases of an EDT application (scripts/firmware-corpus/edt-app.c) linked
 * with SQLite (the amalgamation better-sqlite3 ships) and newlib, built with Debian's gcc-arm-none-eabi for a
 * Cortex-M4 and objcopied to raw .bin images, a few hundred KiB of real Thumb-2 code and tables each:
 *
 *   1.0.0  the baseline
 *   1.1.0  a maintenance release: a calibration table and one function changed (everything after it moves)
 *   2.0.0  a feature release: new functions and SQL, and SQLite built with more options
 *
 * Written to corpus/ (gitignored) with corpus/manifest.json; built again only when a source or flag changed.
 * Needs `apt-get install gcc-arm-none-eabi libnewlib-arm-none-eabi`.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
const root = join(import.meta.dirname, '..');
export const CORPUS_DIR = join(root, 'corpus');
const app = join(root, 'scripts/firmware-corpus/edt-app.c');
const sqliteDir = join(root, 'node_modules/better-sqlite3/deps/sqlite3');
const cpu = ['-mcpu=cortex-m4', '-mthumb', '-mfloat-abi=hard', '-mfpu=fpv4-sp-d16', '-Os', '-ffunction-sections', '-fdata-sections'];
const sqliteBase = ['-DSQLITE_OS_OTHER=1', '-DSQLITE_THREADSAFE=0', '-DSQLITE_OMIT_LOAD_EXTENSION', '-DSQLITE_OMIT_WAL'];
const sqliteVariants = {
  base: sqliteBase,
  // 2.0.0 also wants query statistics and the dbstat table for its workshop summary.
  stat4: [...sqliteBase, '-DSQLITE_ENABLE_STAT4', '-DSQLITE_ENABLE_DBSTAT_VTAB'],
} as const;
const releases = [
  { version: '1.0.0', defines: ['-DFW_MAJOR=1', '-DFW_MINOR=0'], sqlite: 'base' },
  { version: '1.1.0', defines: ['-DFW_MAJOR=1', '-DFW_MINOR=1'], sqlite: 'base' },
  { version: '2.0.0', defines: ['-DFW_MAJOR=2', '-DFW_MINOR=0'], sqlite: 'stat4' },
] as const;

export interface CorpusImage {
  version: string;
  path: string;
  size: number;
  sha256: string;
}

export interface Corpus {
  compiler: string;
  sqlite: string;
  images: CorpusImage[];
}

/** The corpus, built first if it is missing or stale. */
export async function firmwareCorpus(log: (line: string) => void = () => undefined): Promise<Corpus> {
  const inputs = createHash('sha256')
    .update(await readFile(app)).update(await readFile(join(sqliteDir, 'sqlite3.c')))
    .update(JSON.stringify({ cpu, sqliteVariants, releases })).digest('hex');
  const manifestPath = join(CORPUS_DIR, 'manifest.json');
  try {
    const manifest = JSON.parse(await readFile(manifestPath, 'utf8')) as Corpus & { inputs: string };
    if (manifest.inputs === inputs) return manifest;
  } catch {
    // Missing or unreadable: build it.
  }
  await mkdir(join(CORPUS_DIR, 'build'), { recursive: true });
  const { stdout: version } = await run('arm-none-eabi-gcc', ['--version']).catch(() => {
    throw new Error('arm-none-eabi-gcc is missing: apt-get install gcc-arm-none-eabi libnewlib-arm-none-eabi');
  });
  const compiler = version.split('\n')[0]!;
  log(`building the firmware corpus with ${compiler} …`);
  // The two SQLite builds are the slow part (~15 s each): side by side.
  await Promise.all(Object.entries(sqliteVariants).map(([name, flags]) =>
    run('arm-none-eabi-gcc', [...cpu, ...flags, '-c', join(sqliteDir, 'sqlite3.c'), '-o', join(CORPUS_DIR, 'build', `sqlite3-${name}.o`)])));
  const images: CorpusImage[] = [];
  for (const release of releases) {
    const object = join(CORPUS_DIR, 'build', `edt-app-${release.version}.o`);
    const elf = join(CORPUS_DIR, 'build', `edt-${release.version}.elf`);
    const path = join(CORPUS_DIR, `edt-${release.version}.bin`);
    await run('arm-none-eabi-gcc', [...cpu, ...release.defines, `-I${sqliteDir}`, '-c', app, '-o', object]);
    // The application first: a change in it moves all of SQLite and newlib behind it, as in a real link.
    await run('arm-none-eabi-gcc', [...cpu, '--specs=nano.specs', '--specs=nosys.specs', '-Wl,--gc-sections',
      object, join(CORPUS_DIR, 'build', `sqlite3-${release.sqlite}.o`), '-lm', '-o', elf]);
    await run('arm-none-eabi-objcopy', ['-O', 'binary', elf, path]);
    const image = await readFile(path);
    images.push({ version: release.version, path, size: image.length, sha256: createHash('sha256').update(image).digest('hex') });
    log(`  ${path}: ${image.length} bytes`);
  }
  const sqlite = /#define SQLITE_VERSION\s+"([^"]+)"/.exec(await readFile(join(sqliteDir, 'sqlite3.h'), 'utf8'))?.[1] ?? 'unknown';
  const corpus: Corpus = { compiler, sqlite, images };
  await writeFile(manifestPath, `${JSON.stringify({ ...corpus, inputs }, null, 2)}\n`);
  return corpus;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const corpus = await firmwareCorpus((line) => console.log(line));
  for (const image of corpus.images) console.log(`${image.version}\t${image.size}\t${image.sha256}\t${image.path}`);
}
