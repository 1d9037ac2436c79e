import { mkdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { writeFileAtomic } from '../../files/atomic-write.ts';
import { readOptional } from '../../files/read-optional.ts';
import type { Logger } from '../../logging/logger.ts';
import type { GatewayStatistics } from './gateway.ts';

/** `<state-dir>/ecus/CGW/firewall.json`: the gateway's counters for `canota vehicle status`. */
export function firewallStatisticsPath(stateDir: string, gatewayName = 'CGW'): string {
  return join(stateDir, 'ecus', gatewayName, 'firewall.json');
}

/** The last statistics the gateway wrote, or null when it never ran. */
export async function readFirewallStatistics(path: string): Promise<GatewayStatistics | null> {
  const text = await readOptional(path);
  return text === null ? null : JSON.parse(text) as GatewayStatistics;
}

export const DEFAULT_STATISTICS_INTERVAL_MS = 2000;

/**
 * Writes a component's statistics (the gateway's by default) atomically every few seconds (only when they
 * changed, `updatedAt` aside), and once more on demand (`flush`) and when stopped, so the file is never
 * half-written and never far behind.
 */
export class StatisticsFile<T extends { updatedAt?: string } = GatewayStatistics> {
  readonly path: string;
  readonly #read: () => T;
  readonly #intervalMs: number;
  readonly #logger: Logger | undefined;
  #timer: NodeJS.Timeout | null = null;
  #lastWritten = '';
  #writing: Promise<void> = Promise.resolve();

  constructor(path: string, read: () => T, options: { intervalMs?: number; logger?: Logger } = {}) {
    this.path = path;
    this.#read = read;
    this.#intervalMs = options.intervalMs ?? DEFAULT_STATISTICS_INTERVAL_MS;
    this.#logger = options.logger;
  }

  start(): void {
    if (this.#timer) return;
    this.#timer = setInterval(() => void this.flush(), this.#intervalMs);
    this.#timer.unref();
  }

  /** Writes now if anything changed since the last write; writes never overlap. */
  flush(): Promise<void> {
    this.#writing = this.#writing.then(() => this.#write());
    return this.#writing;
  }

  async stop(): Promise<void> {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = null;
    await this.flush();
  }

  async #write(): Promise<void> {
    const statistics = this.#read();
    const { updatedAt: _updatedAt, ...content } = statistics;
    const key = JSON.stringify(content);
    if (key === this.#lastWritten) return;
    try {
      await mkdir(dirname(this.path), { recursive: true });
      await writeFileAtomic(this.path, `${JSON.stringify(statistics, null, 2)}\n`);
      this.#lastWritten = key;
    } catch (error) {
      this.#logger?.warn({ err: error, path: this.path }, 'statistics not written');
    }
  }
}
