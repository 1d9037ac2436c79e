import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { projectPath } from '../../src/project-root.ts';

export const canotaBin = projectPath('bin', 'canota');

export interface StartOptions {
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Resolves start() once a line of stdout or stderr matches; group 1 (if any) becomes `url`. */
  ready?: RegExp;
  /** How long to wait for `ready` before failing the test. */
  timeoutMs?: number;
  stdin?: string;
}

/** A running `bin/canota …` child process, with its output collected for assertions and debugging. */
export interface CanotaProcess {
  child: ChildProcessWithoutNullStreams;
  url: string | undefined;
  readonly output: string[];
  /** Resolves with the first output line that matches `pattern` (already seen lines count). */
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<RegExpMatchArray>;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves with the exit code (or signal name). */
  stop(graceMs?: number): Promise<number | string>;
  exited: Promise<number | string>;
}

/** Default readiness: a server's "listening at URL" log line (Fastify's own and ours). */
export const listeningPattern = /listening (?:at|on) (https?:\/\/[^\s"]+)/i;

export async function startCanota(args: string[], options: StartOptions = {}): Promise<CanotaProcess> {
  const child = spawn(process.execPath, [canotaBin, ...args], {
    cwd: options.cwd,
    env: { ...process.env, CANOTA_LOG_LEVEL: 'info', ...options.env },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const output: string[] = [];
  const waiters = new Set<{ pattern: RegExp; resolve: (m: RegExpMatchArray) => void }>();
  const onLine = (line: string) => {
    output.push(line);
    if (process.env.CANOTA_TEST_VERBOSE) console.error(`[canota ${args[0]}] ${line}`);
    for (const waiter of waiters) {
      const match = line.match(waiter.pattern);
      if (match) {
        waiters.delete(waiter);
        waiter.resolve(match);
      }
    }
  };
  createInterface({ input: child.stdout }).on('line', onLine);
  createInterface({ input: child.stderr }).on('line', onLine);
  if (options.stdin !== undefined) child.stdin.end(options.stdin);

  const exited = once(child, 'exit').then(([code, signal]) => (code ?? signal) as number | string);

  const waitFor = (pattern: RegExp, timeoutMs = 20_000): Promise<RegExpMatchArray> => {
    for (const line of output) {
      const match = line.match(pattern);
      if (match) return Promise.resolve(match);
    }
    return new Promise((resolve, reject) => {
      const waiter = { pattern, resolve: (m: RegExpMatchArray) => { clearTimeout(timer); resolve(m); } };
      const timer = setTimeout(() => {
        waiters.delete(waiter);
        reject(new Error(`timed out after ${timeoutMs} ms waiting for ${pattern} from canota ${args.join(' ')}\n` +
          output.slice(-40).join('\n')));
      }, timeoutMs);
      waiters.add(waiter);
      void exited.then((code) => {
        if (!waiters.has(waiter)) return;
        waiters.delete(waiter);
        clearTimeout(timer);
        reject(new Error(`canota ${args.join(' ')} exited (${code}) before printing ${pattern}\n` +
          output.slice(-40).join('\n')));
      });
    });
  };

  const stop = async (graceMs = 5_000): Promise<number | string> => {
    if (child.exitCode !== null || child.signalCode !== null) return exited;
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    try {
      return await exited;
    } finally {
      clearTimeout(timer);
    }
  };

  let url: string | undefined;
  if (options.ready) {
    try {
      const match = await waitFor(options.ready, options.timeoutMs ?? 30_000);
      url = match[1];
    } catch (error) {
      child.kill('SIGKILL');
      throw error;
    }
  }
  return { child, url, output, waitFor, stop, exited };
}

/** Runs `bin/canota …` to completion and returns its exit code and output. */
export async function runCanota(
  args: string[],
  options: { env?: NodeJS.ProcessEnv; stdin?: string; cwd?: string; timeoutMs?: number } = {},
): Promise<{ code: number | string; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [canotaBin, ...args], {
    cwd: options.cwd,
    env: { ...process.env, ...options.env },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => { stdout += chunk; });
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => { stderr += chunk; });
  child.stdin.end(options.stdin ?? '');
  const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 60_000);
  const [code, signal] = await once(child, 'exit');
  clearTimeout(timer);
  return { code: (code ?? signal) as number | string, stdout, stderr };
}
