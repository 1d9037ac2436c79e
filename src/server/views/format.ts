import { formatByteSize } from '../../units/byte-size.ts';

/** `1.5 MiB`-style sizes for people; the exact byte count stays in the title attribute. */
export const formatBytes = (bytes: number): string => formatByteSize(bytes, (value) => (value < 10 ? 2 : 1));

/** ISO 8601 UTC without milliseconds: unambiguous for operators in any time zone. */
export function formatTime(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}
