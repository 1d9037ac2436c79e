import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { createServer } from 'node:http';
import fc from 'fast-check';
import { DownloadAgent, type AttemptFailure } from '../../src/client/index.ts';
import { ClientError } from '../../src/client/errors.ts';
import {
  formatContentRange, parseContentRange, planBody, resumeHeaders, sameEntityTag, type DownloadAnswer,
} from '../../src/client/range.ts';
import { clientDirs } from './support/client-run.ts';

const sizes = fc.integer({ min: 1, max: 2 ** 40 });

test('Content-Range: format and parse round-trip', () => {
  fc.assert(fc.property(sizes, fc.nat(), fc.nat(), fc.boolean(), (total, a, b, knownTotal) => {
    const start = a % total;
    const end = start + (b % (total - start));
    const range = { start, end, total: knownTotal ? total : undefined };
    assert.deepEqual(parseContentRange(formatContentRange(range)), range);
  }));
  fc.assert(fc.property(sizes, (total) => {
    assert.deepEqual(parseContentRange(`bytes */${total}`), { start: undefined, end: undefined, total });
  }));
});

test('Content-Range: impossible or malformed values are rejected', () => {
  for (const bad of ['bytes 5-4/10', 'bytes 0-10/10', 'bytes */*', 'bytes=0-1/2', 'items 0-1/2', 'bytes 0-/10', '', 'bytes 1-2/x',
    `bytes 0-1/${'9'.repeat(30)}`]) {
    assert.equal(parseContentRange(bad), null, bad);
  }
  fc.assert(fc.property(fc.string(), (text) => {
    const parsed = parseContentRange(text);
    if (parsed?.start !== undefined) {
      assert.ok(parsed.end! >= parsed.start);
      if (parsed.total !== undefined) assert.ok(parsed.end! < parsed.total);
    }
  }));
});

test('resume headers: Range from the offset, If-Range only with a strong ETag, nothing at 0', () => {
  fc.assert(fc.property(fc.integer({ min: 1, max: 2 ** 40 }), (offset) => {
    assert.deepEqual(resumeHeaders(offset, '"abc"'), { range: `bytes=${offset}-`, 'if-range': '"abc"' });
    assert.deepEqual(resumeHeaders(offset, 'W/"abc"'), { range: `bytes=${offset}-` });
    assert.deepEqual(resumeHeaders(offset, undefined), { range: `bytes=${offset}-` });
  }));
  assert.deepEqual(resumeHeaders(0, '"abc"'), {});
  assert.ok(sameEntityTag('"a"', '"a"'));
  assert.ok(!sameEntityTag('W/"a"', 'W/"a"'));
  assert.ok(!sameEntityTag('"a"', '"b"'));
  assert.ok(!sameEntityTag(undefined, '"a"'));
});

/** What an honest server (canota's, Werkzeug's) answers to `Range: bytes=offset-` for a file of `size` bytes. */
function honestAnswer(size: number, offset: number, announced: boolean): DownloadAnswer {
  const announcedSize = announced ? size : undefined;
  if (offset === 0) return { status: 200, offset, contentLength: size, contentRange: undefined, announcedSize };
  if (offset >= size) return { status: 416, offset, contentLength: undefined, contentRange: `bytes */${size}`, announcedSize };
  return { status: 206, offset, contentLength: size - offset, contentRange: `bytes ${offset}-${size - 1}/${size}`, announcedSize };
}

test('planBody: an honest server\'s answer always continues exactly where the disk ends', () => {
  fc.assert(fc.property(sizes, fc.nat(), fc.boolean(), (size, n, announced) => {
    const offset = n % (size + 1);
    const plan = planBody(honestAnswer(size, offset, announced));
    if (offset === 0) assert.deepEqual(plan, { kind: 'from-start', total: size });
    else if (offset === size) assert.deepEqual(plan, { kind: 'complete', total: size });
    else assert.deepEqual(plan, { kind: 'append', total: size });
  }));
});

test('planBody: a partial file longer than the file is thrown away (416)', () => {
  fc.assert(fc.property(sizes, fc.integer({ min: 1, max: 1000 }), (size, extra) => {
    assert.deepEqual(planBody(honestAnswer(size, size + extra, true)), { kind: 'discard' });
  }));
});

