/**
 * What a receiver did with the Secured I-PDUs it was given (SWS_SecOC's verification results, counted):
 * `verified` accepted; `macFailures` no freshness candidate made the MAC match (a forgery, a corrupted
 * frame, a wrong key, or a sender too far ahead to resynchronise); `replays` the MAC matched only an already
 * accepted freshness; `malformed` not a Secured I-PDU of this profile (wrong length).
 */
export interface SecOcCounters {
  verified: number;
  macFailures: number;
  replays: number;
  malformed: number;
}

export const zeroCounters = (): SecOcCounters => ({ verified: 0, macFailures: 0, replays: 0, malformed: 0 });

/** The sum of several receivers' counters (e.g. everything one ECU receives). */
export function addCounters(...all: SecOcCounters[]): SecOcCounters {
  const sum = zeroCounters();
  for (const counters of all) {
    sum.verified += counters.verified;
    sum.macFailures += counters.macFailures;
    sum.replays += counters.replays;
    sum.malformed += counters.malformed;
  }
  return sum;
}

/** Rejections of any kind. */
export const rejectedCount = (counters: SecOcCounters): number => counters.macFailures + counters.replays + counters.malformed;
