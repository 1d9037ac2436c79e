import type { AddressInfo } from 'node:net';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import cookie from '@fastify/cookie';
import csrf from '@fastify/csrf-protection';
import formbody from '@fastify/formbody';
import helmet from '@fastify/helmet';
import fastifyStatic from '@fastify/static';
import type { Logger } from '../../../../logging/logger.ts';
import type { UpdateProgress, UpdateResult } from '../../approval-protocol.ts';
import { HmiError } from '../../errors.ts';
import type { DriverDecision, DriverHmi, PresentedOffer } from '../driver-hmi.ts';
import { HmiView, type HmiState } from './hmi-view.ts';
import { POSTPONE_CHOICES, hmiErrorPage, hmiPage } from './page.ts';
import { projectPath } from '../../../../project-root.ts';
import { errorMessage } from '../../../../errors/error-message.ts';

export interface WebHmiOptions {
  /** Default 127.0.0.1: the page decides over the car's software, so it is not on the network unless asked. */
  host?: string;
  /** Default 0 (any free port; see `url`). */
  port?: number;
  logger?: Logger;
  /** Epoch milliseconds, for tests. */
  now?: () => number;
}

const HTML = 'text/html; charset=utf-8';
const SSE_PING_MS = 15_000;

const decisionBody = {
  type: 'object',
  required: ['offer_id', 'decision'],
  properties: {
    offer_id: { type: 'string', maxLength: 64 },
    decision: { type: 'string', enum: ['approve', 'decline', 'later'] },
    postpone_minutes: { type: 'string', maxLength: 8 },
    _csrf: { type: 'string', maxLength: 256 },
  },
} as const;

interface DecisionBody {
  offer_id: string;
  decision: 'approve' | 'decline' | 'later';
  postpone_minutes?: string;
}

/** A refused request with the page that explains it. */
class HmiRequestError extends HmiError {
  override name = 'HmiRequestError';
  constructor(readonly statusCode: number, message: string) {
    super(message);
  }
}

/**
 * The driver's screen as a web page served by the vehicle process (`--hmi-port`): the offer, Approve /
 * Decline / Later, then live progress per ECU and the result. Server-rendered and escaped, plain HTML
 * forms (no JavaScript needed; with it, live updates over server-sent events), CSRF-protected decisions,
 * a strict Content-Security-Policy, and Host checking against DNS rebinding.
 */
export class WebHmi implements DriverHmi {
  readonly kind = 'hmi' as const;
  readonly view = new HmiView();
  readonly app: FastifyInstance;
  readonly #logger: Logger | undefined;
  readonly #now: () => number;
  readonly #host: string;
  /** The open question: the presented offer's id and how to answer it. */
  #question: { offerId: string; answer: (decision: DriverDecision) => void } | null = null;
  readonly #streams = new Set<FastifyReply>();
  #url = '';

  private constructor(options: WebHmiOptions) {
    this.#logger = options.logger;
    this.#now = options.now ?? Date.now;
    this.#host = options.host ?? '127.0.0.1';
    this.app = Fastify({ logger: false, bodyLimit: 16 * 1024, forceCloseConnections: true }) as unknown as FastifyInstance;
  }