test('planBody: a server that ignores Range (200) makes the client start over', () => {
  fc.assert(fc.property(sizes, fc.nat(), (size, n) => {
    const offset = n % size;
    assert.deepEqual(planBody({ status: 200, offset, contentLength: size, contentRange: undefined, announcedSize: size }),
      { kind: 'from-start', total: size });
  }));
});

test('planBody: answers that contradict the request or the announcement are refused before any byte is written', () => {
  fc.assert(fc.property(fc.integer({ min: 10, max: 2 ** 40 }), fc.nat(), fc.integer({ min: 1, max: 5 }), (size, n, skew) => {
    const offset = 1 + (n % (size - 2));
    const reason = (answer: DownloadAnswer) => {
      try {
        planBody(answer);
      } catch (error) {
        assert.ok(error instanceof ClientError);
        return error.reason;
      }
      return 'accepted';
    };
    const honest = honestAnswer(size, offset, true);
    // A part starting elsewhere than asked.
    assert.equal(reason({ ...honest, contentRange: `bytes ${offset - 1}-${size - 1}/${size}`, contentLength: size - offset + 1 }), 'bad-response');
    // A file of another length than announced.
    assert.equal(reason({ ...honest, contentRange: `bytes ${offset}-${size - 1 + skew}/${size + skew}`, contentLength: size - offset + skew }),
      'length-mismatch');
    assert.equal(reason({ status: 200, offset: 0, contentLength: size + skew, contentRange: undefined, announcedSize: size }), 'length-mismatch');
    // A part ending early, a Content-Length disagreeing with the range, a missing range, 206 to a plain GET.
    assert.equal(reason({ ...honest, contentRange: `bytes ${offset}-${size - 2}/${size}`, contentLength: size - offset - 1 }), 'bad-response');
    assert.equal(reason({ ...honest, contentLength: size - offset + skew }), 'bad-response');
    assert.equal(reason({ ...honest, contentRange: undefined }), 'bad-response');
    // A 206 to a plain GET, even one covering the whole file from byte 0 (so only the missing Range can be wrong).
    assert.equal(reason({ ...honest, offset: 0, contentRange: `bytes 0-${size - 1}/${size}`, contentLength: size }), 'bad-response');
    assert.equal(reason({ ...honest, status: 204 }), 'bad-response');
  }));
});

/** The ClientError planBody throws for `answer`, or a failure when it accepts it. */
function refusal(answer: DownloadAnswer): ClientError {
  try {
    planBody(answer);
  } catch (error) {
    assert.ok(error instanceof ClientError, String(error));
    return error;
  }
  assert.fail(`accepted ${JSON.stringify(answer)}`);
}

test('planBody, 416: complete only when the range says the file is exactly what is on disk', () => {
  const answer416 = (offset: number, contentRange: string | undefined, announcedSize: number | undefined): DownloadAnswer =>
    ({ status: 416, offset, contentLength: 0, contentRange, announcedSize });
  assert.deepEqual(planBody(answer416(1000, 'bytes */1000', 1000)), { kind: 'complete', total: 1000 });
  assert.deepEqual(planBody(answer416(1000, 'bytes */1000', undefined)), { kind: 'complete', total: 1000 }, 'no announcement to contradict');
  assert.deepEqual(planBody(answer416(1000, 'bytes */1000', 999)), { kind: 'discard' }, 'the file is not the one announced');
  assert.deepEqual(planBody(answer416(1000, 'bytes */999', 999)), { kind: 'discard' }, 'more on disk than the file holds');
  assert.deepEqual(planBody(answer416(999, 'bytes */1000', 1000)), { kind: 'discard' }, 'a 416 for bytes the file has');
  // A 416 that does not say how long the file is (RFC 9110 §14.4 asks for `bytes */length`): nothing on
  // disk can be trusted to be complete, so it goes, and the next try starts from byte 0.
  assert.deepEqual(planBody(answer416(1000, undefined, 1000)), { kind: 'discard' });
  assert.deepEqual(planBody(answer416(1000, undefined, undefined)), { kind: 'discard' });
  assert.deepEqual(planBody(answer416(1000, 'bytes */*', 1000)), { kind: 'discard' });
  assert.deepEqual(planBody(answer416(1000, 'garbage', 1000)), { kind: 'discard' });
});

