import { MAX_STANDARD_ID } from '../../can/bus/frame.ts';

/** Counts of one segment's arriving frames, by what the gateway did with them. */
export interface SegmentStatistics {
  /** Forwarded to another segment, by CAN id (`"0x530"`; 29-bit ids with 8 hex digits). */
  forwarded: Record<string, number>;
  /** Dropped by the firewall, by CAN id. */
  dropped: Record<string, number>;
  /** Requests to the gateway itself (its own diagnostic id and the functional id), served here. */
  local: number;
  /** Allowed, but an FD frame could not go to a classic segment (counted in `dropped` too). */
  unroutable: number;
  /** Error frames the driver reported; never forwarded. */
  errorFrames: number;
}

export interface TrafficTotals {
  forwarded: number;
  dropped: number;
  local: number;
}

export const formatCanId = (id: number, extended: boolean): string =>
  `0x${id.toString(16).toUpperCase().padStart(extended ? 8 : 3, '0')}`;

/**
 * The per-id counters of one segment. 11-bit ids count in typed arrays (an increment on the hot path,
 * nothing allocated); 29-bit ids in Maps. Snapshots list only ids that were seen.
 */
export class SegmentCounters {
  readonly forwarded = new Float64Array(MAX_STANDARD_ID + 1);
  readonly dropped = new Float64Array(MAX_STANDARD_ID + 1);
  readonly extendedForwarded = new Map<number, number>();
  readonly extendedDropped = new Map<number, number>();
  local = 0;
  unroutable = 0;
  errorFrames = 0;

  countExtended(map: Map<number, number>, id: number): void {
    map.set(id, (map.get(id) ?? 0) + 1);
  }

  snapshot(): SegmentStatistics {
    return {
      forwarded: byId(this.forwarded, this.extendedForwarded),
      dropped: byId(this.dropped, this.extendedDropped),
      local: this.local,
      unroutable: this.unroutable,
      errorFrames: this.errorFrames,
    };
  }

  totals(): TrafficTotals {
    return { forwarded: sum(this.forwarded, this.extendedForwarded), dropped: sum(this.dropped, this.extendedDropped), local: this.local };
  }
}

function byId(standard: Float64Array, extended: ReadonlyMap<number, number>): Record<string, number> {
  const counts: Record<string, number> = {};
  for (let id = 0; id < standard.length; id += 1) {
    if (standard[id]! > 0) counts[formatCanId(id, false)] = standard[id]!;
  }
  for (const [id, count] of [...extended].sort(([a], [b]) => a - b)) counts[formatCanId(id, true)] = count;
  return counts;
}

function sum(standard: Float64Array, extended: ReadonlyMap<number, number>): number {
  let total = 0;
  for (const count of standard) total += count;
  for (const count of extended.values()) total += count;
  return total;
}
