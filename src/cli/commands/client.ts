import { readFile } from 'node:fs/promises';
import { InvalidArgumentError, Option, type Command } from 'commander';
import type { CycleOutcome, DownloadAgent, DownloadAgentOptions, DownloadProgress } from '../../client/index.ts';
import type { TerminalProgress } from '../../client/terminal-progress.ts';
import { createLogger, type Logger } from '../../logging/logger.ts';
import { readOptionsFromEnvironment } from '../env-options.ts';
import { CommandFailedError, UsageError } from '../exit-codes.ts';
import { minorGarbageCollection } from '../minor-gc.ts';
import { abortOnStopSignal } from '../stop-signal.ts';

/** The download agent's options on the command line; `canota vehicle` passes the same ones to its TMU. */
export interface DownloadClientOptions {
  server: string;
  downloadDir: string;
  stateDir: string;
  interval: number;
  maxRetry: number;
  retryBackoff: number;
  timeout: number;
  stallTimeout: number;
  minSpeed: number;
  maxSize?: number;
  token?: string;
  installedVersion?: string;
  allowDowngrade?: boolean;
  caCert?: string;
}

interface ClientOptions extends DownloadClientOptions {
  once?: boolean;
  json?: boolean;
  quiet?: boolean;
}

/** `canota client`: the seed's download_file.py loop (docs/architecture.md, "The download client"). */
export function registerClient(program: Command): void {
  const command = addDownloadClientOptions(program
    .command('client')
    .description('poll the OTA server and download, verify and install each new release'))
    .addOption(envOption('--once', 'check (and download) once, then exit: 0 ok or up to date, 1 failed'))
    .addOption(envOption('--json', 'print one JSON status line per cycle on stdout (logs go to stderr)'))
    .addOption(envOption('--quiet', 'no progress output, only warnings and errors'))
    .action(async (options: ClientOptions) => runClient(options));
  readOptionsFromEnvironment(command);
}

/**
 * Declares the download agent's options (each also read from `CANOTA_<OPTION>`). `--state-dir` and
 * `--download-dir` are left to commands that define their own (pass `{ directories: false }`).
 */
export function addDownloadClientOptions(command: Command, { directories = true } = {}): Command {
  command.addOption(envOption('--server <url>', 'OTA server base URL, e.g. http://127.0.0.1:5000').makeOptionMandatory());
  if (directories) {
    command
      .addOption(envOption('--download-dir <dir>', 'where verified downloads go').default('./downloads'))
      .addOption(envOption('--state-dir <dir>', 'downloaded_sha.txt, progress.txt, the partial download').default('./client-state'));
  }
  return command
    .addOption(envOption('--interval <seconds>', 'seconds between polls (±10% jitter)').argParser(positiveNumber).default(10))
    .addOption(envOption('--max-retry <tries>', 'tries per download before giving up').argParser(positiveInteger).default(3))
    .addOption(envOption('--retry-backoff <seconds>', 'pause after the first failed try; doubles each try, with jitter')
      .argParser(nonNegativeNumber).default(1))
    .addOption(envOption('--timeout <seconds>', 'connect and response timeout').argParser(positiveNumber).default(30))
    .addOption(envOption('--stall-timeout <seconds>', 'a download slower than --min-speed for this long is retried')
      .argParser(positiveNumber).default(30))
    .addOption(envOption('--min-speed <bytes-per-second>', 'slowest acceptable download speed (0: no stall check)')
      .argParser(nonNegativeNumber).default(1024))
    .addOption(envOption('--max-size <bytes>', 'largest file accepted when the server announces no size (default 4 GiB)')
      .argParser(positiveInteger))
    .addOption(envOption('--token <token>', 'vehicle token, sent as Authorization: Bearer …'))
    .addOption(envOption('--installed-version <version>', 'installed firmware version (default: the last download\'s)'))
    .addOption(envOption('--allow-downgrade', 'download a release older than the installed version'))
    .addOption(envOption('--ca-cert <file>', 'extra CA certificate (PEM) for an https server'));
}

/** Turns parsed `DownloadClientOptions` into the library's options (bad values: `UsageError`, exit 2). */
export async function downloadAgentOptions(options: DownloadClientOptions, logger: Logger): Promise<DownloadAgentOptions> {
  const ca = options.caCert === undefined ? undefined : await readFile(options.caCert).catch((error: Error) => {
    throw new UsageError(`cannot read --ca-cert: ${error.message}`);
  });
  return {
    server: checkServerUrl(options.server),
    downloadDir: options.downloadDir,
    stateDir: options.stateDir,
    token: options.token || undefined,
    maxRetry: options.maxRetry,
    intervalSeconds: options.interval,
    retryBackoffSeconds: options.retryBackoff,
    timeoutSeconds: options.timeout,
    stallTimeoutSeconds: options.stallTimeout,
    minSpeed: options.minSpeed,
    maxSize: options.maxSize,
    allowDowngrade: options.allowDowngrade ?? false,
    installedVersion: options.installedVersion === undefined ? undefined : () => options.installedVersion,
    ...(ca ? { ca } : {}),
    logger,
  };
}

