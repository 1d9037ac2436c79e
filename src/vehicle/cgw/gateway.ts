import { EventEmitter } from 'node:events';
import type { Bus } from '../../can/bus/bus.ts';
import type { CanFrame } from '../../can/bus/frame.ts';
import type { Logger } from '../../logging/logger.ts';
import type { SecOcCounters } from '../../can/secoc/index.ts';
import type { VehicleConfig } from '../config.ts';
import { RouteAction, RoutingPlan, type RouteTarget, type SegmentRoutes } from './routing-table.ts';
import { SegmentCounters, type SegmentStatistics, type TrafficTotals } from './traffic-counters.ts';
import { CgwError } from './errors.ts';

/** docs/vehicle-protocol.md: the firewall closes after 120 s without diagnostic traffic. */
export const DEFAULT_INACTIVITY_MS = 120_000;

export type FirewallCloseReason = 'stop' | 'inactivity' | 'shutdown';

export interface FirewallState {
  open: boolean;
  /** ECUs whose diagnostic ids pass (those behind the gateway among the approved ones). */
  ecus: string[];
  openedAt: string | null;
  closedAt: string | null;
  closeReason: FirewallCloseReason | null;
}

/** What `canota vehicle status` shows and `firewall.json` holds. */
export interface GatewayStatistics {
  gateway: string;
  updatedAt: string;
  firewall: FirewallState;
  totals: TrafficTotals;
  /** By the segment the frames arrived on. */
  segments: Record<string, SegmentStatistics>;
  /**
   * The authenticated approval channel's requests (added by the CentralGateway): verified, and dropped as MAC
   * failures, replays or malformed (docs/in-vehicle-security.md).
   */
  approvalChannel?: SecOcCounters;
}

export interface GatewayOptions {
  config: VehicleConfig;
  /** The gateway's node on each segment it bridges (normally every bus of the vehicle). Stay the caller's. */
  buses: ReadonlyMap<string, Bus> | Readonly<Record<string, Bus>>;
  /** Close the firewall after this long without diagnostic traffic. Default 120 s. */
  inactivityMs?: number;
  /** Epoch milliseconds; injectable for tests. */
  now?: () => number;
  logger?: Logger;
}

interface GatewayEvents {
  opened: [FirewallState];
  closed: [FirewallState];
}

/**
 * The CGW's routing between the car's segments, which is its firewall: configured routes pass at all
 * times; the diagnostic ids of approved ECUs pass only between `open()` and `close()` (or until
 * `inactivityMs` without diagnostic traffic); the gateway's own diagnostic ids are served on its
 * segment and never forwarded; everything else is dropped and counted.
 *
 * Frames are forwarded from inside the receiving bus's listener, in arrival order, with no queue or
 * await of our own, so order is kept and a timed wire sees the forward as an immediate reaction.
 */
export class Gateway extends EventEmitter<GatewayEvents> {
  readonly plan: RoutingPlan;
  readonly inactivityMs: number;
  readonly #segments: Map<string, SegmentRoutes>;
  readonly #counters = new Map<string, SegmentCounters>();
  readonly #unsubscribe: (() => void)[] = [];
  readonly #now: () => number;
  readonly #logger: Logger | undefined;
  #firewall: FirewallState = { open: false, ecus: [], openedAt: null, closedAt: null, closeReason: null };
  /** Diagnostic frames seen (forwarded or for the gateway itself): the inactivity watch compares it. */
  #diagnosticFrames = 0;
  #watch: { timer: NodeJS.Timeout; seen: number; lastActivity: number } | null = null;
  #sendFailures = 0;
  #stopped = false;

  constructor(options: GatewayOptions) {
    super();
    this.plan = new RoutingPlan(options.config);
    this.inactivityMs = options.inactivityMs ?? DEFAULT_INACTIVITY_MS;
    this.#now = options.now ?? Date.now;
    this.#logger = options.logger;
    const buses = options.buses instanceof Map ? options.buses : new Map(Object.entries(options.buses));
    this.#segments = this.plan.segments(buses);
    for (const [name, routes] of this.#segments) {
      const counters = new SegmentCounters();
      this.#counters.set(name, counters);
      this.#unsubscribe.push(routes.bus.onFrame((frame) => this.#forward(routes, counters, frame)));
    }
  }

