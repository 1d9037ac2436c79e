import type { Logger } from '../../logging/logger.ts';
import type { EcuKeys } from '../keys/ecu-keys.ts';
import { grantKeyName } from '../keys/key-plan.ts';
import { issueGrant, securityAccessKey } from '../keys/programming-grant.ts';
import type { GrantAnswer, GrantRequest } from './approval-protocol.ts';

/** What the driver approved, per ECU (UpdateApproval; a test's stand-in for a CGW). Throws when nothing is. */
export interface ApprovedUpdates {
  approvedFor(ecu: string): { updateId: Uint8Array; image: { sha256: string; size: number } };
}

/**
 * The CGW's half of "the approval is enforced where the flash is": for an ECU of the update the driver
 * approved, it turns that ECU's security-access seed into the key and a grant only the CGW can make
 * (it holds every `grant:<ECU>` key; the TMU holds none but its own). Program grants name exactly the
 * approved image. Anything else throws the approval's CgwErrors (answered as NRCs by the routine).
 */
export class GrantIssuer {
  readonly #approval: ApprovedUpdates;
  readonly #keys: EcuKeys;
  readonly #logger: Logger | undefined;
  #issued = 0;

  constructor(approval: ApprovedUpdates, keys: EcuKeys, logger?: Logger) {
    this.#approval = approval;
    this.#keys = keys;
    this.#logger = logger;
  }

  /** Grants issued since start. */
  get issued(): number {
    return this.#issued;
  }

  issue(request: GrantRequest): GrantAnswer {
    const { ecu, purpose, seed } = request;
    const approved = this.#approval.approvedFor(ecu);
    const key = this.#keys.get(grantKeyName(ecu));
    const grant = issueGrant(key, ecu, seed, {
      purpose, updateId: approved.updateId, image: purpose === 'program' ? approved.image : null,
    });
    this.#issued += 1;
    this.#logger?.info({ ecu, purpose, ...(purpose === 'program' ? { sha256: approved.image.sha256 } : {}) }, `cgw granted ${purpose} to ${ecu}`);
    return { key: securityAccessKey(key, ecu, seed), grant };
  }
}
