import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { ClientError } from '../../src/client/errors.ts';
import {
  formatContentRange, parseContentRange, planBody, resumeHeaders, sameEntityTag, type DownloadAnswer,
} from '../../src/client/range.ts';

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
    assert.equal(reason({ ...honest, offset: 0 }), 'bad-response');
    assert.equal(reason({ ...honest, status: 204 }), 'bad-response');
  }));
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
