import { createInterface, type Interface } from 'node:readline';
import type { Logger } from '../../../logging/logger.ts';
import type { UpdateProgress, UpdateResult } from '../approval-protocol.ts';
import { MAX_POSTPONE_SECONDS, type DriverDecision, type DriverHmi, type PresentedOffer } from './driver-hmi.ts';
import { offerLines, progressLine, resultLines } from './offer-text.ts';

export interface TerminalPromptOptions {
  /** Default: stdin. A pipe works too (scripts, tests); when it ends, open questions are declined. */
  input?: NodeJS.ReadableStream;
  /** Default: stderr, so stdout stays JSON log lines. */
  output?: NodeJS.WritableStream;
  /** "later" without a number postpones this long. Default 60 minutes. */
  defaultPostponeMinutes?: number;
  logger?: Logger;
}

const QUESTION = 'Install now? [y]es / [n]o / [l]ater [minutes] > ';

/** One answer line → a decision, or null when it is not an answer. */
export function parseAnswer(line: string, defaultPostponeMinutes = 60): DriverDecision | null {
  const answer = line.trim().toLowerCase();
  if (/^(y|yes|a|approve|install)$/.test(answer)) return { decision: 'approve' };
  if (/^(n|no|d|decline)$/.test(answer)) return { decision: 'decline', reason: 'declined at the terminal' };
  const later = /^(l|later|p|postpone)(?:\s+(\d{1,6}))?$/.exec(answer);
  if (later) {
    const minutes = later[2] === undefined ? defaultPostponeMinutes : Number(later[2]);
    if (minutes < 1) return null;
    return { decision: 'postpone', seconds: Math.min(MAX_POSTPONE_SECONDS, minutes * 60) };
  }
  return null;
}

/**
 * `--approve prompt`: the offer and the question on the terminal, answered by a line. Lines typed while
 * no question is open are ignored, so a stray keystroke can never approve a later offer. When the input
 * ends (a closed pipe, Ctrl-D) nobody can answer: open and later questions are declined.
 */
export class TerminalPromptHmi implements DriverHmi {
  readonly kind = 'prompt' as const;
  readonly #output: NodeJS.WritableStream;
  readonly #readline: Interface;
  readonly #defaultPostponeMinutes: number;
  readonly #logger: Logger | undefined;
  #question: ((line: string) => void) | null = null;
  #ended = false;
  readonly #endListeners = new Set<() => void>();
  #lastProgress = new Map<string, string>();

  constructor(options: TerminalPromptOptions = {}) {
    const input = options.input ?? process.stdin;
    this.#output = options.output ?? process.stderr;
    this.#defaultPostponeMinutes = options.defaultPostponeMinutes ?? 60;
    this.#logger = options.logger;
    const terminal = Boolean((input as { isTTY?: boolean }).isTTY);
    this.#readline = createInterface({ input, output: this.#output, terminal });
    this.#readline.on('line', (line) => this.#question?.(line));
    this.#readline.on('close', () => {
      this.#ended = true;
      for (const listener of this.#endListeners) listener();
    });
    // On a terminal readline takes Ctrl-C for itself; pass it on so the vehicle process still shuts down.
    this.#readline.on('SIGINT', () => process.kill(process.pid, 'SIGINT'));
  }

  present(offer: PresentedOffer, signal: AbortSignal): Promise<DriverDecision> {
    const noAnswer = { decision: 'decline', reason: 'no answer: the terminal input ended' } as const;
    if (this.#ended) {
      this.#write(['', ...offerLines(offer), 'Declined: nobody can answer (the terminal input ended).']);
      return Promise.resolve(noAnswer);
    }
    return new Promise((resolve) => {
      const finish = (decision: DriverDecision | null, message: string) => {
        this.#question = null;
        this.#endListeners.delete(onEnd);
        signal.removeEventListener('abort', onAbort);
        this.#write([message]);
        if (decision) resolve(decision);
      };
      const onEnd = () => finish(noAnswer, '\nDeclined: nobody can answer (the terminal input ended).');
      const onAbort = () => finish(null, '\nThe offer was withdrawn.');
      this.#question = (line) => {
        const decision = parseAnswer(line, this.#defaultPostponeMinutes);
        if (!decision) {
          this.#output.write(`Please answer y, n or l [minutes]. ${QUESTION}`);
          return;
        }
        this.#logger?.info({ campaign: offer.campaignId, decision: decision.decision }, 'cgw driver answered at the terminal');
        finish(decision, describe(decision));
      };
      this.#endListeners.add(onEnd);
      signal.addEventListener('abort', onAbort, { once: true });
      this.#write(['', ...offerLines(offer)]);
      this.#output.write(QUESTION);
    });
  }

  resumed(offer: PresentedOffer, approvedAt: string): void {
    this.#write(['', `The update you approved at ${approvedAt} was interrupted; it continues now (campaign ${offer.campaignId}).`]);
  }

  progress(progress: UpdateProgress): void {
    // One line per phase and 10 % step, not one per block.
    const step = `${progress.phase} ${Math.floor(progress.percent / 10)}`;
    if (this.#lastProgress.get(progress.ecu) === step) return;
    this.#lastProgress.set(progress.ecu, step);
    this.#write([progressLine(progress)]);
  }

  result(result: UpdateResult): void {
    this.#lastProgress = new Map();
    this.#write(resultLines(result));
  }

  async close(): Promise<void> {
    this.#readline.close();
  }

  #write(lines: string[]): void {
    this.#output.write(`${lines.join('\n')}\n`);
  }
}

function describe(decision: DriverDecision): string {
  switch (decision.decision) {
    case 'approve': return 'Approved: installing.';
    case 'decline': return 'Declined.';
    case 'postpone': return `Postponed by ${Math.round(decision.seconds / 60)} min.`;
  }
}
