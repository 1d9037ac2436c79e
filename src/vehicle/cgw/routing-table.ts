import type { Bus } from '../../can/bus/bus.ts';
import { MAX_STANDARD_ID } from '../../can/bus/frame.ts';
import type { VehicleConfig } from '../config.ts';
import { VehicleConfigError } from '../config.ts';
import { ecuByName } from '../network.ts';

/** What the gateway does with a frame arriving on a segment, by id. */
export const enum RouteAction {
  Drop = 0,
  /** A configured route: forwarded at all times. */
  Route = 1,
  /** A diagnostic id of an approved ECU (or the functional id) while the firewall is open. */
  Diagnostic = 2,
  /** The CGW's own diagnostic request id (or the functional id while closed): served here, never forwarded. */
  Local = 3,
}

/** Another segment a frame goes to. */
export interface RouteTarget {
  readonly bus: Bus;
  readonly segment: string;
  /** The target segment runs CAN FD; an FD frame cannot go to a classic segment. */
  readonly fd: boolean;
}

/**
 * The decisions for frames arriving on one segment. 11-bit ids (all diagnostics, status frames) are
 * looked up in flat arrays so the hot path is two array reads; the rare 29-bit routes live in a Map.
 */
export class SegmentRoutes {
  readonly segment: string;
  readonly bus: Bus;
  readonly actions = new Uint8Array(MAX_STANDARD_ID + 1);
  readonly targets: (readonly RouteTarget[] | undefined)[] = new Array(MAX_STANDARD_ID + 1);
  readonly extendedTargets = new Map<number, readonly RouteTarget[]>();
  /** The configured state, restored when the firewall closes. */
  readonly #baseActions: Uint8Array;
  readonly #baseTargets: (readonly RouteTarget[] | undefined)[];

  constructor(segment: string, bus: Bus, routes: ReadonlyMap<number, RouteTarget[]>, extended: ReadonlyMap<number, RouteTarget[]>, local: readonly number[]) {
    this.segment = segment;
    this.bus = bus;
    for (const [id, targets] of routes) {
      this.actions[id] = RouteAction.Route;
      this.targets[id] = targets;
    }
    for (const [id, targets] of extended) this.extendedTargets.set(id, targets);
    for (const id of local) this.actions[id] = RouteAction.Local;
    this.#baseActions = this.actions.slice();
    this.#baseTargets = this.targets.slice();
  }

  /** Lets `id` through to `targets` while the firewall is open. */
  allow(id: number, targets: readonly RouteTarget[]): void {
    this.actions[id] = RouteAction.Diagnostic;
    this.targets[id] = targets;
  }

  /** Back to the configured routes: every diagnostic id is dropped (or served locally) again. */
  reset(): void {
    this.actions.set(this.#baseActions);
    for (let id = 0; id < this.targets.length; id += 1) this.targets[id] = this.#baseTargets[id];
  }
}

/** Which ids the firewall opens for a set of approved ECUs. */
export interface DiagnosticOpening {
  /** Segment the frame arrives on → ids → segments it goes to. */
  readonly allow: ReadonlyMap<string, ReadonlyMap<number, string[]>>;
  /** The approved ECUs that sit behind the gateway (others need no forwarding). */
  readonly forwardedEcus: readonly string[];
}

/**
 * The vehicle's routing plan, built once from its config: configured routes per segment, the diagnostic
 * ids of every ECU, where the tester (TMU) sits and which ids the gateway serves itself.
 */
export class RoutingPlan {
  readonly config: VehicleConfig;
  readonly gatewayName: string;
  readonly testerSegment: string;
  /** Every diagnostic id in the vehicle (no configured route may use one). */
  readonly diagnosticIds: ReadonlySet<number>;

  constructor(config: VehicleConfig) {
    this.config = config;
    this.gatewayName = config.gateway.ecu;
    this.testerSegment = ecuByName(config, config.tester).bus;
    const diagnostic = new Set<number>([config.functionalRequestId]);
    for (const ecu of config.ecus) {
      diagnostic.add(ecu.requestId);
      diagnostic.add(ecu.responseId);
    }
    this.diagnosticIds = diagnostic;
    for (const route of config.gateway.routes) {
      if (route.from === route.to) throw new VehicleConfigError(`gateway route from ${route.from} to itself`);
      for (const id of route.ids) {
        if (id <= MAX_STANDARD_ID && diagnostic.has(id)) {
          throw new VehicleConfigError(
            `gateway route ${route.from}→${route.to} lists diagnostic id 0x${id.toString(16)}: diagnostics pass only through the firewall`);
        }
      }
    }
  }

  /** One SegmentRoutes per segment, with the gateway's node `buses[segment]` on each. */
  segments(buses: ReadonlyMap<string, Bus>): Map<string, SegmentRoutes> {
    const config = this.config;
    const gateway = ecuByName(config, this.gatewayName);
    const target = (segment: string): RouteTarget => {
      const bus = buses.get(segment);
      if (!bus) throw new VehicleConfigError(`the gateway has no node on bus "${segment}"`);
      return { bus, segment, fd: config.buses[segment]!.fd };
    };
    const result = new Map<string, SegmentRoutes>();
    for (const segment of buses.keys()) {
      if (!config.buses[segment]) throw new VehicleConfigError(`the vehicle has no bus "${segment}"`);
      const routes = new Map<number, RouteTarget[]>();
      const extended = new Map<number, RouteTarget[]>();
      for (const route of config.gateway.routes) {
        if (route.from !== segment || !buses.has(route.to)) continue;
        for (const id of route.ids) {
          const table = id <= MAX_STANDARD_ID ? routes : extended;
          const list = table.get(id) ?? [];
          if (!list.some((t) => t.segment === route.to)) list.push(target(route.to));
          table.set(id, list);
        }
      }
      const local = segment === gateway.bus ? [gateway.requestId, config.functionalRequestId] : [];
      result.set(segment, new SegmentRoutes(segment, buses.get(segment)!, routes, extended, local));
    }
    return result;
  }

  /**
   * Requests of the approved ECUs go from the tester's segment to each ECU's segment, responses back;
   * the functional id goes to every segment with an approved ECU. The gateway's own ids never pass.
   */
  opening(ecuNames: readonly string[]): DiagnosticOpening {
    const config = this.config;
    const allow = new Map<string, Map<number, string[]>>();
    const add = (from: string, id: number, to: string) => {
      const ids = allow.get(from) ?? new Map<number, string[]>();
      const targets = ids.get(id) ?? [];
      if (!targets.includes(to)) targets.push(to);
      ids.set(id, targets);
      allow.set(from, ids);
    };
    const forwardedEcus: string[] = [];
    for (const name of ecuNames) {
      const ecu = ecuByName(config, name);
      if (ecu.name === this.gatewayName || ecu.bus === this.testerSegment) continue;
      forwardedEcus.push(ecu.name);
      add(this.testerSegment, ecu.requestId, ecu.bus);
      add(ecu.bus, ecu.responseId, this.testerSegment);
      add(this.testerSegment, config.functionalRequestId, ecu.bus);
    }
    return { allow, forwardedEcus };
  }
}
