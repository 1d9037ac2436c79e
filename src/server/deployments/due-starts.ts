import type { DeploymentService } from './deployment-service.ts';

/**
 * Starts scheduled deployments whose time has come, at most once a second however often it is asked: the
 * vehicles' polls and the operators' reads ask, so a deployment starts within a second of its time while
 * anyone is looking, with no timer to run (or to keep in step across servers: starting is idempotent).
 */
export class DueStarts {
  #last = -Infinity;
  #running: Promise<void> | null = null;

  constructor(private readonly service: DeploymentService, private readonly clock: () => number, private readonly everyMs = 1000) {}

  async check(): Promise<void> {
    if (this.#running) return this.#running;
    const now = this.clock();
    if (now - this.#last < this.everyMs) return;
    this.#last = now;
    this.#running = this.service.startDue().finally(() => { this.#running = null; });
    return this.#running;
  }
}
