import { randomBytes } from 'node:crypto';
import { mkdir, readFile, readdir, rename, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { errorCode, errorMessage } from '../../errors/error-message.ts';
import { writeFileAtomic } from '../../files/atomic-write.ts';
import type { Logger } from '../../logging/logger.ts';
import { ServerApiError } from './errors.ts';
import type { VehicleReport } from './server-api.ts';

/** Who takes the reports: the server's reports route (ServerApi), or a test's. */
export interface ReportReceiver {
  /** Resolves with the server's id for the stored report; ServerApiError when it was not stored. */
  postReport(vin: string, report: VehicleReport, signal?: AbortSignal): Promise<string>;
}

export interface OutboxFlush {
  sent: number;
  pending: number;
}

/**
 * Reports waiting for the server, one file each in `<state-dir>/tmu/reports/` (written atomically before
 * the first try), sent oldest first and deleted only once the server stored them (201). A server that is
 * down, or that has no reports route yet, just leaves them for the next poll: a report is never lost. One
 * the server refuses as malformed (400) is moved to `reports/rejected/` so it cannot block the others.
 */
export class ReportOutbox {
  readonly directory: string;
  readonly #logger: Logger | undefined;
  #lastProblem: string | undefined;

  constructor(directory: string, logger?: Logger) {
    this.directory = directory;
    this.#logger = logger;
  }

  async add(report: VehicleReport): Promise<string> {
    await mkdir(this.directory, { recursive: true });
    // Names sort by time, so the server receives reports in the order they happened.
    const name = `${Date.now().toString().padStart(15, '0')}-${randomBytes(4).toString('hex')}.json`;
    await writeFileAtomic(join(this.directory, name), `${JSON.stringify(report, null, 2)}\n`);
    return name;
  }

  async pending(): Promise<string[]> {
    try {
      return (await readdir(this.directory)).filter((name) => /^\d{15}-[0-9a-f]{8}\.json$/.test(name)).sort();
    } catch (error) {
      if (errorCode(error) === 'ENOENT') return [];
      throw error;
    }
  }

  /** Sends what is waiting, oldest first; stops at the first report the server could not take now. */
  async flush(api: ReportReceiver, vin: string, signal?: AbortSignal): Promise<OutboxFlush> {
    const names = await this.pending();
    let sent = 0;
    for (const [index, name] of names.entries()) {
      if (signal?.aborted) break;
      const path = join(this.directory, name);
      let report: VehicleReport;
      try {
        report = JSON.parse(await readFile(path, 'utf8')) as VehicleReport;
      } catch (error) {
        await this.#reject(name, `unreadable: ${errorMessage(error)}`);
        continue;
      }
      try {
        const id = await api.postReport(vin, report, signal);
        await unlink(path);
        sent += 1;
        this.#lastProblem = undefined;
        this.#logger?.info({ report: name, id, outcome: report.outcome, campaign: report.campaign_id }, 'report sent to the server');
      } catch (error) {
        if (!(error instanceof ServerApiError)) throw error;
        if (!error.retryable) {
          await this.#reject(name, error.message);
          continue;
        }
        const pending = names.length - index;
        // Logged once per kind of problem, not at every poll while the server stays down.
        const problem = `${error.failure}:${error.status ?? ''}`;
        const level = problem === this.#lastProblem ? 'debug' : 'warn';
        this.#lastProblem = problem;
        this.#logger?.[level]({ pending, failure: error.failure, status: error.status },
          `report kept for later (${pending} waiting): ${error.message}`);
        return { sent, pending };
      }
    }
    return { sent, pending: (await this.pending()).length };
  }

  async #reject(name: string, reason: string): Promise<void> {
    const rejected = join(this.directory, 'rejected');
    await mkdir(rejected, { recursive: true });
    await rename(join(this.directory, name), join(rejected, name));
    this.#logger?.error({ report: name, reason }, `the server refused a report; kept in ${rejected}`);
  }
}
