import type { VehicleConfig } from '../config.ts';

/**
 * One symmetric key of the vehicle and the ECUs that hold it: a communication relationship in AUTOSAR
 * SecOC's sense. An ECU holds a key only when it sends or receives what the key authenticates, so the
 * internet-facing TMU never holds a key that would let it grant itself the flashing of another ECU.
 */
export interface PlannedKey {
  name: string;
  holders: readonly string[];
  /** What the key authenticates (docs/in-vehicle-security.md). */
  purpose: string;
}

/** TMU ↔ CGW: the approval routines' requests and answers, and the TMU's unlock of the CGW for them. */
export const APPROVAL_KEY = 'approval';
/** CGW ↔ ECU: programming grants and the ECU's programming security access, issued only by the CGW. */
export const grantKeyName = (ecu: string): string => `grant:${ecu}`;
/** ECU → receivers: that ECU's status frame (SecOC-style MAC and freshness). */
export const statusKeyName = (ecu: string): string => `status:${ecu}`;

/**
 * The keys of a vehicle config:
 * - `approval`: the tester (TMU) and the gateway (CGW);
 * - `grant:<ECU>` for every ECU: the gateway and that ECU (the gateway alone for its own);
 * - `status:<ECU>` for every ECU: the ECU, the tester (it reads versions from status frames), the gateway
 *   (it forwards them), and every ECU when it is the motion source (all of them need "vehicle stopped").
 */
export function vehicleKeyPlan(config: VehicleConfig): PlannedKey[] {
  const tester = config.tester;
  const gateway = config.gateway.ecu;
  const everyone = config.ecus.map((ecu) => ecu.name);
  const plan: PlannedKey[] = [
    { name: APPROVAL_KEY, holders: unique([tester, gateway]), purpose: 'approval routines between the tester and the gateway' },
  ];
  for (const ecu of everyone) {
    plan.push({ name: grantKeyName(ecu), holders: unique([gateway, ecu]), purpose: `programming grants for ${ecu}, issued by the gateway` });
  }
  for (const ecu of everyone) {
    const receivers = ecu === config.motionSource ? everyone : [tester, gateway];
    plan.push({ name: statusKeyName(ecu), holders: unique([ecu, ...receivers]), purpose: `status frames of ${ecu}` });
  }
  return plan;
}

/** The key names `ecu` holds under the plan. */
export function keysHeldBy(plan: readonly PlannedKey[], ecu: string): string[] {
  return plan.filter((key) => key.holders.includes(ecu)).map((key) => key.name);
}

function unique(names: string[]): string[] {
  return [...new Set(names)];
}
