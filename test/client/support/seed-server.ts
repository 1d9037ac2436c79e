import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { TestContext } from 'node:test';
import { tempDir } from '../../support/temp-dir.ts';

const seedApp = fileURLToPath(new URL('../../fixtures/seed/app.py', import.meta.url));

/** The seed's Flask server (test/fixtures/seed/app.py) on a free loopback port, under Debian's Python. */
export interface SeedServer {
  url: string;
  uploadDir: string;
  auditLog: string;
  output: string[];
}

export async function startSeedServer(t: TestContext): Promise<SeedServer> {
  const dir = await tempDir(t, 'canota-seed-');
  const uploadDir = join(dir, 'uploads');
  const auditLog = join(dir, 'audit.log');
  const child = spawn('/usr/bin/python3', [seedApp], {
    cwd: dir,
    env: {
      PATH: '/usr/bin:/bin',
      SEED_PORT: '0',
      SEED_UPLOAD_DIR: uploadDir,
      SEED_AUDIT_LOG: auditLog,
      SEED_SESSION_DIR: join(dir, 'sessions'),
      PYTHONUNBUFFERED: '1',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exited = once(child, 'exit');
  t.after(async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      await exited;
    }
  });
  const output: string[] = [];
  createInterface({ input: child.stderr }).on('line', (line) => output.push(line));
  const lines = createInterface({ input: child.stdout });
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the seed server did not start:\n${output.join('\n')}`)), 20_000);
    lines.on('line', (line) => {
      output.push(line);
      const match = /listening at (http:\/\/\S+)/.exec(line);
      if (match) {
        clearTimeout(timer);
        resolve(match[1]!);
      }
    });
    void exited.then(([code]) => {
      clearTimeout(timer);
      reject(new Error(`the seed server exited (${code}):\n${output.join('\n')}`));
    });
  });
  return { url, uploadDir, auditLog, output };
}
