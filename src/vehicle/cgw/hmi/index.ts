import type { Logger } from '../../../logging/logger.ts';
import { HmiError } from '../errors.ts';
import type { DriverHmi, HmiKind } from './driver-hmi.ts';
import { PolicyHmi } from './policy.ts';
import { TerminalPromptHmi } from './terminal-prompt.ts';
import { WebHmi } from './web/web-hmi.ts';

export type { DriverDecision, DriverHmi, HmiKind, PresentedEcu, PresentedOffer } from './driver-hmi.ts';
export { PolicyHmi } from './policy.ts';
export { TerminalPromptHmi, parseAnswer } from './terminal-prompt.ts';
export { WebHmi } from './web/web-hmi.ts';

export const HMI_KINDS: readonly HmiKind[] = ['hmi', 'prompt', 'auto', 'decline'];

export interface DriverHmiOptions {
  /** `hmi`: the web page's port (`--hmi-port`, default 0 = any free port) and host (default 127.0.0.1). */
  port?: number;
  host?: string;
  /** `prompt`: terminal streams (default stdin / stderr). */
  input?: NodeJS.ReadableStream;
  output?: NodeJS.WritableStream;
  logger?: Logger;
}

/** The HMI `--approve hmi|prompt|auto|decline` asks for, started (the web page listens; see `WebHmi.url`). */
export async function createDriverHmi(kind: string, options: DriverHmiOptions = {}): Promise<DriverHmi> {
  const { logger } = options;
  switch (kind) {
    case 'hmi':
      return WebHmi.start({
        ...(options.port !== undefined ? { port: options.port } : {}), ...(options.host ? { host: options.host } : {}), ...(logger ? { logger } : {}),
      });
    case 'prompt':
      return new TerminalPromptHmi({
        ...(options.input ? { input: options.input } : {}), ...(options.output ? { output: options.output } : {}), ...(logger ? { logger } : {}),
      });
    case 'auto':
    case 'decline':
      return new PolicyHmi(kind, { ...(logger ? { logger } : {}), ...(options.output ? { warn: options.output } : {}) });
    default:
      throw new HmiError(`unknown approval mode "${kind}" (known: ${HMI_KINDS.join(', ')})`);
  }
}
