/**
 * `npm run bench:server`: the OTA server next to nginx, in the same run, on this machine.
 *
 * - `/latest_version`: requests/s and p99 with wrk (64 connections), against nginx returning the same
 *   JSON as a static file. Target: >= 10,000 requests/s.
 * - Nonce-authenticated downloads of a 64 MiB release at 1 and 16 concurrent clients, each request with
 *   its own fresh nonce (fetched beforehand, fed to wrk by a Lua script), against nginx serving the same
 *   file statically (sendfile on). Target: >= 0.8x nginx's throughput.
 *
 * nginx is Debian's, started here on a free loopback port with a temporary config and stopped at the end.
 * Environment: BENCH_SECONDS (default 8) per measurement.
 */
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, mkdtemp, rm, writeFile, mkdir, copyFile } from 'node:fs/promises';
import { tmpdir, cpus } from 'node:os';
import { join } from 'node:path';
import { once } from 'node:events';
import { promisify } from 'node:util';
import { randomBytes } from 'node:crypto';
import { Agent, request } from 'undici';
import { startCanota, listeningPattern } from '../test/support/canota-process.ts';
import { seedUsers } from '../test/server/support/server.ts';
import { WebClient } from '../test/server/support/web-client.ts';
import { rawUpload } from '../test/server/support/raw-upload.ts';
import { freePort } from '../test/support/free-port.ts';

const seconds = Number(process.env.BENCH_SECONDS ?? 8);
const fileBytes = 64 * 1024 * 1024;
const run = promisify(execFile);

interface WrkResult {
  requests: number;
  bytes: number;
  duration_us: number;
  p99_us: number;
  errors: number;
  status_errors: number;
}

const reportScript = `
done = function(summary, latency, requests)
  io.write(string.format('\\nRESULT {"requests":%d,"bytes":%d,"duration_us":%d,"p99_us":%d,"errors":%d,"status_errors":%d}\\n',
    summary.requests, summary.bytes, summary.duration, latency:percentile(99),
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout, summary.errors.status))
end
`;

/** Each wrk thread walks its own slice of the nonce list, so every request spends a fresh nonce. */
const nonceScript = `
local threads = 0
function setup(thread)
  thread:set("id", threads)
  threads = threads + 1
end
function init(args)
  nonces = {}
  for line in io.lines(args[1]) do nonces[#nonces + 1] = line end
  step = tonumber(args[2])
  index = id + 1
  base = args[3]
end
function request()
  local nonce = nonces[index] or "exhausted"
  index = index + step
  return wrk.format("GET", base .. nonce)
end
${reportScript}`;

async function wrk(url: string, options: { threads: number; connections: number; script: string; args?: string[] }): Promise<WrkResult> {
  const { stdout } = await run('wrk', [
    '-t', String(options.threads), '-c', String(options.connections), '-d', `${seconds}s`, '--timeout', '30s',
    '-s', options.script, url, ...(options.args?.length ? ['--', ...options.args] : []),
  ], { maxBuffer: 16 * 1024 * 1024 });
  const line = stdout.split('\n').find((l) => l.startsWith('RESULT '));
  if (!line) throw new Error(`no result from wrk:\n${stdout}`);
  return JSON.parse(line.slice('RESULT '.length)) as WrkResult;
}