  get firewall(): FirewallState {
    return { ...this.#firewall, ecus: [...this.#firewall.ecus] };
  }

  /** Frames that could not be sent on a target segment (its bus closed or failed). */
  get sendFailures(): number {
    return this.#sendFailures;
  }

  /** Opens the firewall for the diagnostic ids of `ecuNames` (replacing an earlier opening). */
  open(ecuNames: readonly string[]): FirewallState {
    if (this.#stopped) throw new CgwError('the gateway is stopped');
    const opening = this.plan.opening(ecuNames);
    for (const routes of this.#segments.values()) routes.reset();
    for (const [from, ids] of opening.allow) {
      const routes = this.#segments.get(from);
      if (!routes) continue;
      for (const [id, to] of ids) {
        const targets = to.map((segment) => this.#segments.get(segment)).filter((target) => target !== undefined)
          .map((target): RouteTarget => ({ bus: target.bus, segment: target.segment, fd: this.plan.config.buses[target.segment]!.fd }));
        if (targets.length > 0) routes.allow(id, targets);
      }
    }
    this.#firewall = {
      open: true, ecus: [...opening.forwardedEcus], openedAt: new Date(this.#now()).toISOString(), closedAt: null, closeReason: null,
    };
    this.#startWatch();
    this.#logger?.info({ ecus: opening.forwardedEcus, inactivityMs: this.inactivityMs }, 'cgw firewall open');
    this.emit('opened', this.firewall);
    return this.firewall;
  }

  /** Closes the firewall: diagnostic ids are dropped again. Nothing happens if it is closed. */
  close(reason: FirewallCloseReason): void {
    if (!this.#firewall.open) return;
    for (const routes of this.#segments.values()) routes.reset();
    this.#stopWatch();
    this.#firewall = { ...this.#firewall, open: false, closedAt: new Date(this.#now()).toISOString(), closeReason: reason };
    this.#logger?.info({ reason, ecus: this.#firewall.ecus }, 'cgw firewall closed');
    this.emit('closed', this.firewall);
  }

  statistics(): GatewayStatistics {
    const segments: Record<string, SegmentStatistics> = {};
    const totals: TrafficTotals = { forwarded: 0, dropped: 0, local: 0 };
    for (const [name, counters] of this.#counters) {
      segments[name] = counters.snapshot();
      const segmentTotals = counters.totals();
      totals.forwarded += segmentTotals.forwarded;
      totals.dropped += segmentTotals.dropped;
      totals.local += segmentTotals.local;
    }
    return { gateway: this.plan.gatewayName, updatedAt: new Date(this.#now()).toISOString(), firewall: this.firewall, totals, segments };
  }

  /** Stops forwarding (the firewall closes with reason `shutdown`); the buses stay open. */
  stop(): void {
    if (this.#stopped) return;
    this.close('shutdown');
    this.#stopped = true;
    for (const unsubscribe of this.#unsubscribe) unsubscribe();
  }

  /** The hot path: one array read decides; no allocation beyond the send itself. */
  #forward(routes: SegmentRoutes, counters: SegmentCounters, frame: CanFrame): void {
    if (frame.error) {
      counters.errorFrames += 1;
      return;
    }
    if (frame.extended) {
      const targets = routes.extendedTargets.get(frame.id);
      if (targets) this.#send(targets, frame, counters);
      counters.countExtended(targets ? counters.extendedForwarded : counters.extendedDropped, frame.id);
      return;
    }
    const id = frame.id;
    const action = routes.actions[id];
    if (action === RouteAction.Route || action === RouteAction.Diagnostic) {
      if (action === RouteAction.Diagnostic) this.#diagnosticFrames += 1;
      if (this.#send(routes.targets[id]!, frame, counters)) counters.forwarded[id]! += 1;
      else counters.dropped[id]! += 1;
    } else if (action === RouteAction.Local) {
      this.#diagnosticFrames += 1;
      counters.local += 1;
    } else {
      counters.dropped[id]! += 1;
    }
  }

  /** Sends to every target that can carry the frame; false when none could. */
  #send(targets: readonly RouteTarget[], frame: CanFrame, counters: SegmentCounters): boolean {
    let sent = false;
    for (const target of targets) {
      if (frame.fd && !target.fd) {
        counters.unroutable += 1;
        continue;
      }
      target.bus.send(frame).then(undefined, this.#sendFailed);
      sent = true;
    }
    return sent;
  }

  readonly #sendFailed = (error: unknown): void => {
    this.#sendFailures += 1;
    // One line per burst: a closed segment would otherwise log every frame.
    if (this.#sendFailures === 1 || this.#sendFailures % 1000 === 0) {
      this.#logger?.warn({ err: error, failures: this.#sendFailures }, 'cgw could not forward a frame');
    }
  };

  #startWatch(): void {
    this.#stopWatch();
    // Checking a counter a few times per period keeps the clock off the per-frame path.
    const interval = Math.max(10, Math.min(1000, Math.floor(this.inactivityMs / 4)));
    const watch = { timer: setInterval(() => this.#checkActivity(), interval), seen: this.#diagnosticFrames, lastActivity: this.#now() };
    watch.timer.unref();
    this.#watch = watch;
  }

  #stopWatch(): void {
    if (this.#watch) clearInterval(this.#watch.timer);
    this.#watch = null;
  }

  #checkActivity(): void {
    const watch = this.#watch;
    if (!watch) return;
    const now = this.#now();
    if (this.#diagnosticFrames !== watch.seen) {
      watch.seen = this.#diagnosticFrames;
      watch.lastActivity = now;
    } else if (now - watch.lastActivity >= this.inactivityMs) {
      this.close('inactivity');
    }
  }
}
