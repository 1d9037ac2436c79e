import type { Kysely } from 'kysely';
import type { Schema } from './schema.ts';

export type NonceUse =
  | { outcome: 'ok'; issuedTo: string | null }
  | { outcome: 'unknown' | 'used' | 'expired' | 'foreign' };

export class NonceStore {
  constructor(private readonly db: Kysely<Schema>) {}

  async issue(nonce: { hash: string; issuedAt: number; expiresAt: number; ip: string; issuedTo: string | null }): Promise<void> {
    await this.db.insertInto('nonces').values({
      nonce_hash: nonce.hash, issued_at: nonce.issuedAt, expires_at: nonce.expiresAt,
      issued_to_ip: nonce.ip, issued_to: nonce.issuedTo,
    }).execute();
  }

  /**
   * Spends a nonce on `filename` for `client` (the `issued_to` it must have: a VIN, or null for an
   * anonymous client). One conditional UPDATE is the whole decision, so of two concurrent uses (in this
   * process or in another server sharing the database) exactly one matches the row.
   */
  async consume(use: { hash: string; now: number; ip: string; filename: string; client?: string | null }): Promise<NonceUse> {
    const client = use.client ?? null;
    const spent = await this.db.updateTable('nonces')
      .set({ used_at: use.now, used_by_ip: use.ip, used_for: use.filename })
      .where('nonce_hash', '=', use.hash)
      .where('used_at', 'is', null)
      .where('expires_at', '>', use.now)
      .where((eb) => client === null ? eb('issued_to', 'is', null) : eb('issued_to', '=', client))
      .returning(['issued_to'])
      .executeTakeFirst();
    if (spent) return { outcome: 'ok', issuedTo: spent.issued_to };
    const row = await this.db.selectFrom('nonces').select(['used_at', 'expires_at']).where('nonce_hash', '=', use.hash).executeTakeFirst();
    if (!row) return { outcome: 'unknown' };
    if (row.used_at !== null) return { outcome: 'used' };
    return { outcome: row.expires_at <= use.now ? 'expired' : 'foreign' };
  }

  /** Forgets nonces that expired before `before` (used or not: the audit log keeps their story). */
  async prune(before: number): Promise<number> {
    const result = await this.db.deleteFrom('nonces').where('expires_at', '<', before).executeTakeFirst();
    return Number(result.numDeletedRows);
  }
}
