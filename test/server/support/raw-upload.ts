import { request } from 'node:http';
import { randomBytes } from 'node:crypto';

/**
 * Sends a multipart upload by hand, streaming `size` bytes of generated content, so tests can upload
 * more than they hold in memory, or cut the connection half-way (`cutAfter`).
 */
export function rawUpload(baseUrl: string, options: {
  cookie: string; csrfToken: string; filename: string; size: number; cutAfter?: number; chunk?: Buffer;
}): Promise<{ status: number; body: string } | { cut: true }> {
  const boundary = `----canota${randomBytes(8).toString('hex')}`;
  const head = Buffer.from(
    `--${boundary}\r\nContent-Disposition: form-data; name="csrf_token"\r\n\r\n${options.csrfToken}\r\n` +
    `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="${options.filename}"\r\n` +
    'Content-Type: application/octet-stream\r\n\r\n');
  const tail = Buffer.from(`\r\n--${boundary}--\r\n`);
  const url = new URL(baseUrl);
  // 0xA5 bytes: no text (the server refuses text files as firmware images).
  const chunk = options.chunk ?? Buffer.alloc(1024 * 1024, 0xa5);
  return new Promise((resolve, reject) => {
    const req = request({
      host: url.hostname, port: url.port, path: '/upload', method: 'POST',
      headers: {
        cookie: options.cookie, accept: 'application/json',
        'content-type': `multipart/form-data; boundary=${boundary}`,
        'content-length': head.length + options.size + tail.length,
      },
    }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (c: string) => { body += c; }).on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', (error) => (options.cutAfter !== undefined ? resolve({ cut: true }) : reject(error)));
    let sent = 0;
    const pump = () => {
      while (sent < options.size) {
        if (options.cutAfter !== undefined && sent >= options.cutAfter) {
          // Give the server a moment to write what it got, then vanish mid-upload.
          setTimeout(() => { req.destroy(); resolve({ cut: true }); }, 300);
          return;
        }
        const piece = chunk.subarray(0, Math.min(chunk.length, options.size - sent));
        sent += piece.length;
        if (!req.write(piece)) {
          req.once('drain', pump);
          return;
        }
      }
      req.end(tail);
    };
    req.write(head);
    pump();
  });
}
