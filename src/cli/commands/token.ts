import { randomBytes } from 'node:crypto';
import type { Command } from 'commander';
import { UsageError } from '../exit-codes.ts';
import { AlreadyExistsError } from '../../server/storage/errors.ts';
import { ApiTokenInputError, createApiToken, defaultExpiryDays, parseExpiry, revokeApiToken, tokenView } from '../../server/tokens/api-tokens.ts';
import { apiScopes } from '../../server/tokens/scopes.ts';
import { addDataOptions, withServerData } from './server.ts';

interface DataOptions {
  dataDir: string;
  databaseUrl?: string;
}

/** A name for a token made without one: when it was made, and a few random characters against collisions. */
function defaultName(now: number): string {
  return `token-${new Date(now).toISOString().slice(0, 10).replaceAll('-', '')}-${randomBytes(3).toString('hex')}`;
}

export function registerTokenCommand(program: Command): void {
  const token = program.command('token').description('manage the management API\'s tokens (a CI pipeline publishing without a browser)');

  addDataOptions(token.command('create').description('make a token and print it once (only its hash is kept)')
    .argument('[name]', 'a unique name, shown in the audit log as token:<name> (default: token-<date>-<random>)')
    .requiredOption('--scope <scopes>', `comma-separated: ${apiScopes.join(', ')} (:write includes :read)`)
    .option('--expires-in <days>', `days until it stops working (e.g. 30d), or "never"`, `${defaultExpiryDays}d`)
    .option('--json', 'print {name, token, scopes, expires_at} as JSON'))
    .action(async (name: string | undefined, options: DataOptions & { scope: string; expiresIn: string; json?: boolean }) => {
      const now = Date.now();
      const made = await withServerData(options, async ({ storage, audit }) => {
        try {
          return await createApiToken(storage, audit, {
            name: name ?? defaultName(now), scopes: options.scope, expiresInDays: parseExpiry(options.expiresIn), by: 'cli', now,
          });
        } catch (error) {
          if (error instanceof ApiTokenInputError || error instanceof AlreadyExistsError) throw new UsageError(error.message);
          throw error;
        }
      });
      const view = tokenView(made.record, now);
      if (options.json) {
        console.log(JSON.stringify({ name: view.name, token: made.token, scopes: view.scopes, expires_at: view.expires_at }));
        return;
      }
      console.log(`API token "${view.name}" (${view.scopes.join(', ')}; ${view.expires_at ? `expires ${view.expires_at}` : 'never expires'}), shown only this once:`);
      console.log(made.token);
    });

  addDataOptions(token.command('list').description('list tokens: name, state, scopes, expiry, last use (never the tokens)')
    .option('--json', 'print a JSON array'))
    .action(async (options: DataOptions & { json?: boolean }) => {
      const now = Date.now();
      const views = (await withServerData(options, ({ storage }) => storage.apiTokens.list())).map((record) => tokenView(record, now));
      if (options.json) {
        console.log(JSON.stringify(views));
        return;
      }
      for (const view of views) {
        console.log([view.name, view.state, view.scopes.join(','), view.expires_at ?? 'never', view.last_used_at ?? 'unused'].join('\t'));
      }
    });

  addDataOptions(token.command('revoke').description('revoke a token: it stops working at once')
    .argument('<name>', 'the token\'s name'))
    .action(async (name: string, options: DataOptions) => {
      const outcome = await withServerData(options, async ({ storage, audit }) => {
        if (await revokeApiToken(storage, audit, { name, by: 'cli', now: Date.now() })) return 'revoked';
        return (await storage.apiTokens.findByName(name)) ? 'already revoked' : 'unknown';
      });
      if (outcome === 'unknown') throw new UsageError(`no API token named "${name}"`);
      console.log(`${outcome} ${name}`);
    });
}
