import type { Kysely, Selectable } from 'kysely';
import type { ApiTokensTable, Schema } from './schema.ts';
import { AlreadyExistsError } from './errors.ts';
import { isUniqueViolation } from './unique-violation.ts';

export type ApiTokenRecord = Selectable<ApiTokensTable>;

/** The management API's tokens (a hash of each, never the token). Revoked tokens stay, for the record. */
export class ApiTokenStore {
  constructor(private readonly db: Kysely<Schema>) {}

  async add(token: { name: string; tokenHash: string; scopes: readonly string[]; by: string; now: number; expiresAt: number | null }): Promise<ApiTokenRecord> {
    try {
      return await this.db.insertInto('api_tokens').values({
        name: token.name, token_hash: token.tokenHash, scopes: token.scopes.join(' '), created_by: token.by,
        created_at: token.now, expires_at: token.expiresAt,
      }).returningAll().executeTakeFirstOrThrow();
    } catch (error) {
      if (isUniqueViolation(error)) throw new AlreadyExistsError(`an API token named "${token.name}" already exists (revoked ones keep their name)`);
      throw error;
    }
  }

  async findByHash(tokenHash: string): Promise<ApiTokenRecord | undefined> {
    return this.db.selectFrom('api_tokens').selectAll().where('token_hash', '=', tokenHash).executeTakeFirst();
  }

  async findByName(name: string): Promise<ApiTokenRecord | undefined> {
    return this.db.selectFrom('api_tokens').selectAll().where('name', '=', name).executeTakeFirst();
  }

  async list(): Promise<ApiTokenRecord[]> {
    return this.db.selectFrom('api_tokens').selectAll().orderBy('id').execute();
  }

  /** Revokes a token not revoked yet; undefined when there is no such token or it was already revoked. */
  async revoke(name: string, by: string, now: number): Promise<ApiTokenRecord | undefined> {
    return this.db.updateTable('api_tokens').set({ revoked_at: now, revoked_by: by })
      .where('name', '=', name).where('revoked_at', 'is', null).returningAll().executeTakeFirst();
  }

  async markUsed(id: number, now: number, ip: string): Promise<void> {
    await this.db.updateTable('api_tokens').set({ last_used_at: now, last_used_ip: ip }).where('id', '=', id).execute();
  }
}
