/**
 * What an API token may do, one scope per resource and access. `:write` includes `:read` of the same
 * resource (a pipeline that publishes also lists what it published). Deployments include software sets.
 */
export const apiScopes = [
  'releases:read', 'releases:write', 'vehicles:read', 'vehicles:write', 'deployments:read', 'deployments:write', 'audit:read',
] as const;
export type ApiScope = (typeof apiScopes)[number];

export class ScopeError extends Error {}

/** "releases:write,vehicles:read" (commas and/or spaces) → the scopes, each once; throws ScopeError. */
export function parseScopes(text: string | readonly string[]): ApiScope[] {
  const words = (typeof text === 'string' ? [text] : text).flatMap((part) => part.split(/[\s,]+/)).filter((word) => word !== '');
  if (words.length === 0) throw new ScopeError(`give at least one scope (${apiScopes.join(', ')})`);
  const scopes = new Set<ApiScope>();
  for (const word of words) {
    if (!(apiScopes as readonly string[]).includes(word)) {
      throw new ScopeError(`unknown scope "${word.slice(0, 64)}" (known: ${apiScopes.join(', ')})`);
    }
    scopes.add(word as ApiScope);
  }
  return apiScopes.filter((scope) => scopes.has(scope));
}

/** Whether `held` (as stored: space-separated) allows `needed`. */
export function allows(held: readonly string[], needed: ApiScope): boolean {
  if (held.includes(needed)) return true;
  return needed.endsWith(':read') && held.includes(needed.replace(/:read$/, ':write'));
}
