/**
 * `npm run bench:client`: download + verify of a 256 MiB release from a real `canota server` on
 * loopback, side by side in the same run with `curl -s URL | sha256sum` on the same file.
 *
 * - Reference: `curl -s <url with a fresh nonce> | sha256sum` (bash, wall time; the nonce is fetched
 *   beforehand, outside the timing).
 * - Client: `bin/canota client --once` into an empty state dir, as a user runs it: the dist/ build (made
 *   before the benchmark by `prebench:client`), or the sources with CANOTA_FROM_SOURCE=1 (it says which). Its cycle
 *   time is measured from its own log ("download client started" → "downloaded and verified": poll,
 *   nonce, download, hash, fsync, rename, state files) so Node's start-up is not counted; the
 *   whole-process wall time is printed too.
 * - Peak RSS: the client process's VmHWM (/proc/<pid>/status, sampled until it exits), for the big
 *   release, for a 64 MiB one, and for a cycle that downloads nothing (the same process's baseline:
 *   Node and the client's modules). Memory that does not depend on the file size shows
 *   as big ≈ small.
 *
 * Targets: ratio curl time / client time >= 0.9x; peak RSS < 100 MiB whatever the file size.
 * Environment: BENCH_MIB (default 256) file size, BENCH_RUNS (default 5) runs of each, median reported.
 */
