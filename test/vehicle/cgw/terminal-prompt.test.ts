import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import { parseAnswer } from '../../../src/vehicle/cgw/hmi/terminal-prompt.ts';
import { eventually } from './support.ts';

const fixture = fileURLToPath(new URL('./fixtures/prompt-vehicle.ts', import.meta.url));
const repository = fileURLToPath(new URL('../../../', import.meta.url));

/** Runs a command with piped stdio, collecting stdout and stderr; killed after the test. */
function run(t: { after: (fn: () => void) => void }, command: string, args: string[]) {
  const child = spawn(command, args, { cwd: repository, stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, TERM: 'dumb' } });
  const output = { stdout: '', stderr: '' };
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => { output.stdout += chunk; });
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => { output.stderr += chunk; });
  const exited = once(child, 'exit').then(([code, signal]) => (code ?? signal) as number | string);
  t.after(() => { if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL'); });
  const count = (text: string, part: string) => text.split(part).length - 1;
  return { child, output, exited, count };
}

test('answers: y/yes approve, n/no decline, l/later [minutes] postpone, anything else is asked again', () => {
  assert.deepEqual(parseAnswer(' Yes '), { decision: 'approve' });
  assert.deepEqual(parseAnswer('y'), { decision: 'approve' });
  assert.deepEqual(parseAnswer('no'), { decision: 'decline', reason: 'declined at the terminal' });
  assert.deepEqual(parseAnswer('l'), { decision: 'postpone', seconds: 3600 });
  assert.deepEqual(parseAnswer('later 5'), { decision: 'postpone', seconds: 300 });
  assert.deepEqual(parseAnswer('l', 15), { decision: 'postpone', seconds: 900 });
  assert.deepEqual(parseAnswer('later 999999'), { decision: 'postpone', seconds: 30 * 24 * 3600 });
  for (const other of ['', 'ok', 'yess', 'later 0', 'later -5', 'later soon', 'y n']) assert.equal(parseAnswer(other), null, other);
});

test('through a pipe: the offer is asked on stderr and answered on stdin; a closed stdin declines', async (t) => {
  const { child, output, exited, count } = run(t, process.execPath, ['--import', 'tsx', fixture, 'c1', 'c2', 'c3']);
  await eventually(() => count(output.stderr, 'Install now?') === 1, 'the first question', 15_000);
  assert.match(output.stderr, /Software update c1:\n {2}EDT: 1\.0\.0 -> 2\.0\.0 \(256\.0 KiB, about \d+ s\)/);
  assert.match(output.stderr, /Release notes of c1\?\[31m \(no escape codes/, 'control characters are neutralised');
  assert.ok(!output.stderr.includes('\u001b'), 'no escape character reaches the terminal');
  assert.match(output.stdout, /^STDIN pipe$/m);
  child.stdin.write('yes\n');
  await eventually(() => output.stdout.includes('DECISION c1 {"state":"approved"}'), 'approved', 10_000);

  await eventually(() => count(output.stderr, 'Software update c2:') === 1, 'the second question', 10_000);
  child.stdin.write('later 5\n');
  await eventually(() => output.stdout.includes('DECISION c2 {"state":"postponed","retryAfterSeconds":300}'), 'postponed', 10_000);

  await eventually(() => count(output.stderr, 'Software update c3:') === 1, 'the third question', 10_000);
  child.stdin.end();
  await eventually(() => output.stdout.includes('DECISION c3 {"state":"declined"}'), 'declined on EOF', 10_000);
  assert.equal(await exited, 0, output.stderr);
  assert.match(output.stderr, /Approved: installing\.\n {2}EDT: programming 50%\nUpdate installed\./);
  assert.match(output.stderr, /Postponed by 5 min\./);
  assert.match(output.stderr, /Declined: nobody can answer \(the terminal input ended\)\./);
});

test('on a terminal (a pty through script(1)): the same question, answered by typing', async (t) => {
  const command = [process.execPath, '--import', 'tsx', fixture, 'c1', 'c2'].map((part) => `'${part}'`).join(' ');
  const { child, output, exited, count } = run(t, 'script', ['-qfec', command, '/dev/null']);
  await eventually(() => count(output.stdout, 'Install now?') === 1, 'the question on the pty', 15_000);
  assert.match(output.stdout, /^STDIN tty\r?$/m);
  child.stdin.write('what?\r');
  await eventually(() => output.stdout.includes('Please answer y, n or l'), 'asked again', 10_000);
  child.stdin.write('y\r');
  await eventually(() => output.stdout.includes('DECISION c1 {"state":"approved"}'), 'approved', 10_000);
  await eventually(() => count(output.stdout, 'Software update c2:') === 1, 'the second question', 10_000);
  child.stdin.write('n\r');
  await eventually(() => output.stdout.includes('DECISION c2 {"state":"declined"}'), 'declined', 10_000);
  assert.equal(await exited, 0, output.stdout);
});
