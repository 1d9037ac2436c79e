/**
 * `npm run mutation [-- <module>…]`: mutation testing (StrykerJS) of the modules in scripts/mutation-modules.ts,
 * one Stryker run per module, then one table of scores and the list of surviving mutants, read from each
 * run's JSON report. Never part of `npm test` or CI: it takes minutes per module (docs/testing.md).
 *
 *   npm run mutation                      every module
 *   npm run mutation -- range installation  these modules
 *   npm run mutation -- --report-only     the table again, from the last reports
 *   npm run mutation -- --concurrency=1   one Stryker worker instead of two
 *
 * Reports: reports/mutation/<module>/ (mutation.json, mutation.html, the Stryker config used, run.json).
 * Stryker works in a sandbox copy of the checkout under .stryker-tmp/ (node_modules symlinked, dist/ left
 * out) and removes it afterwards.
 *
 * Runner: @stryker-mutator/tap-runner runs each covering test file as `node --import tsx <file>` (node:test
 * prints TAP), with per-test-file coverage, so a mutant runs only the files that reach it. Measured against
 * the command runner (`node --import tsx --test <files>`) on src/client/range.ts: see docs/testing.md.
 */
import { spawn } from 'node:child_process';
import { execFileSync } from 'node:child_process';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { parseArgs } from 'node:util';
import { z } from 'zod';
import { projectRoot } from '../src/project-root.ts';
import { mutationModules, type MutationModule, type MutationModuleName } from './mutation-modules.ts';

const reportsDirectory = join(projectRoot, 'reports', 'mutation');
const strykerBin = join(projectRoot, 'node_modules', '@stryker-mutator', 'core', 'bin', 'stryker.js');

/** The Stryker configuration for one module (also written next to its reports). */
export function strykerConfig(name: string, module: MutationModule, concurrency: number): Record<string, unknown> {
  const reports = relative(projectRoot, join(reportsDirectory, name));
  return {
    testRunner: 'tap',
    plugins: ['@stryker-mutator/tap-runner'],
    tap: {
      testFiles: [...module.tests],
      // node:test prints TAP when not writing to a terminal; asked for anyway, so a TTY never changes it.
      nodeArgs: ['--import', 'tsx', '--test-reporter=tap'],
      forceBail: true,
    },
    coverageAnalysis: 'perTest',
    mutate: [...module.mutate],
    // Gitignore-style, relative to the checkout; node_modules (symlinked), .git and .stryker-tmp are left
    // out by Stryker itself. No dist/ in the sandbox: bin/canota there can only run the sources.
    ignorePatterns: ['/dist', '/dist.*', '/reports', '/coverage', '/data', '/demo', '/.tmp'],
    concurrency,
    reporters: ['json', 'html', 'clear-text', 'progress'],
    jsonReporter: { fileName: `${reports}/mutation.json` },
    htmlReporter: { fileName: `${reports}/mutation.html` },
    clearTextReporter: { logTests: false, allowColor: process.stdout.isTTY === true },
    thresholds: { high: 90, low: 75, break: null },
    tempDirName: '.stryker-tmp',
    cleanTempDir: true,
    fileLogLevel: 'off',
  };
}

const reportSchema = z.object({
  files: z.record(z.string(), z.object({
    mutants: z.array(z.object({
      id: z.string(),
      mutatorName: z.string(),
      replacement: z.string().optional(),
      status: z.enum(['Killed', 'Survived', 'NoCoverage', 'CompileError', 'RuntimeError', 'Timeout', 'Ignored', 'Pending']),
      location: z.object({ start: z.object({ line: z.number(), column: z.number() }) }),
    })),
  })),
});
type Report = z.infer<typeof reportSchema>;

const runSchema = z.object({ commit: z.string(), startedAt: z.string(), seconds: z.number(), exitCode: z.number() });
type RunRecord = z.infer<typeof runSchema>;

