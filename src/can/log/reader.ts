import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import type { CanFrame } from '../bus/frame.ts';
import { parseCandumpLine } from './candump.ts';

/**
 * Frames of a candump log, in file order, each with its timestamp and channel. Blank lines are skipped;
 * any other line that is not candump ends the iteration with a CandumpFormatError naming its line number.
 * Streams the file: a log of any size costs one line of memory.
 */
export async function* readCandump(source: string | Readable): AsyncGenerator<CanFrame> {
  const input = typeof source === 'string' ? createReadStream(source, { encoding: 'utf8' }) : source;
  const lines = createInterface({ input, crlfDelay: Infinity });
  let lineNumber = 0;
  try {
    for await (const line of lines) {
      lineNumber += 1;
      if (line.trim() === '') continue;
      yield parseCandumpLine(line, lineNumber);
    }
  } finally {
    lines.close();
    if (typeof source === 'string') input.destroy();
  }
}

/** All frames of a candump text held in memory (tests, small logs). */
export function parseCandump(text: string): CanFrame[] {
  const frames: CanFrame[] = [];
  text.split(/\r?\n/).forEach((line, index) => {
    if (line.trim() !== '') frames.push(parseCandumpLine(line, index + 1));
  });
  return frames;
}