test('planBody, 206: an unknown total (`/*`) or a missing Content-Length is fine when the rest adds up', () => {
  const part = (contentRange: string, contentLength: number | undefined, announcedSize: number | undefined): DownloadAnswer =>
    ({ status: 206, offset: 100, contentLength, contentRange, announcedSize });
  assert.deepEqual(planBody(part('bytes 100-999/*', 900, 1000)), { kind: 'append', total: 1000 }, 'the total is the announced size');
  assert.deepEqual(planBody(part('bytes 100-999/*', 900, undefined)), { kind: 'append', total: undefined }, 'neither knows the size');
  assert.deepEqual(planBody(part('bytes 100-999/1000', undefined, 1000)), { kind: 'append', total: 1000 });
  assert.deepEqual(planBody(part('bytes 100-999/1000', undefined, undefined)), { kind: 'append', total: 1000 });
  // With `/*`, the announced size still decides where the part must end.
  assert.match(refusal(part('bytes 100-998/*', 899, 1000)).message, /got only up to 998/);
  assert.equal(refusal(part('bytes 100-998/*', 899, 1000)).reason, 'bad-response');
  // Without Content-Length the other checks still hold.
  assert.match(refusal(part('bytes 101-999/1000', undefined, 1000)).message, /asked for bytes from 100, got a part from 101/);
  assert.equal(refusal(part('bytes 100-1099/1100', undefined, 1000)).reason, 'length-mismatch');
  // A Content-Length one byte off either way.
  assert.match(refusal(part('bytes 100-999/1000', 901, 1000)).message, /Content-Length 901 does not match/);
  assert.match(refusal(part('bytes 100-999/1000', 899, 1000)).message, /Content-Length 899 does not match/);
  // An unsatisfied-range form is no part at all.
  assert.match(refusal(part('bytes */1000', 900, 1000)).message, /missing or bad Content-Range/);
});

test('planBody, 200: from the start, sized by the announcement or else the Content-Length', () => {
  assert.deepEqual(planBody({ status: 200, offset: 0, contentLength: 10, contentRange: undefined, announcedSize: undefined }),
    { kind: 'from-start', total: 10 });
  assert.deepEqual(planBody({ status: 200, offset: 0, contentLength: undefined, contentRange: undefined, announcedSize: 10 }),
    { kind: 'from-start', total: 10 });
  assert.deepEqual(planBody({ status: 200, offset: 5, contentLength: undefined, contentRange: undefined, announcedSize: undefined }),
    { kind: 'from-start', total: undefined });
  assert.equal(refusal({ status: 200, offset: 0, contentLength: 9, contentRange: undefined, announcedSize: 10 }).reason, 'length-mismatch');
  for (const status of [201, 204, 304, 404, 500]) {
    assert.match(refusal({ status, offset: 0, contentLength: 0, contentRange: undefined, announcedSize: 10 }).message,
      new RegExp(`unexpected status ${status}`));
  }
});