export interface ModuleScore {
  mutants: number;
  killed: number;
  timedOut: number;
  survived: number;
  noCoverage: number;
  /** Compile and runtime errors: not valid mutants, left out of the score (Stryker's rule). */
  errors: number;
  /** (killed + timed out) / (killed + timed out + survived + no coverage), in percent; NaN without valid mutants. */
  score: number;
  undetected: UndetectedMutant[];
}

export interface UndetectedMutant {
  file: string;
  line: number;
  column: number;
  mutator: string;
  replacement: string;
  status: 'Survived' | 'NoCoverage';
}

export function scoreReport(report: Report): ModuleScore {
  const result: ModuleScore = { mutants: 0, killed: 0, timedOut: 0, survived: 0, noCoverage: 0, errors: 0, score: Number.NaN, undetected: [] };
  for (const [file, { mutants }] of Object.entries(report.files)) {
    for (const mutant of mutants) {
      if (mutant.status === 'Ignored' || mutant.status === 'Pending') continue;
      result.mutants += 1;
      if (mutant.status === 'Killed') result.killed += 1;
      else if (mutant.status === 'Timeout') result.timedOut += 1;
      else if (mutant.status === 'CompileError' || mutant.status === 'RuntimeError') result.errors += 1;
      else {
        if (mutant.status === 'Survived') result.survived += 1;
        else result.noCoverage += 1;
        result.undetected.push({
          file, line: mutant.location.start.line, column: mutant.location.start.column, mutator: mutant.mutatorName,
          replacement: mutant.replacement ?? '', status: mutant.status,
        });
      }
    }
  }
  const detected = result.killed + result.timedOut;
  const valid = detected + result.survived + result.noCoverage;
  result.score = valid === 0 ? Number.NaN : (detected / valid) * 100;
  result.undetected.sort((a, b) => a.file.localeCompare(b.file) || a.line - b.line || a.column - b.column);
  return result;
}

