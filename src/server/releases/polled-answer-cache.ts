/**
 * A value computed from the database that every vehicle polls (`/latest_version`, the newest release per
 * ECU): kept for `maxAgeMs`, loaded by one query however many pollers arrive when it expires, and dropped
 * by `invalidate()` (a local upload). An upload through another server sharing the database shows up
 * within `maxAgeMs`.
 */
export class PolledAnswerCache<T> {
  #cached: { value: T; at: number } | undefined;
  #loading: Promise<T> | undefined;
  /** Bumped by every invalidation, so a query that started before an upload cannot cache the old answer. */
  #generation = 0;

  constructor(
    private readonly load: () => Promise<T>,
    private readonly maxAgeMs: number,
    private readonly clock: () => number = Date.now,
  ) {}

  async get(): Promise<T> {
    const cached = this.#cached;
    if (cached && this.clock() - cached.at < this.maxAgeMs) return cached.value;
    // Concurrent pollers share one query instead of stampeding the database when the cache expires.
    if (!this.#loading) {
      const loading = this.#load().finally(() => { if (this.#loading === loading) this.#loading = undefined; });
      this.#loading = loading;
    }
    return this.#loading;
  }

  invalidate(): void {
    this.#generation++;
    this.#cached = undefined;
    this.#loading = undefined;
  }

  async #load(): Promise<T> {
    const at = this.clock();
    const generation = this.#generation;
    const value = await this.load();
    if (generation === this.#generation) this.#cached = { value, at };
    return value;
  }
}
