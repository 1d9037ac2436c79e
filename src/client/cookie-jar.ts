import { parseCookie } from 'undici';

/**
 * The cookies of one cycle with one server. The seed's Flask server keeps the nonce in its cookie
 * session: `/get_nonce` sets the cookie and the download must carry it back (its own client used one
 * `requests.Session`). canota's server ignores the cookie. Only one origin is ever talked to, so domain
 * and path matching are not needed; expiry (Max-Age=0, a past Expires) deletes, as servers expect.
 */
export class CookieJar {
  readonly #cookies = new Map<string, string>();

  /** Takes the `set-cookie` header(s) of an answer. */
  store(setCookie: string | string[] | undefined): void {
    if (setCookie === undefined) return;
    for (const line of Array.isArray(setCookie) ? setCookie : [setCookie]) {
      const cookie = parseCookie(line);
      // A nameless cookie is no session cookie; sent back it would only confuse servers.
      if (!cookie || cookie.name === '') continue;
      const expires = cookie.expires === undefined ? undefined : new Date(cookie.expires).getTime();
      const expired = (cookie.maxAge !== undefined && cookie.maxAge <= 0) ||
        (expires !== undefined && expires <= Date.now());
      if (expired) this.#cookies.delete(cookie.name);
      else this.#cookies.set(cookie.name, cookie.value);
    }
  }

  /** The `Cookie` request header, or undefined when the jar is empty. */
  header(): string | undefined {
    if (this.#cookies.size === 0) return undefined;
    return [...this.#cookies].map(([name, value]) => `${name}=${value}`).join('; ');
  }
}
