/**
 * A small stand-in firmware image for tests that only need some bytes: `label` after a NUL byte, so
 * different labels are different files, and the server's text check (src/server/releases/firmware-image.ts)
 * sees a binary file, as it would a real image.
 */
export function image(label: string): Buffer {
  return Buffer.concat([Buffer.from([0x00, 0xa5]), Buffer.from(label)]);
}
