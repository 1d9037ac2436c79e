import type { Kysely, Selectable } from 'kysely';
import type { Role, Schema, UsersTable } from './schema.ts';
import { AlreadyExistsError } from './errors.ts';
import { isUniqueViolation } from './unique-violation.ts';

export type UserRecord = Selectable<UsersTable>;

export class UserStore {
  constructor(private readonly db: Kysely<Schema>) {}

  async add(user: { username: string; passwordHash: string; role: Role; now: number }): Promise<UserRecord> {
    try {
      return await this.db.insertInto('users').values({
        username: user.username, password_hash: user.passwordHash, role: user.role,
        created_at: user.now, updated_at: user.now,
      }).returningAll().executeTakeFirstOrThrow();
    } catch (error) {
      if (isUniqueViolation(error)) throw new AlreadyExistsError(`user "${user.username}" already exists`);
      throw error;
    }
  }

  async find(username: string): Promise<UserRecord | undefined> {
    return this.db.selectFrom('users').selectAll().where('username', '=', username).executeTakeFirst();
  }

  async list(): Promise<UserRecord[]> {
    return this.db.selectFrom('users').selectAll().orderBy('username').execute();
  }

  async count(): Promise<number> {
    const row = await this.db.selectFrom('users').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
    return Number(row.n);
  }

  /** Returns false when there is no such user. */
  async remove(username: string): Promise<boolean> {
    const result = await this.db.deleteFrom('users').where('username', '=', username).executeTakeFirst();
    return Number(result.numDeletedRows) > 0;
  }

  /** Returns false when there is no such user. */
  async setPassword(username: string, passwordHash: string, now: number): Promise<boolean> {
    const result = await this.db.updateTable('users').set({ password_hash: passwordHash, updated_at: now })
      .where('username', '=', username).executeTakeFirst();
    return Number(result.numUpdatedRows) > 0;
  }
}
