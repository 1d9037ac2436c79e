import { createHash } from 'node:crypto';

/** Size of a simulated factory image: small, so a first start costs nothing. */
export const FACTORY_IMAGE_SIZE = 16 * 1024;

/**
 * The image an ECU ships with (bank A on first start). Derived only from the ECU's name and version, so
 * every car's EDT 1.0.0 has the same bytes and SHA-256 — as one production image would — and separate
 * processes sharing a state dir agree on it. A readable header, then a SHA-256 counter stream.
 */
export function factoryImage(ecu: string, version: string, size = FACTORY_IMAGE_SIZE): Uint8Array {
  const image = new Uint8Array(size);
  const header = Buffer.from(`canota factory image: ${ecu} ${version}\n`, 'utf8');
  image.set(header.subarray(0, size));
  let offset = Math.min(header.length, size);
  for (let counter = 0; offset < size; counter += 1) {
    const block = createHash('sha256').update(`${ecu}\0${version}\0${counter}`).digest();
    const count = Math.min(block.length, size - offset);
    image.set(block.subarray(0, count), offset);
    offset += count;
  }
  return image;
}
