import { html, type SafeHtml } from '../../html/html.ts';
import type { VehicleState } from '../deployments/vehicle-states.ts';

/** How the pages group the vehicle states: done, failed, at work, not started, told nothing more. */
const groups: { name: string; label: string; states: VehicleState[] }[] = [
  { name: 'done', label: 'succeeded or declined', states: ['succeeded', 'declined'] },
  { name: 'failed', label: 'failed, rolled back or refused', states: ['failed', 'rolled-back', 'refused'] },
  { name: 'busy', label: 'at work', states: ['assigned', 'offered', 'postponed', 'downloading', 'installing'] },
  { name: 'waiting', label: 'waiting or cancelled', states: ['waiting', 'cancelled'] },
];

/**
 * A stacked bar of a set of vehicles by state, as SVG (the page's CSP forbids style attributes, so widths are
 * SVG geometry), with a text summary for screen readers and for the eye.
 */
export function stateBar(counts: Partial<Record<VehicleState, number>>, total: number): SafeHtml {
  const parts = groups.map((group) => ({ ...group, n: group.states.reduce((sum, state) => sum + (counts[state] ?? 0), 0) }));
  let x = 0;
  const rects = parts.filter((part) => part.n > 0 && total > 0).map((part) => {
    const width = (part.n / total) * 100;
    const rect = html`<rect class="bar-${part.name}" x="${x.toFixed(3)}" y="0" width="${width.toFixed(3)}" height="10"><title>${part.n} ${part.label}</title></rect>`;
    x += width;
    return rect;
  });
  const summary = parts.filter((part) => part.n > 0).map((part) => `${part.n} ${part.label}`).join(', ') || 'no vehicles';
  return html`<span class="state-bar"><svg viewBox="0 0 100 10" preserveAspectRatio="none" role="img" aria-label="${summary}"><rect class="bar-track" x="0" y="0" width="100" height="10"></rect>${rects}</svg><small>${summary}</small></span>`;
}
