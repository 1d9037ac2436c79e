import type { Logger } from '../../logging/logger.ts';
import { errorMessage } from '../../errors/error-message.ts';
import type { DeploymentProgress } from './server-api.ts';
import type { TmuServer } from './tmu-parts.ts';

/** A campaign the server named after its deployment ("12"); the TMU's own campaign ids are `c-<hash>`. */
export function isDeploymentCampaign(id: string): boolean {
  return /^[1-9][0-9]{0,15}$/.test(id);
}

/**
 * Tells the server where the vehicle is in a deployment, as it goes (offered, downloading, installing,
 * refused), so the operator's dashboard is live. Best effort and never in the update's way: sent in the
 * background, at most once a second per state (a new state or ECU goes at once, a percentage only in 10 %
 * steps), a failure only logged. Campaigns that are not a deployment's are not reported here.
 */
export class DeploymentProgressReporter {
  #last = new Map<string, { key: string; at: number }>();
  #sending: Promise<void> = Promise.resolve();

  constructor(
    private readonly server: TmuServer,
    private readonly vin: string,
    private readonly options: { logger?: Logger | undefined; now?: () => number; minIntervalMs?: number } = {},
  ) {}

  report(progress: DeploymentProgress): void {
    const send = this.server.postDeploymentProgress;
    if (!send || !isDeploymentCampaign(progress.campaign_id)) return;
    const now = (this.options.now ?? Date.now)();
    const key = `${progress.state}:${progress.ecu ?? ''}:${Math.floor((progress.percent ?? 0) / 10)}`;
    const last = this.#last.get(progress.campaign_id);
    const sameState = last?.key.split(':').slice(0, 2).join(':') === key.split(':').slice(0, 2).join(':');
    if (last && (last.key === key || (sameState && now - last.at < (this.options.minIntervalMs ?? 1000)))) return;
    this.#last.set(progress.campaign_id, { key, at: now });
    // One at a time, in order: the server must not see "installing" before "downloading".
    this.#sending = this.#sending.then(() => send.call(this.server, this.vin, progress, AbortSignal.timeout(10_000))).catch((error: unknown) => {
      this.options.logger?.debug({ err: error, campaign: progress.campaign_id, state: progress.state }, `could not tell the server: ${errorMessage(error)}`);
    });
  }

  /** Resolves when what was reported so far has been sent (or has failed). */
  settled(): Promise<void> {
    return this.#sending;
  }
}
