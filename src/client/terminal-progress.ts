import { Writable } from 'node:stream';
import type { DownloadProgress } from './progress.ts';
import { formatByteSize } from '../units/byte-size.ts';

/**
 * The progress bar shown when stdout is a terminal: one line redrawn in place, with size, speed and
 * ETA. Log lines go through `logStream()`, which lifts the bar out of the way and puts it back, so the
 * two never garble each other.
 */
export class TerminalProgress {
  #line = '';
  #drawnAt = 0;

  constructor(private readonly terminal: NodeJS.WriteStream) {}

  update(progress: DownloadProgress): void {
    const now = performance.now();
    const finished = progress.totalBytes !== undefined && progress.receivedBytes >= progress.totalBytes;
    if (!finished && now - this.#drawnAt < 100) return;
    this.#drawnAt = now;
    // A pseudo-terminal without a size reports 0 columns.
    this.#line = formatProgressLine(progress, this.terminal.columns || 80);
    this.terminal.write(`\r\x1b[2K${this.#line}`);
  }

  /** Removes the bar (end of a download). */
  clear(): void {
    if (!this.#line) return;
    this.terminal.write('\r\x1b[2K');
    this.#line = '';
  }

  /** A stream for the logger: each line is written above the bar. */
  logStream(): Writable {
    return new Writable({
      write: (chunk: Buffer, _encoding, callback) => {
        if (this.#line) this.terminal.write('\r\x1b[2K');
        this.terminal.write(chunk);
        if (this.#line) this.terminal.write(this.#line);
        callback();
      },
    });
  }
}

/** `fw.bin [######------]  45%  12.3/27.3 MiB  5.2 MiB/s  ETA 0:03`, fitted to `columns`. */
export function formatProgressLine(progress: DownloadProgress, columns: number): string {
  const size = progress.totalBytes === undefined
    ? formatByteSize(progress.receivedBytes)
    : `${formatByteSize(progress.receivedBytes)}/${formatByteSize(progress.totalBytes)}`;
  const percent = progress.percent === undefined ? '' : `${String(progress.percent).padStart(3)}%`;
  const eta = progress.etaSeconds === undefined ? '' : `ETA ${formatDuration(progress.etaSeconds)}`;
  const tail = [percent, size, `${formatByteSize(progress.bytesPerSecond)}/s`, eta].filter(Boolean).join('  ');
  const name = progress.release.filename.length > 24 ? `${progress.release.filename.slice(0, 23)}…` : progress.release.filename;
  const barWidth = Math.max(0, Math.min(40, columns - name.length - tail.length - 6));
  if (barWidth < 5 || progress.percent === undefined) return `${name}  ${tail}`.slice(0, Math.max(1, columns - 1));
  const filled = Math.round((progress.percent / 100) * barWidth);
  return `${name} [${'#'.repeat(filled)}${'-'.repeat(barWidth - filled)}] ${tail}`;
}

export { formatByteSize as formatBytes };

export function formatDuration(seconds: number): string {
  const total = Math.max(0, Math.round(seconds));
  const hours = Math.floor(total / 3600);
  const minutes = Math.floor((total % 3600) / 60);
  const rest = String(total % 60).padStart(2, '0');
  return hours > 0 ? `${hours}:${String(minutes).padStart(2, '0')}:${rest}` : `${minutes}:${rest}`;
}