test('a bodiless 416 without Content-Range: the partial file is dropped and the next try downloads it whole', async (t) => {
  const file = Buffer.from(Array.from({ length: 100_000 }, (_, i) => (i * 7) & 0xff));
  const sha256 = createHash('sha256').update(file).digest('hex');
  const ranges: Array<string | undefined> = [];
  const http = createServer((request, response) => {
    if (request.url === '/latest_version') {
      response.writeHead(200, { 'content-type': 'application/json' })
        .end(JSON.stringify({ version: 'fw.bin', mtime: 1, sha256, size: file.length }));
    } else if (request.url === '/get_nonce') {
      response.writeHead(200, { 'content-type': 'application/json' }).end('{"nonce":"0123456789abcdef","expires_in":60}');
    } else if (request.url?.startsWith('/ota_download/fw.bin?')) {
      ranges.push(request.headers.range);
      if (ranges.length === 1) {
        // Cut after 40 kB, so the next try asks for the rest.
        response.writeHead(200, { 'content-length': file.length });
        response.write(file.subarray(0, 40_000), () => response.destroy());
      } else if (request.headers.range) {
        response.writeHead(416).end();
      } else {
        response.writeHead(200, { 'content-length': file.length }).end(file);
      }
    } else {
      response.writeHead(404).end();
    }
  });
  http.listen(0, '127.0.0.1');
  await once(http, 'listening');
  t.after(() => http.close());
  const dirs = await clientDirs(t);
  const agent = new DownloadAgent({ server: `http://127.0.0.1:${(http.address() as { port: number }).port}`, ...dirs,
    maxRetry: 3, retryBackoffSeconds: 0.01 });
  t.after(() => agent.close());
  const failures: AttemptFailure[] = [];
  agent.on('attempt-failed', (failure) => failures.push(failure));

  const outcome = await agent.checkOnce();
  assert.equal(outcome.status, 'downloaded', JSON.stringify(outcome));
  assert.deepEqual(ranges, [undefined, 'bytes=40000-', undefined]);
  assert.deepEqual(failures.map((failure) => failure.reason), ['connection', 'bad-response']);
  assert.match(failures[1]!.message, /cannot continue our partial file from byte 40000 \(416\)/);
});

/**
 * A model of the whole resume loop: a file, a server that may cut each answer anywhere, ignore Range now
 * and then, and a disk that keeps whatever arrived. Whatever happens, the bytes on disk end up equal to
 * the file, and no try ever writes a byte at the wrong place.
 */
test('the resume loop rebuilds the file exactly, whatever the cuts', () => {
  fc.assert(fc.property(
    fc.uint8Array({ minLength: 1, maxLength: 2000 }),
    fc.array(fc.record({ cutAt: fc.nat(), ignoresRange: fc.boolean() }), { maxLength: 8 }),
    fc.boolean(),
    (file, faults, announced) => {
      let disk = new Uint8Array(0);
      for (const fault of [...faults, { cutAt: Number.MAX_SAFE_INTEGER, ignoresRange: false }]) {
        const offset = disk.length;
        const honest = honestAnswer(file.length, offset, announced);
        const answer = fault.ignoresRange && offset > 0
          ? { status: 200, offset, contentLength: file.length, contentRange: undefined, announcedSize: honest.announcedSize }
          : honest;
        const plan = planBody(answer);
        if (plan.kind === 'complete') break;
        assert.notEqual(plan.kind, 'discard');
        const from = plan.kind === 'from-start' ? 0 : offset;
        const body = file.subarray(from, from + Math.min(fault.cutAt, file.length - from));
        const next = new Uint8Array(from + body.length);
        next.set(disk.subarray(0, from));
        next.set(body, from);
        disk = next;
        if (disk.length === file.length) break;
      }
      assert.deepEqual(disk, file);
    },
  ));
});

test('Content-Range: only the whole header value, with any blanks after `bytes`, and no part beyond 2^53', () => {
  assert.deepEqual(parseContentRange('bytes  0-9/10'), { start: 0, end: 9, total: 10 });
  assert.deepEqual(parseContentRange('bytes\t0-9/10'), { start: 0, end: 9, total: 10 });
  assert.deepEqual(parseContentRange(' bytes 0-9/10 '), { start: 0, end: 9, total: 10 });
  assert.deepEqual(parseContentRange('BYTES */10'), { start: undefined, end: undefined, total: 10 });
  for (const bad of ['xbytes 0-9/10', 'bytes 0-9/10x', 'bytes 0-9/10, bytes 0-1/10', 'bytes0-9/10', 'bytes 3-2/*', 'bytes 5-3/10',
    `bytes ${'9'.repeat(20)}-${'9'.repeat(21)}/*`, `bytes 0-${'9'.repeat(20)}/*`, `bytes ${'9'.repeat(20)}-5/*`, `bytes ${2 ** 53}-${2 ** 53 + 2}/*`]) {
    assert.equal(parseContentRange(bad), null, bad);
  }
  assert.deepEqual(parseContentRange(`bytes 0-${2 ** 53 - 2}/${2 ** 53 - 1}`), { start: 0, end: 2 ** 53 - 2, total: 2 ** 53 - 1 });
});