import { execFile, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { randomBytes, createHash } from 'node:crypto';
import { once } from 'node:events';
import { createWriteStream } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { request } from 'undici';
import { chooseEntryPoint } from '../bin/entry-point.js';
import { projectRoot } from '../src/project-root.ts';
import { canotaBin, listeningPattern, runCanota, startCanota } from '../test/support/canota-process.ts';
import { Uploader, adminName, adminPassword } from '../test/support/ota-server.ts';

const mib = Number(process.env.BENCH_MIB ?? 256);
const runs = Number(process.env.BENCH_RUNS ?? 5);
const fileBytes = mib * 1024 * 1024;
const filename = `bench-${mib}mib.bin`;
const exec = promisify(execFile);

interface ClientRun {
  cycleMs: number;
  wallMs: number;
  peakRssKiB: number;
}

async function main(): Promise<void> {
  const root = await mkdtemp(join(tmpdir(), 'canota-bench-client-'));
  let server: Awaited<ReturnType<typeof startCanota>> | undefined;
  try {
    const dataDir = join(root, 'data');
    const added = await runCanota(['user', 'add', adminName, '--role', 'admin', '--password-stdin', '--data-dir', dataDir],
      { stdin: `${adminPassword}\n` });
    if (added.code !== 0) throw new Error(`canota user add failed: ${added.stderr}`);
    server = await startCanota(['server', '--port', '0', '--data-dir', dataDir, '--max-upload-size', `${Math.max(512, 2 * mib)}MiB`],
      { ready: listeningPattern });
    const url = server.url!;

    const uploader = new Uploader(url);
    const upload = async (name: string, bytes: number, version: string) => {
      const source = join(root, name);
      const sha = await writeRandomFile(source, bytes);
      await uploader.upload(name, { path: source }, { ecu: 'EDT', firmware_version: version });
      await rm(source);
      return sha;
    };

    // Memory with a small release, and with nothing to download, before the big one is uploaded.
    const small = await canotaClient(url, root, 'small', await upload('bench-64mib.bin', 64 * 1024 * 1024, '0.9.0'));
    const idle = await canotaClient(url, root, 'small', undefined);

    const expected = await upload(filename, fileBytes, '1.0.0');
    await uploader.close();
    const entry = chooseEntryPoint(projectRoot);
    console.log(entry.kind === 'bundle' ? 'canota client runs the dist/ build' : `canota client runs the sources through tsx (${entry.reason}; ` +
      'npm run bench:client builds first; tsx alone costs ~34 MiB of peak RSS)');
    console.log(`canota server at ${url}, release ${filename} (${mib} MiB, sha256 ${expected.slice(0, 16)}…)`);

    const curlMs: number[] = [];
    const clients: ClientRun[] = [];
    for (let i = 0; i < runs; i++) {
      curlMs.push(await curlSha256(url, expected));
      clients.push(await canotaClient(url, root, `big-${i}`, expected));
      console.log(`run ${i + 1}/${runs}: curl | sha256sum ${fmt(curlMs.at(-1)!)} ms, canota client cycle ${fmt(clients.at(-1)!.cycleMs)} ms ` +
        `(process ${fmt(clients.at(-1)!.wallMs)} ms, peak RSS ${mibOf(clients.at(-1)!.peakRssKiB)} MiB)`);
    }

    const curl = median(curlMs);
    const cycle = median(clients.map((c) => c.cycleMs));
    const wall = median(clients.map((c) => c.wallMs));
    const peakKiB = Math.max(...clients.map((c) => c.peakRssKiB));
    const peak = peakKiB / 1024;
    const ratio = curl / cycle;
    console.log('');
    console.log(`curl -s URL | sha256sum      ${fmt(curl)} ms  (${fmt(mib / (curl / 1000))} MiB/s)`);
    console.log(`canota client (cycle)        ${fmt(cycle)} ms  (${fmt(mib / (cycle / 1000))} MiB/s)`);
    console.log(`canota client (whole process, incl. Node's start-up) ${fmt(wall)} ms`);
    console.log(`ratio curl/client: ${ratio.toFixed(2)}x  (target >= 0.9x: ${ratio >= 0.9 ? 'met' : 'NOT met'})`);
    console.log(`client peak RSS: ${peak.toFixed(1)} MiB for ${mib} MiB, ${mibOf(small.peakRssKiB)} MiB for 64 MiB, ` +
      `${mibOf(idle.peakRssKiB)} MiB for a cycle with nothing to download  (target < 100 MiB: ${peak < 100 ? 'met' : 'NOT met'})`);
    console.log(`  memory the download adds to the process: ${mibOf(peakKiB - idle.peakRssKiB)} MiB; ` +
      `${mib} MiB vs 64 MiB file: ${mibOf(peakKiB - small.peakRssKiB)} MiB`);
  } finally {
    await server?.stop();
    await rm(root, { recursive: true, force: true });
  }
}

/** A file of random bytes, written in chunks; returns its SHA-256. */
async function writeRandomFile(path: string, size: number): Promise<string> {
  const hash = createHash('sha256');
  const out = createWriteStream(path);
  const chunk = 4 * 1024 * 1024;
  for (let written = 0; written < size; written += chunk) {
    const bytes = randomBytes(Math.min(chunk, size - written));
    hash.update(bytes);
    if (!out.write(bytes)) await once(out, 'drain');
  }
  out.end();
  await once(out, 'finish');
  return hash.digest('hex');
}

async function curlSha256(url: string, expected: string): Promise<number> {
  const nonceAnswer = await request(new URL('/get_nonce', url));
  const { nonce } = await nonceAnswer.body.json() as { nonce: string };
  const target = `${new URL(`/ota_download/${filename}`, url).href}?nonce=${nonce}`;
  const started = performance.now();
  const { stdout } = await exec('bash', ['-c', 'set -o pipefail; curl -s "$1" | sha256sum', 'bench', target], { maxBuffer: 1024 * 1024 });
  const elapsed = performance.now() - started;
  if (!stdout.startsWith(expected)) throw new Error(`curl | sha256sum gave ${stdout.trim()}, expected ${expected}`);
  return elapsed;
}

/** Runs `canota client --once`; `expected` undefined: the state dir is already up to date. */
async function canotaClient(url: string, root: string, name: string, expected: string | undefined): Promise<ClientRun> {
  const downloadDir = join(root, `downloads-${name}`);
  const stateDir = join(root, `state-${name}`);
  const started = performance.now();
  const child = spawn(process.execPath, [canotaBin, 'client', '--server', url, '--once',
    '--download-dir', downloadDir, '--state-dir', stateDir], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (text: string) => { stdout += text; });
  child.stderr.setEncoding('utf8').on('data', (text: string) => { stderr += text; });
  const exited = once(child, 'exit') as Promise<[number]>;
  // VmHWM is the kernel's high-water mark of this process's RSS; the last sample before exit is its peak.
  let peakRssKiB = 0;
  const sampler = setInterval(() => { peakRssKiB = Math.max(peakRssKiB, vmHwmKiB(child.pid!)); }, 10);
  const [code] = await exited;
  clearInterval(sampler);
  const wallMs = performance.now() - started;
  if (code !== 0) throw new Error(`canota client failed (${code}):\n${stdout}\n${stderr}`);
  const logs = stdout.split('\n').filter((line) => line.startsWith('{')).map((line) => JSON.parse(line) as { msg: string; time: number });
  const begin = logs.find((line) => line.msg === 'download client started');
  const end = logs.find((line) => line.msg === (expected ? 'downloaded and verified' : 'up to date'));
  if (!begin || !end) throw new Error(`missing log lines:\n${stdout}`);
  if (expected) {
    const sha = (await readFile(join(stateDir, 'downloaded_sha.txt'), 'utf8')).trim();
    if (sha !== expected) throw new Error(`the client recorded ${sha}, expected ${expected}`);
    await rm(downloadDir, { recursive: true, force: true });
  }
  return { cycleMs: end.time - begin.time, wallMs, peakRssKiB };
}

function vmHwmKiB(pid: number): number {
  try {
    const match = /^VmHWM:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) : 0;
  } catch {
    return 0;
  }
}

function mibOf(kib: number): string {
  return (kib / 1024).toFixed(1);
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

function fmt(value: number): string {
  return value.toFixed(0);
}

await main();
