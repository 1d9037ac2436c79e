import type { Bus } from '../bus/bus.ts';
import type { CanFrame } from '../bus/frame.ts';
import { IsoTpConfigurationError } from './errors.ts';

export type FrameHandler = (frame: CanFrame) => void;

interface Route {
  handlers: FrameHandler[];
  /** A physical (flow-controlled) channel owns its receive id alone; functional receivers may share one. */
  exclusive: boolean;
}

const routers = new WeakMap<Bus, FrameRouter>();

/**
 * One bus listener for all ISO-TP channels on a bus: a frame reaches its channel through one Map lookup
 * by id, however many channels share the bus (the Bus's own listener list is scanned linearly).
 */
export class FrameRouter {
  readonly #bus: Bus;
  readonly #routes = new Map<number, Route>();
  #unsubscribe: (() => void) | null = null;

  private constructor(bus: Bus) {
    this.#bus = bus;
  }

  static for(bus: Bus): FrameRouter {
    let router = routers.get(bus);
    if (!router) {
      router = new FrameRouter(bus);
      routers.set(bus, router);
    }
    return router;
  }

  /** Routes frames with this id to `handler`; returns the function that removes the route. */
  add(id: number, extended: boolean, handler: FrameHandler, exclusive: boolean): () => void {
    const key = routeKey(id, extended);
    let route = this.#routes.get(key);
    if (route && (route.exclusive || exclusive)) {
      throw new IsoTpConfigurationError(
        `an ISO-TP channel already receives on ${extended ? '29' : '11'}-bit id 0x${id.toString(16)} on bus ${this.#bus.channel}`);
    }
    if (!route) {
      route = { handlers: [], exclusive };
      this.#routes.set(key, route);
    }
    route.handlers.push(handler);
    this.#unsubscribe ??= this.#bus.onFrame(this.#dispatch);
    return () => {
      const index = route.handlers.indexOf(handler);
      if (index >= 0) route.handlers.splice(index, 1);
      if (route.handlers.length === 0) this.#routes.delete(key);
      if (this.#routes.size === 0 && this.#unsubscribe) {
        this.#unsubscribe();
        this.#unsubscribe = null;
      }
    };
  }

  readonly #dispatch = (frame: CanFrame): void => {
    if (frame.remote || frame.error || frame.data.length === 0) return;
    const route = this.#routes.get(frame.extended ? frame.id + 0x2000_0000 : frame.id);
    if (route === undefined) return;
    const handlers = route.handlers;
    if (handlers.length === 1) handlers[0]!(frame);
    else for (const handler of [...handlers]) handler(frame);
  };
}

function routeKey(id: number, extended: boolean): number {
  return extended ? id + 0x2000_0000 : id;
}
