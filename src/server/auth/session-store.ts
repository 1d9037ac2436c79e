import type { SessionStore } from '@fastify/session';
import type { Session } from 'fastify';
import type { SessionRecordStore } from '../storage/sessions.ts';

/**
 * @fastify/session's store interface over the `sessions` table: sessions live on the server, so logging
 * out or idling past the timeout really ends them, even if someone kept a copy of the cookie.
 */
export function databaseSessionStore(records: SessionRecordStore, idleMs: number, clock: () => number = Date.now): SessionStore {
  return {
    set(id, session, callback) {
      const expires = session.cookie.expires ? new Date(session.cookie.expires).getTime() : clock() + idleMs;
      records.set(id, JSON.stringify(session), Math.min(expires, clock() + idleMs))
        .then(() => callback(), (error: Error) => callback(error));
    },
    get(id, callback) {
      records.get(id, clock()).then(
        (data) => callback(null, data === undefined ? null : (JSON.parse(data) as Session)),
        (error: Error) => callback(error, null),
      );
    },
    destroy(id, callback) {
      records.destroy(id).then(() => callback(), (error: Error) => callback(error));
    },
  };
}
