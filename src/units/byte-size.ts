const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];

/**
 * A size for people, in binary units: 1023 → "1023 B", 1536 → "1.5 KiB". `decimals` chooses the precision
 * from the scaled value (the admin UI shows "2.25 MiB" but "256.0 KiB"); one decimal by default.
 */
export function formatByteSize(bytes: number, decimals: (value: number) => number = () => 1): string {
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < UNITS.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return unit === 0 ? `${Math.round(value)} B` : `${value.toFixed(decimals(value))} ${UNITS[unit]}`;
}
