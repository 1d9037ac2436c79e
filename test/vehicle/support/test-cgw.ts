import { createHash, randomBytes } from 'node:crypto';
import type { GrantAnswer, GrantRequest } from '../../../src/vehicle/cgw/approval-protocol.ts';
import { ApprovalSequenceError } from '../../../src/vehicle/cgw/errors.ts';
import { GrantIssuer, type ApprovedUpdates } from '../../../src/vehicle/cgw/grant-issuer.ts';
import type { VehicleConfig } from '../../../src/vehicle/config.ts';
import { loadEcuKeys } from '../../../src/vehicle/keys/ecu-keys.ts';
import type { ProgrammingAuthority } from '../../../src/vehicle/tmu/programming-authority.ts';

/**
 * The CGW's grant issuing without the rest of the CGW, for tests that flash an ECU directly: it holds the
 * gateway's real keys (from the state dir) and issues real grants with the real GrantIssuer, for the images
 * the test approved, as the driver would.
 */
export class TestCgw implements ProgrammingAuthority, ApprovedUpdates {
  readonly #approved = new Map<string, { sha256: string; size: number }>();
  readonly #updateId = new Uint8Array(randomBytes(16));
  #issuer: GrantIssuer | null = null;
  /** Grant requests seen, in order. */
  readonly requests: GrantRequest[] = [];

  static async open(config: VehicleConfig, stateDir: string): Promise<TestCgw> {
    const cgw = new TestCgw();
    cgw.#issuer = new GrantIssuer(cgw, await loadEcuKeys(config, stateDir, config.gateway.ecu));
    return cgw;
  }

  /** The driver approves `image` for `ecu` (bytes, or their SHA-256 and size). */
  approve(ecu: string, image: Uint8Array | { sha256: string; size: number }): this {
    this.#approved.set(ecu, image instanceof Uint8Array
      ? { sha256: createHash('sha256').update(image).digest('hex'), size: image.length }
      : image);
    return this;
  }

  /** Nothing is approved any more (the update ended). */
  revoke(): void {
    this.#approved.clear();
  }

  approvedFor(ecu: string): { updateId: Uint8Array; image: { sha256: string; size: number } } {
    const image = this.#approved.get(ecu);
    if (!image) throw new ApprovalSequenceError(`no grant: nothing approved for ${ecu}`);
    return { updateId: this.#updateId, image };
  }

  async authorize(request: GrantRequest): Promise<GrantAnswer> {
    this.requests.push(request);
    return this.#issuer!.issue(request);
  }
}
