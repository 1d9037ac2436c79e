/**
 * Orders firmware versions so the download client and the ECUs can refuse a downgrade (a rollback attack
 * replays an old, validly signed release with known holes). Versions look like `2.0.0`, `v1.10`,
 * `2.1.0-rc.1`: numeric dot-separated parts compare as numbers (missing parts are 0, so `1.2` = `1.2.0`),
 * and a pre-release suffix sorts before its release (semver). Anything else falls back to a numeric-aware
 * text order, so any two strings compare and the order is total.
 */
export function compareFirmwareVersions(a: string, b: string): number {
  const left = parse(a);
  const right = parse(b);
  if (!left || !right) {
    if (left && !right) return 1;
    if (!left && right) return -1;
    return textOrder(a, b);
  }
  const length = Math.max(left.numbers.length, right.numbers.length);
  for (let i = 0; i < length; i++) {
    const difference = (left.numbers[i] ?? 0n) - (right.numbers[i] ?? 0n);
    if (difference !== 0n) return difference > 0n ? 1 : -1;
  }
  if (left.preRelease === right.preRelease) return 0;
  if (left.preRelease === undefined) return 1;
  if (right.preRelease === undefined) return -1;
  return textOrder(left.preRelease, right.preRelease);
}

/** True when installing `candidate` over `installed` would go backwards. */
export function isDowngrade(candidate: string, installed: string): boolean {
  return compareFirmwareVersions(candidate, installed) < 0;
}

const collator = new Intl.Collator('en', { numeric: true, sensitivity: 'variant' });

interface ParsedVersion {
  numbers: bigint[];
  preRelease: string | undefined;
}

function parse(version: string): ParsedVersion | null {
  // Build metadata (`+…`) does not take part in the order (semver §10).
  const match = /^[vV]?(\d+(?:\.\d+)*)(?:-([0-9A-Za-z.-]+))?(?:\+[0-9A-Za-z.-]+)?$/.exec(version.trim());
  if (!match) return null;
  return { numbers: match[1]!.split('.').map((part) => BigInt(part)), preRelease: match[2] };
}

/** Numeric-aware (`rc.2` < `rc.10`), with code-unit order breaking the collator's ties: a total order. */
function textOrder(a: string, b: string): number {
  const byCollator = collator.compare(a, b);
  if (byCollator !== 0) return byCollator > 0 ? 1 : -1;
  return a === b ? 0 : a < b ? -1 : 1;
}
