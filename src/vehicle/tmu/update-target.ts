import type { SignedManifest } from '../../crypto/manifest.ts';
import type { BootState } from '../ecu/protocol.ts';
import type { FlashPhase } from './flash-errors.ts';
import type { BootReport, FlashSession } from './flash-session.ts';
import type { ReportedEcu } from './server-api.ts';
import type { ImageWithDelta } from './delta-image.ts';

/**
 * One ECU an update installs to, whichever way it is reached: over UDS with a FlashSession (every other
 * ECU), or the TMU's own banks (LocalTarget). The installation composes these steps into an
 * all-or-nothing update; failures are FlashSessionErrors that name the ECU and the step.
 */
export interface UpdateTarget {
  readonly ecu: string;
  /** What the ECU runs now (0xF1A0 over UDS, or the TMU's own boot record). */
  bootState(): Promise<BootState>;
  /**
   * Writes and checks the image in the inactive bank (erase, download, 0xFF01), from its delta when the ECU
   * runs the delta's base and takes deltas. Throws ImageRefusedError on refusal.
   */
  program(image: ImageWithDelta, manifest: SignedManifest): Promise<void>;
  /** Boots the checked image (0x11 01) and tells what runs afterwards. */
  activate(): Promise<BootReport>;
  /** Boots the previous image again (0xFF02 + 0x11 01); refused once the running image is confirmed. */
  rollback(): Promise<BootReport>;
  /** Confirms the running image (0xFF03): the commit of an update, after which it is not rolled back. */
  confirm(): Promise<void>;
}

export type { FlashPhase };

/** An ECU on the bus, flashed through a FlashSession (docs/vehicle-protocol.md). */
export class RemoteTarget implements UpdateTarget {
  readonly ecu: string;
  readonly #session: FlashSession;

  constructor(session: FlashSession) {
    this.ecu = session.ecu;
    this.#session = session;
  }

  bootState(): Promise<BootState> {
    return this.#session.readBootState();
  }

  program(image: ImageWithDelta, manifest: SignedManifest): Promise<void> {
    return this.#session.program(image, manifest);
  }

  activate(): Promise<BootReport> {
    return this.#session.activate();
  }

  rollback(): Promise<BootReport> {
    return this.#session.rollback();
  }

  confirm(): Promise<void> {
    return this.#session.confirm();
  }
}

/** The report's view of an ECU from its boot state. */
export function reportedEcu(state: BootState): ReportedEcu {
  return { version: state.version, sha256: state.sha256, active_bank: state.active, state: state.state };
}
