import { UdsRequestError } from '../errors.ts';

/**
 * RequestDownload's dataFormatIdentifier (ISO 14229-1 §14.2.2): the compressionMethod in the high nibble,
 * the encryptingMethod in the low nibble, 0x0 each meaning neither. Which method a value other than 0 names
 * is the vehicle manufacturer's choice; canota's are in src/vehicle/ecu/protocol.ts.
 */
export interface DataFormat {
  compression: number;
  encryption: number;
}

/** Plain data: neither compressed nor encrypted. */
export const PLAIN_DATA_FORMAT = 0x00;

export function encodeDataFormat(format: DataFormat): number {
  for (const [name, value] of [['compression', format.compression], ['encryption', format.encryption]] as const) {
    if (!Number.isInteger(value) || value < 0 || value > 0x0f) throw new UdsRequestError(`${name} method must be 0-15, got ${value}`);
  }
  return (format.compression << 4) | format.encryption;
}

export function decodeDataFormat(dataFormatIdentifier: number): DataFormat {
  return { compression: dataFormatIdentifier >> 4, encryption: dataFormatIdentifier & 0x0f };
}
