/** Errors of the ECU runtime (flash, boot record, bootloader, a running ECU). */
export class EcuError extends Error {
  override name = 'EcuError';
}