  /** Starts the page's web server; `url` tells where it listens. */
  static async start(options: WebHmiOptions = {}): Promise<WebHmi> {
    const hmi = new WebHmi(options);
    await hmi.#routes();
    try {
      await hmi.app.listen({ host: hmi.#host, port: options.port ?? 0 });
    } catch (error) {
      await hmi.app.close();
      throw new HmiError(`the HMI cannot listen on ${hmi.#host}:${options.port ?? 0}: ${errorMessage(error)}`);
    }
    const address = hmi.app.server.address() as AddressInfo;
    const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
    hmi.#url = `http://${host}:${address.port}/`;
    hmi.#logger?.info({ url: hmi.#url }, `cgw HMI listening at ${hmi.#url}`);
    return hmi;
  }

  get url(): string {
    return this.#url;
  }

  present(offer: PresentedOffer, signal: AbortSignal): Promise<DriverDecision> {
    return new Promise((resolve) => {
      const onAbort = () => {
        if (this.#question?.offerId === offer.id) this.#question = null;
        this.view.withdrawn(offer.id);
      };
      this.#question = {
        offerId: offer.id,
        answer: (decision) => {
          signal.removeEventListener('abort', onAbort);
          this.#question = null;
          this.view.decided(offer.id, decision, this.#now());
          resolve(decision);
        },
      };
      signal.addEventListener('abort', onAbort, { once: true });
      this.view.ask(offer);
    });
  }

  progress(progress: UpdateProgress): void {
    this.view.progress(progress);
  }

  resumed(offer: PresentedOffer): void {
    this.view.resumed(offer);
  }

  result(result: UpdateResult): void {
    this.view.result(result);
  }

  async close(): Promise<void> {
    for (const reply of this.#streams) reply.raw.end();
    this.#streams.clear();
    await this.app.close();
  }

  async #routes(): Promise<void> {
    const app = this.app;
    await app.register(cookie);
    await app.register(csrf, { cookieOpts: { path: '/', sameSite: 'strict', httpOnly: true } });
    await app.register(helmet, {
      contentSecurityPolicy: {
        useDefaults: false,
        directives: {
          defaultSrc: ["'none'"], scriptSrc: ["'self'"], styleSrc: ["'self'"], imgSrc: ["'self'"], connectSrc: ["'self'"],
          formAction: ["'self'"], frameAncestors: ["'none'"], baseUri: ["'none'"], objectSrc: ["'none'"],
        },
      },
      // Plain HTTP on loopback: HSTS would make no sense.
      hsts: false,
    });
    // After helmet, so even the refusal carries the security headers.
    app.addHook('onRequest', async (request) => this.#checkHost(request));
    await app.register(formbody, { bodyLimit: 4096 });
    await app.register(fastifyStatic, {
      root: projectPath('src', 'vehicle', 'cgw', 'hmi', 'web', 'assets'), prefix: '/assets/', decorateReply: false,
    });

    app.setErrorHandler((error: Error & { statusCode?: number; code?: string }, request, reply) => {
      const status = error instanceof HmiRequestError ? error.statusCode
        : error.code?.startsWith('FST_CSRF') ? 403
          : error.statusCode && error.statusCode >= 400 && error.statusCode < 500 ? error.statusCode : 500;
      const message = status === 403 && error.code?.startsWith('FST_CSRF')
        ? 'This form has expired or did not come from this screen. Please reload the page and choose again.'
        : status >= 500 ? 'The update screen failed. Please reload the page.' : error.message;
      if (status >= 500) this.#logger?.error({ err: error, url: request.url }, 'cgw HMI request failed');
      void reply.code(status).type(HTML).header('cache-control', 'no-store').send(hmiErrorPage(message));
    });
    app.setNotFoundHandler((_request, reply) => {
      void reply.code(404).type(HTML).send(hmiErrorPage('There is no such page.'));
    });

    app.get('/', async (_request, reply) => {
      return reply.type(HTML).header('cache-control', 'no-store').send(hmiPage(this.view.state, reply.generateCsrf()));
    });

    // Browsers ask for it on every page; an empty answer keeps their consoles (and the tests) clean.
    app.get('/favicon.ico', async (_request, reply) => reply.code(204).header('cache-control', 'max-age=86400').send());

    app.get('/state', async (_request, reply) => reply.header('cache-control', 'no-store').send(this.view.state));

    app.get('/events', (request, reply) => this.#stream(request, reply));

    app.post<{ Body: DecisionBody }>('/decision', {
      schema: { body: decisionBody },
      preHandler: app.csrfProtection,
    }, async (request, reply) => {
      const body = request.body;
      const question = this.#question;
      if (!question || question.offerId !== body.offer_id) {
        throw new HmiRequestError(409, 'This update is no longer waiting for an answer.');
      }
      let decision: DriverDecision;
      if (body.decision === 'approve') decision = { decision: 'approve' };
      else if (body.decision === 'decline') decision = { decision: 'decline', reason: 'declined on the HMI' };
      else {
        const minutes = Number(body.postpone_minutes ?? '60');
        if (!POSTPONE_CHOICES.some((choice) => choice.minutes === minutes)) {
          throw new HmiRequestError(400, 'Please choose when to be reminded from the list.');
        }
        decision = { decision: 'postpone', seconds: minutes * 60 };
      }
      this.#logger?.info({ campaign: this.view.state.offer?.campaignId, decision: decision.decision }, 'cgw driver answered on the HMI');
      question.answer(decision);
      return reply.redirect('/', 303);
    });
  }

  /** Server-sent events: the whole state on connect and on every change. */
  #stream(request: FastifyRequest, reply: FastifyReply): void {
    reply.hijack();
    const response = reply.raw;
    response.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      'x-content-type-options': 'nosniff',
      connection: 'keep-alive',
    });
    const send = (state: HmiState) => response.write(`event: state\ndata: ${JSON.stringify(state)}\n\n`);
    send(this.view.state);
    const unsubscribe = this.view.subscribe(send);
    const ping = setInterval(() => response.write(': ping\n\n'), SSE_PING_MS);
    this.#streams.add(reply);
    request.raw.on('close', () => {
      unsubscribe();
      clearInterval(ping);
      this.#streams.delete(reply);
    });
  }

  /**
   * A page on loopback is still reachable from a hostile web page through DNS rebinding (evil.example
   * resolving to 127.0.0.1): such requests carry the attacker's Host, so only our own names are served.
   */
  #checkHost(request: FastifyRequest): void {
    const host = (request.headers.host ?? '').toLowerCase();
    const port = (this.app.server.address() as AddressInfo | null)?.port;
    const allowed = ['127.0.0.1', 'localhost', '[::1]', this.#host.includes(':') ? `[${this.#host}]` : this.#host]
      .map((name) => `${name}:${port}`);
    const wildcard = this.#host === '0.0.0.0' || this.#host === '::';
    if (!wildcard && !allowed.includes(host)) {
      throw new HmiRequestError(421, 'This screen answers only under its own address.');
    }
  }
}
