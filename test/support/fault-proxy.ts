import { createServer, connect, type Socket, type Server } from 'node:net';
import { once } from 'node:events';
import { Transform, type TransformCallback } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';

/**
 * What goes wrong on one proxied connection. Byte counts and offsets are of the server→client stream of
 * that connection (HTTP headers included), so pick them well inside the file body.
 */
export interface ConnectionFault {
  /** Close the connection after forwarding this many bytes to the client (`reset`: with a TCP RST). */
  cutAfterBytes?: number;
  reset?: boolean;
  /** Invert every bit of the byte at this offset. */
  flipByteAt?: number;
  /** Forward this many bytes, then nothing more; the connection stays open (a stalled server). */
  stallAfterBytes?: number;
  /** Forward at most this many bytes per second. */
  bytesPerSecond?: number;
  /** Invert the first byte of every occurrence of this byte string (a marker inside the file), on every response. */
  corruptPattern?: Buffer;
  /** Answer the first request with this status (e.g. 503) without asking the server, then close. */
  respondStatus?: number;
  /**
   * Answers a request itself when this returns an answer for its request line (the server never sees it
   * and the connection closes after it); `body: 'endless'` sends zeros until the client hangs up.
   */
  intercept?: (requestLine: string) => InjectedAnswer | undefined;
  /** Rewrites each client→server chunk before it goes on (e.g. to replay an old nonce). */
  rewriteRequest?: (data: Buffer) => Buffer;
}

export interface InjectedAnswer {
  status: number;
  headers?: Record<string, string>;
  body?: Buffer | 'endless';
}

export interface FaultProxy {
  /** `http://127.0.0.1:PORT` of the proxy. */
  url: string;
  port: number;
  /** Connections accepted so far; the first is number 1. */
  readonly connections: number;
  /** Request lines clients sent (before any rewrite), in order, e.g. `GET /latest_version HTTP/1.1`. */
  readonly requests: string[];
  /** The same requests' header blocks (request line and headers), for checking what a client sent. */
  readonly requestHeads: string[];
  /** Chooses the fault of connection `n` (1-based); change it at any time for later connections. */
  plan: (connection: number) => ConnectionFault | undefined;
  close(): Promise<void>;
}

/**
 * A TCP proxy on loopback that injects faults between a real client and a real server: cuts, resets,
 * flipped bytes, stalls, throttling and canned 5xx answers, chosen per connection.
 */
