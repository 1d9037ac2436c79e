import { Agent, request, FormData } from 'undici';
import type { IncomingHttpHeaders } from 'undici/types/header.js';

export interface WebResponse {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
  text: string;
  json<T = Record<string, unknown>>(): T;
}

export interface RequestOptions {
  method?: string;
  headers?: Record<string, string>;
  body?: string | Buffer | FormData;
  form?: Record<string, string>;
}

/**
 * A tiny browser stand-in for end-to-end tests: keeps cookies, never follows redirects, can bind its
 * source address (127.0.0.2 plays a client outside the allowlist).
 */
export class WebClient {
  readonly cookies = new Map<string, string>();
  readonly setCookieHeaders: string[] = [];
  private readonly agent: Agent;

  constructor(readonly baseUrl: string, options: { localAddress?: string } = {}) {
    // A Client-level option: undici overrides connect.localAddress with this one.
    this.agent = new Agent(options.localAddress ? { localAddress: options.localAddress } : {});
  }

  async fetch(path: string, options: RequestOptions = {}): Promise<WebResponse> {
    const headers: Record<string, string> = { ...options.headers };
    if (this.cookies.size > 0) headers.cookie = [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
    let body = options.body;
    if (options.form) {
      body = new URLSearchParams(options.form).toString();
      headers['content-type'] = 'application/x-www-form-urlencoded';
    }
    const response = await request(new URL(path, this.baseUrl), {
      method: (options.method ?? (body !== undefined ? 'POST' : 'GET')) as 'GET',
      headers, body, dispatcher: this.agent,
    });
    const raw = response.headers['set-cookie'];
    for (const line of raw === undefined ? [] : Array.isArray(raw) ? raw : [raw]) {
      this.setCookieHeaders.push(line);
      const [pair = ''] = line.split(';');
      const eq = pair.indexOf('=');
      const name = pair.slice(0, eq).trim();
      const value = pair.slice(eq + 1).trim();
      if (/expires=Thu, 01 Jan 1970/i.test(line) || value === '') this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
    const buffer = Buffer.from(await response.body.arrayBuffer());
    const text = buffer.toString('utf8');
    return {
      status: response.statusCode, headers: response.headers, body: buffer, text,
      json: <T>() => JSON.parse(text) as T,
    };
  }

  /** The CSRF token of a page's form (GET `path` first). */
  async csrfToken(path = '/login'): Promise<string> {
    const page = await this.fetch(path);
    return csrfTokenIn(page.text);
  }

  async login(username: string, password: string): Promise<WebResponse> {
    const csrf_token = await this.csrfToken('/login');
    return this.fetch('/login', { form: { username, password, csrf_token } });
  }

  /** Uploads like the admin page's form (or a script): multipart with the token first. */
  async upload(filename: string, content: Buffer | string, fields: Record<string, string> = {},
    options: { csrf?: string | null; accept?: string; headers?: Record<string, string>; path?: string } = {}): Promise<WebResponse> {
    const form = new FormData();
    const token = options.csrf === undefined ? await this.csrfToken('/') : options.csrf;
    if (token !== null) form.append('csrf_token', token);
    for (const [k, v] of Object.entries(fields)) form.append(k, v);
    form.append('file', new Blob([content]), filename);
    return this.fetch(options.path ?? '/upload', { method: 'POST', body: form, headers: { accept: options.accept ?? 'application/json', ...options.headers } });
  }

  async close(): Promise<void> {
    if (!this.agent.closed && !this.agent.destroyed) await this.agent.close();
  }
}

export function csrfTokenIn(html: string): string {
  const match = /name="csrf_token" value="([^"]+)"/.exec(html);
  if (!match) throw new Error(`no csrf_token in the page:\n${html.slice(0, 500)}`);
  return match[1]!;
}
