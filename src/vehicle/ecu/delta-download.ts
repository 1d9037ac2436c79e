import { FlashError, type FlashBanks } from './flash-banks.ts';
import { PatchingWriter } from './patching-writer.ts';

/** How the bootloader takes delta downloads (dataFormatIdentifier 0x30): the largest target window it keeps. */
export interface DeltaOptions {
  window: number;
}

/**
 * The writer of a delta download: the running (active) bank is the base, read on demand; the inactive bank
 * is opened for programming only once the delta names that base. The active bank's SHA-256 is the one its
 * boot checked against its record, so naming it is enough to know which bytes the COPYs will read.
 */
export function patchingWriterFor(banks: FlashBanks, memorySize: number, options: DeltaOptions): PatchingWriter {
  const active = banks.activeBank;
  if (active.state !== 'verified' || !active.sha256) {
    throw new FlashError(`bank ${banks.active} runs no verified image to apply a delta to`);
  }
  return new PatchingWriter({
    base: { path: banks.bankPath(banks.active), size: active.size, sha256: active.sha256 },
    begin: () => banks.beginProgramming(memorySize),
    size: memorySize,
    window: options.window,
  });
}
