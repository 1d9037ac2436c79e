/**
 * A delta the TMU may send instead of the full image (dataFormatIdentifier 0x30): a VCDIFF file the server
 * made from `base` (the image an ECU must run for it to apply) to the release's image, verified against the
 * signed manifest before it is used (release-downloads.ts).
 */
export interface DeltaImage {
  path: string;
  /** The delta's own size in bytes (what crosses the bus). */
  size: number;
  base: { version: string; sha256: string };
}

/**
 * An image to flash, with a delta from the running image when one was downloaded. When only the delta was
 * downloaded, `path` is where the image will be and `ensure()` downloads it: the ECU gets the image only if
 * it cannot take the delta.
 */
export interface ImageWithDelta {
  path: string;
  delta?: DeltaImage;
  ensure?: () => Promise<void>;
}
