import { once } from 'node:events';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { TestContext } from 'node:test';

export type StubHandler = (request: IncomingMessage, response: ServerResponse, body: string) => void;

/**
 * A real HTTP server on 127.0.0.1, port 0, answering each path as its handler says (500 for any other):
 * for the status, size, syntax and timing faults the real canota server never produces on purpose.
 * Resolves with its base URL; closed (stalled answers cut) when the test ends.
 */
export async function startStubServer(t: Pick<TestContext, 'after'>, routes: Record<string, StubHandler>): Promise<string> {
  const sockets = new Set<Socket>();
  const server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const handler = routes[new URL(request.url ?? '/', 'http://stub').pathname];
      if (handler) handler(request, response, Buffer.concat(chunks).toString('utf8'));
      else response.writeHead(500).end('no such stub route');
    });
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.after(async () => {
    // Stalled answers never end on their own.
    for (const socket of sockets) socket.destroy();
    await new Promise((resolve) => server.close(resolve));
  });
  const { port } = server.address() as { port: number };
  return `http://127.0.0.1:${port}/`;
}

/** A handler answering `status` with `body` as JSON. */
export const jsonAnswer = (status: number, body: unknown, headers: Record<string, string> = {}): StubHandler =>
  (_request, response) => {
    response.writeHead(status, { 'content-type': 'application/json', ...headers }).end(JSON.stringify(body));
  };
