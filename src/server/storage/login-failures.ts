import type { Kysely, Selectable } from 'kysely';
import type { LoginFailuresTable, Schema } from './schema.ts';

export type LoginFailureRecord = Selectable<LoginFailuresTable>;

export class LoginFailureStore {
  constructor(private readonly db: Kysely<Schema>) {}

  async get(key: string): Promise<LoginFailureRecord | undefined> {
    return this.db.selectFrom('login_failures').selectAll().where('key', '=', key).executeTakeFirst();
  }

  async put(record: LoginFailureRecord): Promise<void> {
    const { key: _key, ...rest } = record;
    await this.db.insertInto('login_failures').values(record)
      .onConflict((oc) => oc.column('key').doUpdateSet(rest)).execute();
  }

  async clear(key: string): Promise<void> {
    await this.db.deleteFrom('login_failures').where('key', '=', key).execute();
  }
}
