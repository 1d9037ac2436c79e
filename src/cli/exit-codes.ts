/** Exit codes shared by every `canota` command (docs/architecture.md, "Command line": 0 ok, 1 failed, 2 usage error). */
export const exitCodes = {
  ok: 0,
  failure: 1,
  usage: 2,
} as const;

/** A command that ran and could not do its job (a failed download, a child that died). Ends the process with exit code 1. */
export class CommandFailedError extends Error {
  override name = 'CommandFailedError';
}

/** Thrown for a bad command line: bad option values, missing arguments. Ends the process with exit code 2. */
export class UsageError extends Error {
  override name = 'UsageError';
}