function git(...args: string[]): string {
  try {
    return execFileSync('git', args, { cwd: projectRoot, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return '';
  }
}

/** The commit measured, with `+local` when the module's code or tests differ from it. */
function commitOf(module: MutationModule): string {
  const commit = git('rev-parse', '--short', 'HEAD') || 'unknown';
  const paths = [...module.mutate.map((pattern) => pattern.replace(/:[\d:-]+$/, '')), ...module.tests];
  return git('status', '--porcelain', '--', ...paths) ? `${commit}+local` : commit;
}

async function runStryker(name: MutationModuleName, concurrency: number): Promise<RunRecord> {
  const module: MutationModule = mutationModules[name];
  const directory = join(reportsDirectory, name);
  await mkdir(directory, { recursive: true });
  const configFile = join(directory, 'stryker.config.json');
  await writeFile(configFile, `${JSON.stringify(strykerConfig(name, module, concurrency), null, 2)}\n`);
  console.log(`\n== mutation testing ${name}: ${module.mutate.join(', ')}\n   tests: ${module.tests.join(' ')}`);
  const startedAt = new Date();
  const commit = commitOf(module);
  const exitCode = await new Promise<number>((resolve, reject) => {
    const child = spawn(process.execPath, [strykerBin, 'run', relative(projectRoot, configFile)], {
      cwd: projectRoot,
      stdio: 'inherit',
      // Every process the tests start (bin/canota included) runs the sandbox's mutated TypeScript sources.
      env: { ...process.env, CANOTA_FROM_SOURCE: '1' },
    });
    child.on('error', reject);
    child.on('exit', (code, signal) => resolve(code ?? (signal ? 128 : 1)));
  });
  const run: RunRecord = { commit, startedAt: startedAt.toISOString(), seconds: Math.round((Date.now() - startedAt.getTime()) / 1000), exitCode };
  await writeFile(join(directory, 'run.json'), `${JSON.stringify(run, null, 2)}\n`);
  return run;
}

async function readResult(name: MutationModuleName): Promise<{ score: ModuleScore; run: RunRecord | undefined } | undefined> {
  const directory = join(reportsDirectory, name);
  let report: Report;
  try {
    report = reportSchema.parse(JSON.parse(await readFile(join(directory, 'mutation.json'), 'utf8')));
  } catch {
    return undefined;
  }
  let run: RunRecord | undefined;
  try {
    run = runSchema.parse(JSON.parse(await readFile(join(directory, 'run.json'), 'utf8')));
  } catch {
    run = undefined;
  }
  return { score: scoreReport(report), run };
}

function formatDuration(seconds: number): string {
  return seconds < 60 ? `${seconds} s` : `${Math.floor(seconds / 60)} min ${String(seconds % 60).padStart(2, '0')} s`;
}

function table(rows: readonly (readonly string[])[]): string {
  const widths = rows[0]!.map((_, column) => Math.max(...rows.map((row) => row[column]!.length)));
  return rows.map((row) => row.map((cell, column) => (column === 0 ? cell.padEnd(widths[column]!) : cell.padStart(widths[column]!))).join('  ')).join('\n');
}

function oneLine(text: string, max = 100): string {
  const line = text.replace(/\s+/g, ' ').trim();
  return line.length > max ? `${line.slice(0, max - 1)}…` : line;
}

async function main(): Promise<number> {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: { 'report-only': { type: 'boolean', default: false }, concurrency: { type: 'string', default: '2' } },
  });
  const known = Object.keys(mutationModules) as MutationModuleName[];
  const unknown = positionals.filter((name) => !(known as string[]).includes(name));
  if (unknown.length > 0) {
    console.error(`unknown module ${unknown.join(', ')}; the modules: ${known.join(', ')}`);
    return 2;
  }
  const concurrency = Number(values.concurrency);
  if (!Number.isInteger(concurrency) || concurrency < 1) {
    console.error(`--concurrency must be a whole number from 1 on, not ${values.concurrency}`);
    return 2;
  }
  const names = positionals.length > 0 ? (positionals as MutationModuleName[]) : known;

  const failed: string[] = [];
  if (!values['report-only']) {
    for (const name of names) {
      const run = await runStryker(name, concurrency);
      if (run.exitCode !== 0) failed.push(name);
    }
  }

  const rows: string[][] = [['module', 'mutants', 'killed', 'timed out', 'survived', 'no cov', 'errors', 'score', 'time', 'commit']];
  const undetected: string[] = [];
  for (const name of names) {
    const result = await readResult(name);
    if (!result) {
      rows.push([name, '-', '-', '-', '-', '-', '-', 'no report', '-', '-']);
      continue;
    }
    const { score: s, run } = result;
    rows.push([
      name, String(s.mutants), String(s.killed), String(s.timedOut), String(s.survived), String(s.noCoverage), String(s.errors),
      Number.isNaN(s.score) ? 'n/a' : `${s.score.toFixed(2)} %`, run ? formatDuration(run.seconds) : '-', run?.commit ?? '-',
    ]);
    if (s.undetected.length > 0) {
      undetected.push(`\n${name}: ${s.undetected.length} undetected`);
      for (const mutant of s.undetected) {
        const tag = mutant.status === 'NoCoverage' ? ' (no coverage)' : '';
        undetected.push(`  ${mutant.file}:${mutant.line}:${mutant.column}  ${mutant.mutator}${tag}  → ${oneLine(mutant.replacement)}`);
      }
    }
  }
  console.log(`\n== mutation scores (reports in ${relative(projectRoot, reportsDirectory)}/<module>/)\n`);
  console.log(table(rows));
  if (undetected.length > 0) console.log(`\n== surviving mutants (file:line:column, mutator, replacement)${undetected.join('\n')}`);
  if (failed.length > 0) {
    console.error(`\nStryker failed for ${failed.join(', ')} (see its output above)`);
    return 1;
  }
  return 0;
}

process.exitCode = await main();
