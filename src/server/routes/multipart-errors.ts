import { BadRequestError } from '../errors.ts';

/**
 * The multipart parser (@fastify/busboy) reports a body it cannot read with plain `Error`s that carry
 * neither a status nor a code, so without this they would be answered as 500s. They are the client's
 * fault: a 400 that says what is wrong with the body. Recognised by their messages (the parser offers
 * nothing else), and only these: any other error (a full disk) stays a server error.
 */
const parserFailures: Array<[RegExp, string]> = [
  [/^Multipart: Boundary not found$|^Boundary required$/, 'malformed multipart body: the Content-Type has no boundary (expected multipart/form-data; boundary=…)'],
  [/unexpected end of multipart data/i, 'malformed multipart body: it was cut short before its closing boundary'],
  [/^Unsupported Content-Type\.$|^Missing Content-Type-header\.$/, 'malformed multipart body: expected Content-Type multipart/form-data; boundary=…'],
];

/** The error to answer with: a 400 for a body the parser could not read, else `error` itself. */
export function multipartRefusal(error: unknown): unknown {
  if (!(error instanceof Error) || (error as { statusCode?: unknown }).statusCode !== undefined) return error;
  for (const [pattern, message] of parserFailures) {
    if (pattern.test(error.message)) return Object.assign(new BadRequestError(message), { cause: error });
  }
  return error;
}
