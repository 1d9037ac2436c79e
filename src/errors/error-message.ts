/**
 * What went wrong, as one line for a person, from anything a `catch` can receive. JavaScript lets any value
 * be thrown (a string, undefined, an object without `message`), so `(error as Error).message` can print
 * "undefined"; this never does.
 */
export function errorMessage(error: unknown): string {
  if (error instanceof Error) return error.message || error.name;
  if (typeof error === 'string') return error;
  if (error !== null && typeof error === 'object' && 'message' in error && typeof error.message === 'string') {
    return error.message;
  }
  try {
    return String(error);
  } catch {
    return Object.prototype.toString.call(error);
  }
}

/** The `code` of a Node.js system error (`ENOENT`, `EEXIST`, …), or undefined for any other value. */
export function errorCode(error: unknown): string | undefined {
  if (error === null || typeof error !== 'object' || !('code' in error)) return undefined;
  return typeof error.code === 'string' ? error.code : undefined;
}
