import { readFile } from 'node:fs/promises';
import type { ZodType } from 'zod';
import { errorCode } from '../errors/error-message.ts';

/** A text file's content, or null when it does not exist (any other failure is thrown). */
export async function readOptional(path: string): Promise<string | null> {
  try {
    return await readFile(path, 'utf8');
  } catch (error) {
    if (errorCode(error) === 'ENOENT') return null;
    throw error;
  }
}

/**
 * A JSON file's value when it exists and `schema` accepts it; undefined when it is missing, not JSON, or
 * not of that shape (a state file from another version, or damaged by hand: the caller starts afresh).
 */
export async function readValidJson<T>(path: string, schema: ZodType<T>): Promise<T | undefined> {
  const text = await readOptional(path);
  if (text === null) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  const parsed = schema.safeParse(value);
  return parsed.success ? parsed.data : undefined;
}
