import type { EcuConfig } from '../config.ts';

/**
 * The bytes behind an ECU's `securitySecret` (hex in the vehicle config). The CGW's server and the
 * tester must derive keys from the same bytes, so both take them from here.
 */
export function securitySecretBytes(ecu: Pick<EcuConfig, 'securitySecret'>): Uint8Array {
  return Uint8Array.from(Buffer.from(ecu.securitySecret, 'hex'));
}