test('Content-Range: the unsatisfied form is formatted as `bytes */length`', () => {
  assert.equal(formatContentRange({ start: undefined, end: undefined, total: 1000 }), 'bytes */1000');
  assert.equal(formatContentRange({ start: 0, end: undefined, total: 1000 }), 'bytes */1000');
  assert.equal(formatContentRange({ start: undefined, end: 5, total: undefined }), 'bytes */*');
  assert.equal(formatContentRange({ start: 2, end: 5, total: undefined }), 'bytes 2-5/*');
});

test('ETags: a weak tag is never the same, whichever side it is on; an absent one neither', () => {
  assert.ok(!sameEntityTag('"a"', undefined));
  assert.ok(!sameEntityTag(undefined, undefined));
  assert.ok(!sameEntityTag('W/"a"', '"a"'));
  assert.ok(!sameEntityTag('"a"', 'W/"a"'));
  assert.deepEqual(resumeHeaders(-1, '"a"'), {});
  assert.deepEqual(resumeHeaders(1, ''), { range: 'bytes=1-' });
});

test('planBody: every refusal says why, with the HTTP status where one was answered', () => {
  const part = (contentRange: string | undefined, contentLength: number | undefined, announcedSize: number | undefined, offset = 100): DownloadAnswer =>
    ({ status: 206, offset, contentLength, contentRange, announcedSize });
  const refused = (answer: DownloadAnswer) => {
    const error = refusal(answer);
    return { reason: error.reason, message: error.message, status: error.status };
  };
  assert.deepEqual(refused({ status: 200, offset: 0, contentLength: 9, contentRange: undefined, announcedSize: 10 }),
    { reason: 'length-mismatch', message: 'the server sends 9 bytes but announced 10', status: undefined });
  assert.deepEqual(refused(part('bytes 0-999/1000', 1000, 1000, 0)),
    { reason: 'bad-response', message: 'a 206 answer to a request without Range', status: 206 });
  assert.deepEqual(refused(part(undefined, 900, 1000)),
    { reason: 'bad-response', message: '206 with a missing or bad Content-Range: undefined', status: 206 });
  assert.deepEqual(refused(part('bytes */1000', 900, 1000)),
    { reason: 'bad-response', message: '206 with a missing or bad Content-Range: bytes */1000', status: 206 });
  assert.deepEqual(refused(part('bytes 101-999/1000', 899, 1000)),
    { reason: 'bad-response', message: 'asked for bytes from 100, got a part from 101', status: 206 });
  assert.deepEqual(refused(part('bytes 100-1099/1100', 1000, 1000)),
    { reason: 'length-mismatch', message: 'the server\'s file has 1100 bytes but 1000 were announced', status: undefined });
  assert.deepEqual(refused(part('bytes 100-998/1000', 899, 1000)),
    { reason: 'bad-response', message: 'asked for bytes 100- of 1000, got only up to 998', status: 206 });
  assert.deepEqual(refused(part('bytes 100-999/1000', 901, 1000)),
    { reason: 'bad-response', message: 'Content-Length 901 does not match Content-Range bytes 100-999/1000', status: 206 });
  assert.deepEqual(refused({ status: 302, offset: 0, contentLength: 0, contentRange: undefined, announcedSize: 10 }),
    { reason: 'bad-response', message: 'unexpected status 302 for a download', status: 302 });
});

test('planBody, 206: a total the server does not know and an announced size it contradicts', () => {
  // Neither side knows the total: the part is taken as it comes.
  assert.deepEqual(planBody({ status: 206, offset: 100, contentLength: undefined, contentRange: 'bytes 100-149/*', announcedSize: undefined }),
    { kind: 'append', total: undefined });
  // The server's total agrees with the announcement only when both are there.
  assert.equal(refusal({ status: 206, offset: 100, contentLength: 50, contentRange: 'bytes 100-149/150', announcedSize: 151 }).reason,
    'length-mismatch');
});