async function startNginx(dir: string, files: Record<string, string>): Promise<{ url: string; process: ChildProcess }> {
  const port = await freePort();
  const www = join(dir, 'www');
  await mkdir(www, { recursive: true });
  for (const [name, source] of Object.entries(files)) {
    await copyFile(source, join(www, name));
    await chmod(join(www, name), 0o644);
  }
  const conf = join(dir, 'nginx.conf');
  await writeFile(conf, `
worker_processes auto;
daemon off;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  sendfile on;
  tcp_nopush on;
  keepalive_requests 1000000;
  client_body_temp_path ${dir}/client_body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  types { application/json json; application/octet-stream bin; }
  server {
    listen 127.0.0.1:${port};
    root ${www};
    location = /latest_version { default_type application/json; try_files /latest_version.json =404; }
  }
}
`);
  const child = spawn('/usr/sbin/nginx', ['-c', conf, '-p', dir, '-e', join(dir, 'error.log')], { stdio: 'inherit' });
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 100; i++) {
    try {
      const response = await request(`${url}/latest_version`);
      await response.body.dump();
      if (response.statusCode === 200) return { url, process: child };
      if (process.env.BENCH_DEBUG) console.error('nginx answered', response.statusCode);
    } catch (error) {
      if (process.env.BENCH_DEBUG) console.error('nginx not up yet', error);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  child.kill('SIGQUIT');
  throw new Error('nginx did not start');
}

async function fetchNonces(url: string, count: number): Promise<string> {
  const agent = new Agent({ connections: 8 });
  const nonces: string[] = [];
  const worker = async () => {
    while (nonces.length < count) {
      const response = await request(`${url}/get_nonce`, { dispatcher: agent });
      const body = await response.body.json() as { nonce?: string };
      if (!body.nonce) throw new Error(`no nonce: ${JSON.stringify(body)}`);
      nonces.push(body.nonce);
    }
  };
  await Promise.all(Array.from({ length: 8 }, worker));
  await agent.close();
  return `${nonces.join('\n')}\n`;
}

const gib = (r: WrkResult) => r.bytes / (r.duration_us / 1e6) / 2 ** 30;
const rps = (r: WrkResult) => r.requests / (r.duration_us / 1e6);
const ms = (us: number) => (us / 1000).toFixed(2);

function check(name: string, r: WrkResult): void {
  if (r.status_errors > 0 || r.errors > 0) throw new Error(`${name}: ${r.status_errors} non-2xx responses, ${r.errors} socket errors`);
}

async function main(): Promise<void> {
  for (const tool of ['/usr/sbin/nginx', '/usr/bin/wrk']) {
    if (!existsSync(tool)) throw new Error(`${tool} is missing: apt-get install nginx wrk (.ci/run lists them)`);
  }
  const dir = await mkdtemp(join(tmpdir(), 'canota-bench-'));
  // nginx's workers run as an unprivileged user: they must be able to read the served files.
  await chmod(dir, 0o755);
  const children: Array<{ stop(): Promise<unknown> }> = [];
  try {
    const dataDir = join(dir, 'data');
    const admin = { username: 'bench', role: 'admin' as const, password: randomBytes(12).toString('hex') };
    await seedUsers(dataDir, [admin]);
    const server = await startCanota(['server', '--port', '0', '--data-dir', dataDir, '--nonce-rate-limit', '1000000', '--nonce-ttl', '3600'],
      { ready: listeningPattern, env: { CANOTA_LOG_LEVEL: 'info' } });
    children.push(server);
    const canota = server.url!;

    const client = new WebClient(canota);
    await client.login(admin.username, admin.password);
    const csrfToken = /name="csrf_token" value="([^"]+)"/.exec((await client.fetch('/')).text)![1]!;
    const uploaded = await rawUpload(canota, {
      cookie: [...client.cookies].map(([k, v]) => `${k}=${v}`).join('; '), csrfToken, filename: 'fw.bin', size: fileBytes,
      chunk: randomBytes(1024 * 1024),
    });
    if (!('status' in uploaded) || uploaded.status !== 200) throw new Error(`upload failed: ${JSON.stringify(uploaded)}`);
    const latestJson = (await client.fetch('/latest_version')).text;
    const checkout = await request(`${canota}/upload/fw.bin`, { headers: { cookie: [...client.cookies].map(([k, v]) => `${k}=${v}`).join('; ') } });
    const filePath = join(dir, 'fw.bin');
    await writeFile(filePath, Buffer.from(await checkout.body.arrayBuffer()));
    await writeFile(join(dir, 'latest_version.json'), latestJson);
    await client.close();

    const nginx = await startNginx(join(dir, 'nginx'), { 'fw.bin': filePath, 'latest_version.json': join(dir, 'latest_version.json') });
    children.push({ stop: async () => { nginx.process.kill('SIGQUIT'); await once(nginx.process, 'exit'); } });

    const reportLua = join(dir, 'report.lua');
    const nonceLua = join(dir, 'nonces.lua');
    await writeFile(reportLua, reportScript);
    await writeFile(nonceLua, nonceScript);

    console.log(`canota server vs nginx ${(await run('/usr/sbin/nginx', ['-v'])).stderr.trim().replace('nginx version: ', '')}, ` +
      `${cpus().length} CPUs, ${seconds} s per measurement\n`);

    // /latest_version
    const latestArgs = { threads: 2, connections: 64, script: reportLua };
    await wrk(`${canota}/latest_version`, { ...latestArgs }); // warm-up (JIT, caches)
    const latestCanota = await wrk(`${canota}/latest_version`, latestArgs);
    const latestNginx = await wrk(`${nginx.url}/latest_version`, latestArgs);
    check('latest_version canota', latestCanota);
    check('latest_version nginx', latestNginx);
    console.log('/latest_version (wrk, 2 threads, 64 connections)');
    console.log(`  canota  ${rps(latestCanota).toFixed(0).padStart(8)} req/s   p99 ${ms(latestCanota.p99_us)} ms`);
    console.log(`  nginx   ${rps(latestNginx).toFixed(0).padStart(8)} req/s   p99 ${ms(latestNginx.p99_us)} ms`);
    console.log(`  ratio   ${(rps(latestCanota) / rps(latestNginx)).toFixed(2)}x nginx; target >= 10000 req/s: ${rps(latestCanota) >= 10_000 ? 'met' : 'NOT met'}\n`);

    const results: Array<{ clients: number; ratio: number }> = [];
    for (const clients of [1, 16]) {
      const threads = Math.min(2, clients);
      const nonceFile = join(dir, `nonces-${clients}.txt`);
      // Generous: far more than even a fast run can spend (a run that ran out would fail loudly with 403s).
      await writeFile(nonceFile, await fetchNonces(canota, Math.ceil(seconds * (clients === 1 ? 100 : 150))));
      const args = [nonceFile, String(threads), '/ota_download/fw.bin?nonce='];
      const c = await wrk(`${canota}/ota_download/fw.bin`, { threads, connections: clients, script: nonceLua, args });
      const n = await wrk(`${nginx.url}/fw.bin`, { threads, connections: clients, script: nonceLua, args: [nonceFile, String(threads), '/fw.bin?nonce='] });
      check(`download canota x${clients}`, c);
      check(`download nginx x${clients}`, n);
      const ratio = gib(c) / gib(n);
      results.push({ clients, ratio });
      console.log(`64 MiB downloads, ${clients} concurrent client${clients > 1 ? 's' : ''} (each request a fresh nonce)`);
      console.log(`  canota  ${gib(c).toFixed(2).padStart(6)} GiB/s  (${c.requests} downloads)   p99 ${ms(c.p99_us)} ms`);
      console.log(`  nginx   ${gib(n).toFixed(2).padStart(6)} GiB/s  (${n.requests} downloads)   p99 ${ms(n.p99_us)} ms`);
      console.log(`  ratio   ${ratio.toFixed(2)}x nginx; target >= 0.8x: ${ratio >= 0.8 ? 'met' : 'NOT met'}\n`);
    }
  } finally {
    for (const child of children.reverse()) await child.stop().catch(() => undefined);
    await rm(dir, { recursive: true, force: true });
  }
}

await main();
