import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { runCanota } from '../../support/canota-process.ts';
import { tempDir } from '../../support/temp-dir.ts';

export interface ClientDirs {
  downloadDir: string;
  stateDir: string;
}

export async function clientDirs(t: TestContext): Promise<ClientDirs> {
  const root = await tempDir(t, 'canota-client-');
  return { downloadDir: join(root, 'downloads'), stateDir: join(root, 'state') };
}

/** The arguments of `canota client` for these dirs, quick to retry (tests must not sleep for seconds). */
export function clientArgs(server: string, dirs: ClientDirs, extra: string[] = []): string[] {
  return ['client', '--server', server, '--download-dir', dirs.downloadDir, '--state-dir', dirs.stateDir,
    '--retry-backoff', '0.05', ...extra];
}

export interface ClientRun {
  code: number | string;
  /** The `--json` status line. */
  status: Record<string, unknown>;
  /** The pino log lines (stderr with `--json`). */
  logs: Array<Record<string, unknown>>;
  stdout: string;
  stderr: string;
}

/** Runs `canota client --once --json` to the end. */
export async function runClientOnce(server: string, dirs: ClientDirs, extra: string[] = [], env: NodeJS.ProcessEnv = {}): Promise<ClientRun> {
  const result = await runCanota(clientArgs(server, dirs, ['--once', '--json', ...extra]), { env, timeoutMs: 60_000 });
  const statusLine = result.stdout.trim().split('\n').filter(Boolean).at(-1);
  let status: Record<string, unknown> = {};
  try {
    if (statusLine) status = JSON.parse(statusLine) as Record<string, unknown>;
  } catch {
    throw new Error(`canota client printed no JSON status:\nstdout: ${result.stdout}\nstderr: ${result.stderr}`);
  }
  return { ...result, status, logs: jsonLines(result.stderr) };
}

export function jsonLines(text: string): Array<Record<string, unknown>> {
  return text.split('\n').filter((line) => line.startsWith('{')).map((line) => JSON.parse(line) as Record<string, unknown>);
}

/** Names in a directory (empty if it does not exist). */
export async function listDir(dir: string): Promise<string[]> {
  try {
    return (await readdir(dir)).sort();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
}

/** A state file's text, or null when it does not exist. */
export { readOptional as readText } from '../../../src/files/read-optional.ts';

/** Pseudo-random but reproducible bytes, so a failing test can be rerun on the same file. */
export function firmwareImage(size: number, seed = 1): Buffer {
  const bytes = Buffer.alloc(size);
  let state = seed >>> 0 || 1;
  for (let i = 0; i < size; i++) {
    // xorshift32
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    bytes[i] = state & 0xff;
  }
  return bytes;
}
