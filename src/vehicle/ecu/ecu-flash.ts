import type { KeyObject } from 'node:crypto';
import { parsePublicKey } from '../../crypto/ed25519.ts';
import { VehicleConfigError, type EcuConfig, type VehicleConfig } from '../config.ts';
import { factoryImage } from './factory-image.ts';
import { FlashBanks, type FlashTiming } from './flash-banks.ts';
import { ecuStateDir } from './state-dir.ts';
import { errorMessage } from '../../errors/error-message.ts';

export interface EcuFlashOptions {
  /** Overrides the config's bank size (tests). */
  bankSize?: number;
  /** Overrides the config's simulated flash speed (tests, benchmarks). */
  flashTiming?: FlashTiming;
}

/**
 * Opens (and boots) one ECU's A/B flash in the vehicle's state dir, writing its factory image on first
 * start. Every ECU does this the same way, whether its bootloader answers on the bus or, as for the TMU,
 * it is updated locally.
 */
export function openEcuFlash(ecu: EcuConfig, stateDir: string, options: EcuFlashOptions = {}): Promise<FlashBanks> {
  return FlashBanks.open({
    directory: ecuStateDir(stateDir, ecu.name),
    ecu: ecu.name,
    factory: { version: ecu.factoryVersion, image: factoryImage(ecu.name, ecu.factoryVersion) },
    bankSize: options.bankSize ?? ecu.flash.bankSize,
    timing: options.flashTiming ?? ecu.flash,
  });
}

/** The release keys the vehicle trusts; a key that does not parse is a config error, never "no check". */
export function trustedKeysOf(config: VehicleConfig): KeyObject[] {
  return config.trustedKeys.map((text, index) => {
    try {
      return parsePublicKey(text);
    } catch (error) {
      throw new VehicleConfigError(`trustedKeys[${index}]: ${errorMessage(error)}`);
    }
  });
}
