import { openAsBlob } from 'node:fs';
import type { TestContext } from 'node:test';
import { Agent, FormData, request } from 'undici';
import { CookieJar } from '../../src/client/cookie-jar.ts';
import { listeningPattern, runCanota, startCanota, type CanotaProcess } from './canota-process.ts';
import { tempDir } from './temp-dir.ts';

export interface ReleaseFields {
  ecu?: string;
  firmware_version?: string;
  hardware_id?: string;
  notes?: string;
}

/** A real `canota server` on a free loopback port, with an admin who can upload. */
export interface OtaTestServer {
  url: string;
  host: string;
  port: number;
  dataDir: string;
  process: CanotaProcess;
  /** Uploads like an admin with the upload form (login, CSRF token, multipart); `content` or a file path. */
  upload(filename: string, content: Buffer | { path: string }, fields?: ReleaseFields): Promise<Record<string, unknown>>;
  /** GET as the logged-in admin, JSON (the admin API, e.g. `/api/v1/vehicles/<vin>`). */
  adminJson<T = Record<string, unknown>>(path: string): Promise<T>;
  /** Withdraws a release as the admin (`POST /api/v1/releases/<id>/withdraw`): never offered again. */
  withdraw(releaseId: number | string, reason?: string): Promise<Record<string, unknown>>;
  /**
   * Deploys releases to registered vehicles as the admin (`POST /api/v1/deployments`; one wave unless
   * `extra` says otherwise): the deployment's id, which the vehicles see as the campaign id.
   */
  deploy(releaseIds: number[], target: object, extra?: object): Promise<number>;
  /** POSTs JSON as the admin with the CSRF token (e.g. `/api/v1/deployments/<id>/resume`); the answer (200 expected). */
  post(path: string, body: object): Promise<Record<string, unknown>>;
  /** PUTs JSON as the admin with the CSRF token (e.g. `/api/v1/ecus/EDT`); the answer (200 expected). */
  put(path: string, body: object): Promise<Record<string, unknown>>;
}

export const adminName = 'ota-admin';
export const adminPassword = 'client-tests-admin-password';

export async function startOtaServer(t: TestContext, options: { args?: string[] } = {}): Promise<OtaTestServer> {
  const dataDir = await tempDir(t, 'canota-client-server-');
  const added = await runCanota(['user', 'add', adminName, '--role', 'admin', '--password-stdin', '--data-dir', dataDir],
    { stdin: `${adminPassword}\n` });
  if (added.code !== 0) throw new Error(`canota user add failed (${added.code}): ${added.stderr}${added.stdout}`);
  const process = await startCanota(['server', '--port', '0', '--data-dir', dataDir, ...(options.args ?? [])],
    { ready: listeningPattern });
  t.after(() => process.stop());
  const url = new URL(process.url!);
  const uploader = new Uploader(process.url!);
  t.after(() => uploader.close());
  return {
    url: process.url!,
    host: url.hostname,
    port: Number(url.port),
    dataDir,
    process,
    upload: (filename, content, fields) => uploader.upload(filename, content, fields),
    adminJson: (path) => uploader.json(path),
    withdraw: (releaseId, reason) => uploader.withdraw(releaseId, reason),
    deploy: async (releaseIds, target, extra = {}) => (await uploader.post('/api/v1/deployments', {
      name: `deployment of release ${releaseIds.join(', ')}`, release_ids: releaseIds, target, ...extra,
    }, 201) as { id: number }).id,
    post: (path, body) => uploader.post(path, body),
    put: (path, body) => uploader.post(path, body, 200, 'PUT'),
  };
}

/** The admin's browser, reduced to what uploading needs (login, CSRF token, multipart upload). */
export class Uploader {
  readonly #agent = new Agent();
  readonly #cookies = new CookieJar();
  #loggedIn = false;

  constructor(private readonly base: string, private readonly user = { name: adminName, password: adminPassword }) {}

  async upload(filename: string, content: Buffer | { path: string }, fields: ReleaseFields = {}): Promise<Record<string, unknown>> {
    if (!this.#loggedIn) await this.#login();
    const form = new FormData();
    form.append('csrf_token', await this.#csrfToken('/'));
    for (const [name, value] of Object.entries(fields)) if (value !== undefined) form.append(name, value);
    const blob = Buffer.isBuffer(content) ? new Blob([content]) : await openAsBlob(content.path);
    form.append('file', blob, filename);
    const answer = await this.#fetch('/upload', { method: 'POST', body: form, headers: { accept: 'application/json' } });
    if (answer.status !== 200) throw new Error(`upload of ${filename} failed: ${answer.status} ${answer.text}`);
    return JSON.parse(answer.text) as Record<string, unknown>;
  }

  async withdraw(releaseId: number | string, reason?: string): Promise<Record<string, unknown>> {
    return this.post(`/api/v1/releases/${releaseId}/withdraw`, reason === undefined ? {} : { reason });
  }

  /** POSTs JSON as the logged-in admin with the CSRF token; the JSON answer (throws on another status than `expected`). */
  async post(path: string, body: object, expected = 200, method: 'POST' | 'PUT' = 'POST'): Promise<Record<string, unknown>> {
    if (!this.#loggedIn) await this.#login();
    const answer = await this.#fetch(path, {
      method, body: JSON.stringify(body),
      headers: { accept: 'application/json', 'content-type': 'application/json', 'x-csrf-token': await this.#csrfToken('/') },
    });
    if (answer.status !== expected) throw new Error(`${method} ${path} failed: ${answer.status} ${answer.text}`);
    return JSON.parse(answer.text) as Record<string, unknown>;
  }

  /** GET `path` as the logged-in admin; the JSON answer (throws on a status other than 200). */
  async json<T = Record<string, unknown>>(path: string): Promise<T> {
    if (!this.#loggedIn) await this.#login();
    const answer = await this.#fetch(path, { headers: { accept: 'application/json' } });
    if (answer.status !== 200) throw new Error(`GET ${path} answered ${answer.status}: ${answer.text.slice(0, 300)}`);
    return JSON.parse(answer.text) as T;
  }

  async close(): Promise<void> {
    await this.#agent.close();
  }

  async #login(): Promise<void> {
    const csrf_token = await this.#csrfToken('/login');
    const body = new URLSearchParams({ username: this.user.name, password: this.user.password, csrf_token }).toString();
    const answer = await this.#fetch('/login', {
      method: 'POST', body, headers: { 'content-type': 'application/x-www-form-urlencoded' },
    });
    if (answer.status !== 302) throw new Error(`admin login failed: ${answer.status} ${answer.text.slice(0, 300)}`);
    this.#loggedIn = true;
  }

  async #csrfToken(path: string): Promise<string> {
    const page = await this.#fetch(path);
    const match = /name="csrf_token" value="([^"]+)"/.exec(page.text);
    if (!match) throw new Error(`no csrf_token in ${path} (${page.status}): ${page.text.slice(0, 300)}`);
    return match[1]!;
  }

  async #fetch(path: string, options: { method?: 'GET' | 'POST' | 'PUT'; body?: string | FormData; headers?: Record<string, string> } = {}):
    Promise<{ status: number; text: string }> {
    const headers: Record<string, string> = { ...options.headers };
    const cookie = this.#cookies.header();
    if (cookie) headers.cookie = cookie;
    const response = await request(new URL(path, this.base), {
      method: options.method ?? 'GET', headers, body: options.body, dispatcher: this.#agent,
    });
    this.#cookies.store(response.headers['set-cookie']);
    return { status: response.statusCode, text: await response.body.text() };
  }
}
