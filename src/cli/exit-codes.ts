/** Exit codes shared by every `canota` command (DESIGN.md: 0 ok, 1 failed, 2 usage error). */
export const exitCodes = {
  ok: 0,
  failure: 1,
  usage: 2,
} as const;

/** Thrown for a bad command line: bad option values, missing arguments. Ends the process with exit code 2. */
export class UsageError extends Error {
  override name = 'UsageError';
}