export async function startFaultProxy(
  target: { host: string; port: number },
  plan: (connection: number) => ConnectionFault | undefined = () => undefined,
): Promise<FaultProxy> {
  const sockets = new Set<Socket>();
  const requests: string[] = [];
  const requestHeads: string[] = [];
  let connections = 0;
  const track = (socket: Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
  };
  const proxy: FaultProxy = {
    url: '',
    port: 0,
    get connections() { return connections; },
    requests,
    requestHeads,
    plan,
    close: async () => {
      for (const socket of sockets) socket.destroy();
      server.close();
      await once(server, 'close');
    },
  };

  const server: Server = createServer((client) => {
    connections += 1;
    const fault = proxy.plan(connections) ?? {};
    track(client);
    const requestLines = (data: Buffer) => {
      const text = data.toString('latin1');
      const lines: string[] = [];
      for (const match of text.matchAll(/^[A-Z]+ \S+ HTTP\/1\.[01]\r\n/gm)) {
        const end = text.indexOf('\r\n\r\n', match.index);
        requestHeads.push(text.slice(match.index, end === -1 ? undefined : end));
        lines.push(match[0].trimEnd());
      }
      return lines;
    };

    const intercept = fault.respondStatus !== undefined
      ? () => ({ status: fault.respondStatus!, body: Buffer.from(JSON.stringify({ error: `injected ${fault.respondStatus}` })) })
      : fault.intercept;
    const upstream = connect(target.port, target.host);
    track(upstream);
    let intercepted = false;
    const toServer = new Transform({
      transform(chunk: Buffer, _encoding, callback) {
        const lines = requestLines(chunk);
        requests.push(...lines);
        const answer = lines.map((line) => intercept?.(line)).find((found) => found !== undefined);
        if (answer) {
          intercepted = true;
          upstream.destroy();
          void answerWith(client, answer);
          callback();
          return;
        }
        callback(null, fault.rewriteRequest ? fault.rewriteRequest(chunk) : chunk);
      },
    });
    const toClient = new FaultStream(fault);
    toClient.on('cut', () => {
      upstream.destroy();
      // The client gets every byte before the cut, then a FIN (or, with `reset`, an RST).
      if (fault.reset) client.once('finish', () => client.resetAndDestroy());
    });
    client.pipe(toServer).pipe(upstream);
    // A stalled connection stays open even after the server finished and closed its side.
    upstream.pipe(toClient, { end: fault.stallAfterBytes === undefined }).pipe(client, { end: false });
    toClient.on('end', () => { if (!intercepted) client.end(); });
    client.on('close', () => upstream.destroy());
    upstream.on('error', () => { if (!intercepted) client.destroy(); });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('fault proxy has no TCP address');
  proxy.port = address.port;
  proxy.url = `http://127.0.0.1:${address.port}`;
  return proxy;
}

/** Writes an injected answer and closes; an endless body streams zeros (with back-pressure) until the client leaves. */
async function answerWith(client: Socket, answer: InjectedAnswer): Promise<void> {
  const headers: Record<string, string> = { 'content-type': 'application/json', connection: 'close', ...answer.headers };
  if (Buffer.isBuffer(answer.body)) headers['content-length'] = String(answer.body.length);
  const head = `HTTP/1.1 ${answer.status} Injected\r\n` +
    Object.entries(headers).map(([name, value]) => `${name}: ${value}\r\n`).join('') + '\r\n';
  client.write(head);
  if (answer.body !== 'endless') {
    client.end(answer.body ?? Buffer.alloc(0));
    return;
  }
  const zeros = Buffer.alloc(64 * 1024);
  while (!client.destroyed && client.writable) {
    if (client.write(zeros)) continue;
    // `once` rejects when the socket errors (the client hung up with a reset): that ends the answer too.
    await Promise.race([once(client, 'drain'), once(client, 'close')]).catch(() => undefined);
  }
}

/** The server→client direction: counts bytes and applies the connection's fault to them. */
class FaultStream extends Transform {
  #sent = 0;
  /** Trailing bytes held back because they may begin the corrupt pattern. */
  #held: Buffer = Buffer.alloc(0);
  #done = false;
  stalled = false;

  constructor(private readonly fault: ConnectionFault) {
    super();
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.#forward(this.#corrupt(chunk)).then(() => callback(), callback);
  }

  override _flush(callback: TransformCallback): void {
    const held = this.#held;
    this.#held = Buffer.alloc(0);
    this.#forward(held).then(() => callback(), callback);
  }

  /** Flips the first byte of each occurrence of the pattern, holding back a tail that may start one. */
  #corrupt(chunk: Buffer): Buffer {
    const pattern = this.fault.corruptPattern;
    if (!pattern || pattern.length === 0) return chunk;
    const data = Buffer.concat([this.#held, chunk]);
    for (let at = data.indexOf(pattern); at !== -1; at = data.indexOf(pattern, at + 1)) data[at] = data[at]! ^ 0xff;
    let keep = Math.min(pattern.length - 1, data.length);
    while (keep > 0 && !data.subarray(data.length - keep).equals(pattern.subarray(0, keep))) keep -= 1;
    this.#held = Buffer.from(data.subarray(data.length - keep));
    return data.subarray(0, data.length - keep);
  }

  async #forward(chunk: Buffer): Promise<void> {
    const { fault } = this;
    if (this.#done || this.stalled || chunk.length === 0) return;
    let data = Buffer.from(chunk);
    const start = this.#sent;
    if (fault.flipByteAt !== undefined && fault.flipByteAt >= start && fault.flipByteAt < start + data.length) {
      const index = fault.flipByteAt - start;
      data[index] = data[index]! ^ 0xff;
    }
    const limit = Math.min(fault.cutAfterBytes ?? Infinity, fault.stallAfterBytes ?? Infinity);
    const last = start + data.length >= limit;
    if (last) data = data.subarray(0, Math.max(0, limit - start));
    await this.#send(data);
    if (!last) return;
    if (fault.stallAfterBytes !== undefined && limit === fault.stallAfterBytes) {
      // Hold everything after this point; the connection stays open until someone closes it.
      this.stalled = true;
      return;
    }
    this.#done = true;
    this.push(null);
    this.emit('cut');
  }

  async #send(data: Buffer): Promise<void> {
    const rate = this.fault.bytesPerSecond;
    if (!rate) {
      this.#sent += data.length;
      this.push(data);
      return;
    }
    const piece = Math.max(1, Math.floor(rate / 20));
    for (let offset = 0; offset < data.length; offset += piece) {
      const part = data.subarray(offset, offset + piece);
      this.#sent += part.length;
      this.push(part);
      await sleep((part.length * 1000) / rate);
    }
  }
}
