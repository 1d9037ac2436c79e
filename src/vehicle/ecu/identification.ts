import type { DataIdentifierDefinition } from '../../can/uds/index.ts';
import type { FlashBanks } from './flash-banks.ts';
import { BootloaderDid, asciiBytes, encodeBootState, type BootState } from './protocol.ts';
import { EcuState } from './status-frame.ts';

/** Who an ECU is, as its identification DIDs tell a tester. */
export interface EcuIdentity {
  name: string;
  hardwareId: string;
  vin: string;
}

/** The boot state (0xF1A0) of an ECU's flash: running bank and image, both banks, the last boot. */
export function bootStateOf(banks: FlashBanks, identity: EcuIdentity, state: EcuState): BootState {
  const record = banks.record;
  const summary = (bank: 'A' | 'B') => {
    const { state: bankState, version, sha256, size, reason } = record.banks[bank];
    return { state: bankState, version, sha256, size, ...(reason ? { reason } : {}) };
  };
  const active = record.banks[record.active];
  return {
    ecu: identity.name,
    active: record.active,
    version: active.version,
    sha256: active.sha256,
    state: EcuState[state],
    lastBoot: record.lastBoot,
    bootCount: record.bootCount,
    trialPending: record.trial !== null,
    confirmed: record.confirmed,
    floor: record.floor,
    banks: { A: summary('A'), B: summary('B') },
  };
}

/**
 * The identification DIDs every canota ECU answers in any session (docs/vehicle-protocol.md): software
 * version, VIN, hardware id, name, boot state and the running image's SHA-256.
 */
export function identificationDids(
  banks: FlashBanks, identity: EcuIdentity, state: () => EcuState,
): Map<number, DataIdentifierDefinition> {
  return new Map<number, DataIdentifierDefinition>([
    [BootloaderDid.SoftwareVersion, { read: () => asciiBytes(banks.activeBank.version ?? '') }],
    [BootloaderDid.Vin, { read: () => asciiBytes(identity.vin) }],
    [BootloaderDid.HardwareId, { read: () => asciiBytes(identity.hardwareId) }],
    [BootloaderDid.EcuName, { read: () => asciiBytes(identity.name) }],
    [BootloaderDid.BootState, { read: () => encodeBootState(bootStateOf(banks, identity, state())) }],
    [BootloaderDid.ImageSha256, { read: () => new Uint8Array(Buffer.from(banks.activeBank.sha256 ?? '', 'hex')) }],
  ]);
}
