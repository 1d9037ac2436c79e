import { computeSecurityKey } from '../../can/uds/index.ts';
import { securitySecretBytes } from '../ecu/protocol.ts';

/**
 * The tester's half of security access (docs/vehicle-protocol.md): key = first 16 bytes of
 * HMAC-SHA256(ECU secret, seed), the secret being the hex bytes from the vehicle config.
 */
export function securityKeyFor(secretHex: string): (seed: Uint8Array) => Uint8Array {
  const secret = securitySecretBytes(secretHex);
  return (seed) => computeSecurityKey(secret, seed, 16);
}
