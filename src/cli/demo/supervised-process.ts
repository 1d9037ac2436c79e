import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, type WriteStream } from 'node:fs';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { projectPath } from '../../project-root.ts';
import { CommandFailedError } from '../exit-codes.ts';

const canotaBin = projectPath('bin', 'canota');

export class ProcessStartError extends CommandFailedError {
  override name = 'ProcessStartError';
}

/**
 * One `canota …` child of the demo: its output goes to a log file (the terminal stays readable), each line
 * is offered to `onLine`, and start() resolves with the first line matching `ready`.
 */
export class SupervisedProcess {
  readonly name: string;
  readonly logPath: string;
  readonly #child: ChildProcess;
  readonly #log: WriteStream;
  readonly exited: Promise<number | string>;
  readonly #tail: string[] = [];

  private constructor(name: string, args: string[], logPath: string, onLine: (line: string) => void, interactive: boolean) {
    this.name = name;
    this.logPath = logPath;
    this.#log = createWriteStream(logPath, { flags: 'a' });
    // `--approve prompt` asks on the terminal: then the vehicle shares the demo's stdin and stderr.
    this.#child = spawn(process.execPath, [canotaBin, ...args], {
      stdio: [interactive ? 'inherit' : 'ignore', 'pipe', interactive ? 'inherit' : 'pipe'],
      env: process.env,
    });
    const take = (line: string) => {
      this.#log.write(`${line}\n`);
      this.#tail.push(line);
      if (this.#tail.length > 20) this.#tail.shift();
      onLine(line);
    };
    createInterface({ input: this.#child.stdout! }).on('line', take);
    if (this.#child.stderr) createInterface({ input: this.#child.stderr }).on('line', take);
    this.exited = once(this.#child, 'exit').then(([code, signal]) => {
      this.#log.end();
      return (code ?? signal) as number | string;
    });
  }

  static async start(options: {
    name: string; args: string[]; logPath: string; ready: RegExp; timeoutMs?: number; interactive?: boolean;
    onLine?: (line: string) => void;
  }): Promise<{ process: SupervisedProcess; ready: RegExpMatchArray }> {
    let resolveReady!: (match: RegExpMatchArray) => void;
    const readyLine = new Promise<RegExpMatchArray>((resolve) => { resolveReady = resolve; });
    let seen = false;
    const child = new SupervisedProcess(options.name, options.args, options.logPath, (line) => {
      if (!seen) {
        const match = options.ready.exec(line);
        if (match) {
          seen = true;
          resolveReady(match);
        }
      }
      options.onLine?.(line);
    }, options.interactive ?? false);
    const timeoutMs = options.timeoutMs ?? 60_000;
    let timer: NodeJS.Timeout | undefined;
    const outcome = await Promise.race([
      readyLine.then((match) => ({ match })),
      child.exited.then((code) => ({ code })),
      new Promise<{ timeout: true }>((resolve) => { timer = setTimeout(() => resolve({ timeout: true }), timeoutMs); }),
    ]);
    clearTimeout(timer);
    if ('match' in outcome) return { process: child, ready: outcome.match };
    await child.stop();
    const why = 'code' in outcome ? `exited (${outcome.code})` : `was not ready after ${timeoutMs / 1000} s`;
    throw new ProcessStartError(`${options.name} ${why}; its last lines (full log: ${options.logPath}):\n${child.lastLines()}`);
  }

  lastLines(): string {
    return this.#tail.map((line) => `  ${line}`).join('\n');
  }

  /** SIGTERM (the commands stop cleanly on it), SIGKILL after `graceMs`. */
  async stop(graceMs = 10_000): Promise<number | string> {
    if (this.#child.exitCode === null && this.#child.signalCode === null) {
      this.#child.kill('SIGTERM');
      const timer = setTimeout(() => this.#child.kill('SIGKILL'), graceMs);
      try {
        return await this.exited;
      } finally {
        clearTimeout(timer);
      }
    }
    return this.exited;
  }
}