async function runClient(options: ClientOptions): Promise<void> {
  const server = checkServerUrl(options.server);
  // Loaded here, not at start-up: other commands do not pay for the client (and the reverse).
  const [{ DownloadAgent }, { TerminalProgress }, { describeRelease }] = await Promise.all([
    import('../../client/index.ts'), import('../../client/terminal-progress.ts'), import('../../ota-http/release.ts'),
  ]);
  const terminal = !options.json && !options.quiet && process.stdout.isTTY ? new TerminalProgress(process.stdout) : undefined;
  const logger = createLogger({
    name: 'client',
    ...(options.quiet ? { level: 'warn' as const } : {}),
    destination: options.json ? process.stderr : terminal?.logStream() ?? process.stdout,
  });
  const agent = new DownloadAgent({ ...await downloadAgentOptions(options, logger), reclaimMemory: minorGarbageCollection() });

  if (!options.quiet) showProgress(agent, logger, terminal);
  agent.on('outcome', (outcome) => {
    terminal?.clear();
    if (options.json) process.stdout.write(`${JSON.stringify(statusLine(outcome, describeRelease))}\n`);
  });

  const stop = abortOnStopSignal((signal) => logger.info({ signal }, 'stopping'));
  logger.info({ server: server.href, downloadDir: options.downloadDir, stateDir: options.stateDir, once: Boolean(options.once) },
    'download client started');
  try {
    if (options.once) {
      const outcome = await agent.checkOnce(stop.signal);
      if (outcome.status === 'failed') throw new CommandFailedError(`download failed (${outcome.reason}): ${outcome.message}`);
      if (outcome.status === 'stopped') throw new CommandFailedError('stopped before the cycle completed');
    } else {
      await agent.run(stop.signal);
    }
  } finally {
    stop.release();
    await agent.close();
  }
}

/** A bar on a terminal; otherwise a log line at every 10 % (or every 5 s when the size is unknown). */
function showProgress(agent: DownloadAgent, logger: Logger, terminal: TerminalProgress | undefined): void {
  let lastStep = -1;
  let lastAt = 0;
  agent.on('release', () => {
    lastStep = -1;
    lastAt = 0;
  });
  agent.on('progress', (progress: DownloadProgress) => {
    if (terminal) {
      terminal.update(progress);
      return;
    }
    const step = progress.percent === undefined ? -1 : Math.floor(progress.percent / 10);
    const now = performance.now();
    if (progress.percent === undefined ? now - lastAt < 5000 : step === lastStep) return;
    lastStep = step;
    lastAt = now;
    logger.info({
      percent: progress.percent,
      receivedBytes: progress.receivedBytes,
      totalBytes: progress.totalBytes,
      bytesPerSecond: Math.round(progress.bytesPerSecond),
      etaSeconds: progress.etaSeconds === undefined ? undefined : Math.round(progress.etaSeconds),
    }, 'downloading');
  });
}

/** The `--json` line: the outcome with plain values only. */
function statusLine(outcome: CycleOutcome, describe: (release: NonNullable<CycleOutcome['release']>) => object): Record<string, unknown> {
  const release = outcome.release ? describe(outcome.release) : null;
  switch (outcome.status) {
    case 'up-to-date':
      return { status: outcome.status, release };
    case 'downloaded':
      return { status: outcome.status, release, path: outcome.path, size: outcome.size, attempts: outcome.attempts,
        resumedFrom: outcome.resumedFrom };
    case 'refused-downgrade':
      return { status: outcome.status, release, installedVersion: outcome.installedVersion };
    case 'failed':
      return { status: outcome.status, reason: outcome.reason, message: outcome.message, attempts: outcome.attempts, release };
    case 'stopped':
      return { status: outcome.status, release };
  }
}

/**
 * An option that also reads `CANOTA_<OPTION>`. The environment variable is set before commander adds
 * the option: commander wires the `env` source only for options that already have one when added.
 */
function envOption(flags: string, description: string): Option {
  const option = new Option(flags, description);
  return option.env(`CANOTA_${option.attributeName().replace(/[A-Z]/g, (c) => `_${c}`).toUpperCase()}`);
}

function checkServerUrl(value: string): URL {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new UsageError(`--server is not a URL: ${value}`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new UsageError(`--server must be http or https: ${value}`);
  return url;
}

function positiveNumber(value: string): number {
  const number = Number(value);
  if (value.trim() === '' || !Number.isFinite(number) || number <= 0) throw new InvalidArgumentError('expected a number > 0');
  return number;
}

function nonNegativeNumber(value: string): number {
  const number = Number(value);
  if (value.trim() === '' || !Number.isFinite(number) || number < 0) throw new InvalidArgumentError('expected a number >= 0');
  return number;
}

function positiveInteger(value: string): number {
  const number = Number(value);
  if (!/^\d+$/.test(value.trim()) || !Number.isSafeInteger(number) || number < 1) {
    throw new InvalidArgumentError('expected a whole number >= 1');
  }
  return number;
}
