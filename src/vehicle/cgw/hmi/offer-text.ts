import type { UpdateProgress, UpdateResult } from '../approval-protocol.ts';
import type { PresentedOffer } from './driver-hmi.ts';
import { formatByteSize } from '../../../units/byte-size.ts';

/** 1048576 → "1.0 MiB". */
export { formatByteSize as formatBytes };

/** 42 → "42 s", 125 → "2 min 5 s", 7300 → "2 h 2 min". */
export function formatDuration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min${s % 60 ? ` ${s % 60} s` : ''}`;
  const minutes = Math.floor((s % 3600) / 60);
  return `${Math.floor(s / 3600)} h${minutes ? ` ${minutes} min` : ''}`;
}

/** Control characters from an offer would drive the terminal (escape sequences): shown as `?` instead. */
export function printable(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g, '?');
}

/** The offer as plain-text lines, for the terminal and logs. */
export function offerLines(offer: PresentedOffer): string[] {
  const lines = [`Software update ${printable(offer.campaignId)}:`];
  for (const ecu of offer.ecus) {
    lines.push(`  ${ecu.name}: ${printable(ecu.from || '?')} -> ${printable(ecu.to)} (${formatByteSize(ecu.size)}, about ${formatDuration(ecu.estimatedSeconds)})`);
  }
  lines.push(`  Total ${formatByteSize(offer.totalBytes)}, about ${formatDuration(offer.estimatedSeconds)}. The vehicle cannot be used meanwhile.`);
  if (offer.notes.trim()) {
    lines.push('  Release notes:');
    for (const line of offer.notes.trim().split(/\r?\n/)) lines.push(`    ${printable(line)}`);
  }
  return lines;
}

export function progressLine(progress: UpdateProgress): string {
  return `  ${progress.ecu}: ${printable(progress.phase)} ${Math.round(progress.percent)}%${progress.message ? ` (${printable(progress.message)})` : ''}`;
}

export function resultLines(result: UpdateResult): string[] {
  const headline: Record<UpdateResult['outcome'], string> = {
    success: 'Update installed.',
    failed: 'Update failed; the vehicle keeps its previous software.',
    'rolled-back': 'Update rolled back; the vehicle is back on its previous software.',
  };
  const lines = [headline[result.outcome]];
  if (result.message) lines.push(`  ${printable(result.message)}`);
  for (const [name, ecu] of Object.entries(result.ecus)) {
    const parts = [ecu.outcome, ecu.version && `version ${ecu.version}`, ecu.message].filter(Boolean).map((part) => printable(String(part)));
    lines.push(`  ${name}: ${parts.join(', ')}`);
  }
  return lines;
}
