import { html, type SafeHtml } from '../../html/html.ts';
import { isFailure, isFinal, type VehicleState } from '../deployments/vehicle-states.ts';

export interface ChartEvent {
  at: number;
  vehicleId: number | null;
  state: string;
}

/**
 * Progress over time as an SVG chart: how many vehicles had succeeded (or declined) and how many had failed
 * at each moment, from the deployment's history, against the number targeted. Drawn on the server: no script.
 */
export function progressChart(events: readonly ChartEvent[], total: number, now: number): SafeHtml {
  const vehicleEvents = events.filter((event) => event.vehicleId !== null);
  if (events.length === 0 || total === 0) return html`<p class="empty">No progress yet.</p>`;
  const start = events[0]!.at;
  const end = Math.max(now, start + 1000);
  const state = new Map<number, VehicleState>();
  const done: [number, number][] = [[start, 0]];
  const failed: [number, number][] = [[start, 0]];
  for (const event of vehicleEvents) {
    state.set(event.vehicleId!, event.state as VehicleState);
    const states = [...state.values()];
    done.push([event.at, states.filter((s) => isFinal(s) && !isFailure(s) && s !== 'cancelled').length]);
    failed.push([event.at, states.filter((s) => isFailure(s)).length]);
  }
  done.push([end, done.at(-1)![1]]);
  failed.push([end, failed.at(-1)![1]]);
  const width = 600;
  const height = 160;
  const point = ([at, n]: [number, number]) => `${(((at - start) / (end - start)) * width).toFixed(1)},${(height - (n / total) * height).toFixed(1)}`;
  // Steps, not slopes: a count changes at an event and stays until the next.
  const steps = (series: [number, number][]) => series.flatMap((p, i) => (i === 0 ? [point(p)] : [point([p[0], series[i - 1]![1]]), point(p)])).join(' ');
  const last = (series: [number, number][]) => series.at(-1)![1];
  return html`<figure class="chart">
  <svg viewBox="0 0 ${width} ${height}" preserveAspectRatio="none" role="img" aria-label="${last(done)} of ${total} done and ${last(failed)} failed over time">
    <rect class="chart-area" x="0" y="0" width="${width}" height="${height}"></rect>
    <polyline class="line-done" points="${steps(done)}"></polyline>
    <polyline class="line-failed" points="${steps(failed)}"></polyline>
  </svg>
  <figcaption><span class="key-done">■</span> succeeded or declined: ${last(done)} · <span class="key-failed">■</span> failed: ${last(failed)} · of ${total}, from ${new Date(start).toISOString().slice(0, 16).replace('T', ' ')} UTC to now</figcaption>
</figure>`;
}
