import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * `size` bytes that compress like code does (about 3:1 with deflate), unlike random bytes: the project's own
 * sources, with 16 random bytes every KiB so that no two images are alike. The benchmark uses real ARM
 * builds (scripts/firmware-corpus.ts); the tests only need something deflate can shrink.
 */
export function compressibleImage(size: number): Buffer {
  const directory = join(import.meta.dirname, '../../../src/vehicle/ecu');
  const text = Buffer.concat(readdirSync(directory).filter((name) => name.endsWith('.ts')).sort().map((name) => readFileSync(join(directory, name))));
  const image = Buffer.alloc(size);
  for (let offset = 0; offset < size; offset += text.length) text.copy(image, offset, 0, Math.min(text.length, size - offset));
  for (let offset = 0; offset + 16 <= size; offset += 1024) randomBytes(16).copy(image, offset);
  return image;
}
