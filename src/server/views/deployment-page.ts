import type { SessionUser } from '../context.ts';
import type { DeploymentSummary } from '../deployments/deployment-view.ts';
import type { DeploymentAction } from '../deployments/deployment-service.ts';
import type { DeploymentVehicleRecord } from '../storage/deployments.ts';
import { vehicleStates } from '../deployments/vehicle-states.ts';
import { html, type SafeHtml } from '../../html/html.ts';
import { stateBar } from './deployment-bars.ts';
import { progressChart, type ChartEvent } from './deployment-chart.ts';
import { statusBadge, deploymentsRefreshMs } from './deployments-page.ts';
import { layout } from './layout.ts';

export interface DeploymentView {
  user: SessionUser;
  csrfToken: string;
  deployment: DeploymentSummary;
  vehicles: DeploymentVehicleRecord[];
  /** The vehicle table's state filter ('' for all). */
  state: string;
  events: ChartEvent[];
  now: number;
  flash?: string | undefined;
  error?: string | undefined;
}

/** Which operator actions make sense in a status (the server refuses the others with 409 anyway). */
const actionsFor: Record<string, DeploymentAction[]> = {
  scheduled: ['pause', 'advance', 'cancel'],
  running: ['pause', 'advance', 'cancel'],
  waiting: ['advance', 'pause', 'cancel'],
  paused: ['resume', 'advance', 'cancel'],
  finished: [],
  cancelled: [],
};

/**
 * `/deployments/<id>`: status and why, the operator's buttons, each wave's progress, the progress chart and
 * the vehicles with their state (filterable). `#deployment-live` is refreshed in place by live-region.js.
 */
export function deploymentPage(view: DeploymentView): SafeHtml {
  const d = view.deployment;
  const admin = view.user.role === 'admin';
  return layout({ title: `Deployment ${d.name}`, user: view.user, csrfToken: view.csrfToken, section: 'deployments', scripts: ['/assets/live-region.js'] }, html`
${view.flash ? html`<p class="flash" role="status">${view.flash}</p>` : ''}
${view.error ? html`<p class="error" role="alert">${view.error}</p>` : ''}
<p><a href="/deployments">← All deployments</a></p>
<p class="live" data-live-status hidden></p>
<div id="deployment-live" data-live-region data-refresh-ms="${deploymentsRefreshMs}">
<section class="card">
  <h1>${d.name}</h1>
  <p>${statusBadge(d.status)} ${d.status_reason ? html`<span class="reason">${d.status_reason}</span>` : ''}</p>
  <dl class="facts">
    <dt>Campaign id</dt><dd><code>${d.campaign_id}</code></dd>
    <dt>Releases</dt><dd>${d.releases.map((r) => html`${r.ecu} ${r.firmware_version}${r.withdrawn ? ' (withdrawn: no longer offered)' : ''} `)}</dd>
    <dt>Vehicles</dt><dd>${d.vehicles}, in ${d.wave_count} wave${d.wave_count === 1 ? '' : 's'}; now wave ${d.current_wave}</dd>
    <dt>Pauses</dt><dd>when more than ${d.failure_threshold_percent} % of a wave fails${d.require_approval ? '; waits for an operator after each wave' : ''}</dd>
    <dt>Start</dt><dd>${d.start_at.slice(0, 16).replace('T', ' ')} UTC, by ${d.created_by}</dd>
  </dl>
  ${admin && actionsFor[d.status]!.length > 0 ? html`<div class="actions">${actionsFor[d.status]!.map((action) => html`<form method="post" action="/deployments/${d.id}/${action}">
    <input type="hidden" name="csrf_token" value="${view.csrfToken}">
    <button type="submit"${action === 'cancel' ? html` class="danger"` : ''}>${action[0]!.toUpperCase()}${action.slice(1)}</button>
  </form>`)}</div>` : ''}
</section>
<section class="card">
  <h2>Waves</h2>
  <div class="scroll"><table class="waves">
    <thead><tr><th>Wave</th><th>Vehicles</th><th>Progress</th></tr></thead>
    <tbody>${d.waves.map((w) => html`<tr${w.wave === d.current_wave ? html` class="current"` : ''}>
      <td>${w.wave}${w.wave === d.current_wave ? ' (current)' : ''}</td><td>${w.size}</td><td>${stateBar(w.counts, w.size)}</td>
    </tr>`)}</tbody>
  </table></div>
  <h2>Progress over time</h2>
  ${progressChart(view.events, d.vehicles, view.now)}
</section>
</div>
<section class="card">
  <h2>Vehicles</h2>
  <form method="get" action="/deployments/${d.id}" class="filters">
    <label>State <select name="state"><option value="">all</option>${vehicleStates.map((s) => html`<option value="${s}"${s === view.state ? html` selected` : ''}>${s}</option>`)}</select></label>
    <button type="submit">Show</button>
  </form>
  <div id="deployment-vehicles" data-live-region>
  ${view.vehicles.length === 0 ? html`<p class="empty">No vehicle${view.state ? ` is ${view.state}` : ''}.</p>` : html`<div class="scroll"><table class="deployment-vehicles">
    <thead><tr><th>VIN</th><th>Wave</th><th>State</th><th>Detail</th><th>Updated</th></tr></thead>
    <tbody>${view.vehicles.map((v) => html`<tr>
      <td data-label="VIN"><a class="vin" href="/vehicles/${v.vin}">${v.vin}</a></td><td data-label="Wave">${v.wave}</td>
      <td data-label="State"><span class="outcome outcome-${v.state}">${v.state}</span>${v.percent !== null ? html` ${v.percent} %` : ''}</td>
      <td data-label="Detail">${v.ecu ? html`${v.ecu} ` : ''}${v.reason ? html`<small class="message">${v.reason}</small>` : ''}</td>
      <td data-label="Updated"><time>${new Date(v.updated_at).toISOString().slice(11, 19)}</time></td>
    </tr>`)}</tbody>
  </table></div>`}
  </div>
</section>`);
}
