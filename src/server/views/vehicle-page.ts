import type { SessionUser } from '../context.ts';
import type { VehicleHistory } from '../vehicles/overview.ts';
import { html, type SafeHtml } from '../../html/html.ts';
import { layout } from './layout.ts';
import { deploymentLine, onlineBadge, outcomeBadge, tagList, timeTag } from './vehicles-page.ts';
import { maxTagsPerVehicle } from '../vehicles/tags.ts';

export interface VehicleView {
  user: SessionUser;
  csrfToken: string;
  history: VehicleHistory;
  /** How many reports the page shows at most (newest first). */
  limit: number;
  online: boolean;
  flash?: string | undefined;
  error?: string | undefined;
  /** What the tag form held when it was refused, to be corrected rather than typed again. */
  tagsInput?: string | undefined;
}

/** `/vehicles/<vin>`: the ECUs as last reported, then every report with its updates and failures. */
export function vehiclePage(view: VehicleView): SafeHtml {
  const { vehicle, ecus, reports } = view.history;
  return layout({ title: `Vehicle ${vehicle.vin}`, user: view.user, csrfToken: view.csrfToken, section: 'vehicles' }, html`
${view.flash ? html`<p class="flash" role="status">${view.flash}</p>` : ''}
${view.error ? html`<p class="error" role="alert">${view.error}</p>` : ''}
<section class="card">
  <h1>Vehicle <span class="vin">${vehicle.vin}</span> ${onlineBadge(view.online)}</h1>
  ${tagsBlock(view)}
  <p>Registered ${timeTag(vehicle.created_at)} · token issued ${timeTag(vehicle.token_issued_at)} · last seen
  ${vehicle.last_seen_at === null ? 'never' : html`${timeTag(vehicle.last_seen_at)}${vehicle.last_seen_ip ? html` from ${vehicle.last_seen_ip}` : ''}`}</p>
  ${ecus.length === 0 ? html`<p class="empty">The vehicle has not reported yet.</p>` : html`
  <div class="scroll"><table class="ecus">
    <thead><tr><th>ECU</th><th>Version</th><th>Bank</th><th>State</th><th>Image SHA-256</th><th>Reported</th></tr></thead>
    <tbody>
    ${ecus.map((e) => html`<tr data-ecu="${e.ecu}">
      <td>${e.ecu}</td><td>${e.version ?? '—'}</td><td>${e.active_bank ?? '—'}</td><td>${e.state ?? '—'}</td>
      <td>${e.sha256 ? html`<code class="hash">${e.sha256}</code>` : '—'}</td><td>${timeTag(e.reported_at)}</td>
    </tr>`)}
    </tbody>
  </table></div>`}
</section>
<section class="card">
  <h2>Deployments</h2>
  ${view.history.deployments.length === 0 ? html`<p class="empty">In no deployment: it is told to install nothing new.</p>` : html`<ul class="vehicle-deployments">
    ${view.history.deployments.map((d) => html`<li>${deploymentLine(d)} <small>(deployment ${d.status})</small></li>`)}
  </ul>`}
</section>
<section class="card">
  <h2>Update history</h2>
  ${reports.length === 0 ? html`<p class="empty">No report yet.</p>` : html`
  <div class="scroll"><table class="reports">
    <thead><tr><th>Received</th><th>Outcome</th><th>Campaign</th><th>Updates</th><th>Message</th></tr></thead>
    <tbody>
    ${reports.map(({ report, updates }) => html`<tr class="report outcome-${report.outcome}">
      <td>${timeTag(report.received_at)}</td>
      <td>${outcomeBadge(report.outcome)}</td>
      <td>${report.campaign_id ?? '—'}</td>
      <td>${updates.length === 0 ? '—' : html`<ul class="updates">${updates.map((u) => html`<li class="result-${u.result}">
        <strong>${u.ecu}</strong> ${u.from_version} → ${u.to_version} <span class="outcome outcome-${u.result}">${u.result}</span>${
        u.error ? html`<br><span class="error">${u.error}</span>` : ''}</li>`)}</ul>`}</td>
      <td>${report.message}</td>
    </tr>`)}
    </tbody>
  </table></div>
  ${reports.length >= view.limit ? html`<p><small>The newest ${view.limit} reports; <a href="/api/v1/vehicles/${encodeURIComponent(vehicle.vin)}?limit=1000">all as JSON</a>.</small></p>` : ''}`}
</section>`);
}

/** The vehicle's tags; admins edit them here (one field, comma- or space-separated, so no script is needed). */
function tagsBlock(view: VehicleView): SafeHtml {
  const { vehicle, tags } = view.history;
  const shown = html`<div class="vehicle-tags"><strong>Tags</strong> ${tags.length === 0 ? html`<span class="empty">none</span>` : tagList(tags)}</div>`;
  if (view.user.role !== 'admin') return shown;
  return html`${shown}
  <form method="post" action="/vehicles/${encodeURIComponent(vehicle.vin)}/tags" class="tags-form">
    <input type="hidden" name="csrf_token" value="${view.csrfToken}">
    <label>Edit tags <input name="tags" value="${view.tagsInput ?? tags.join(', ')}" maxlength="1000" autocomplete="off"
      aria-describedby="tags-help" placeholder="pilot, fleet-berlin"></label>
    <small id="tags-help">Comma- or space-separated; each 1–32 characters of a–z, 0–9, <code>-</code> <code>_</code> <code>.</code>; at most ${maxTagsPerVehicle}. Empty removes them all.</small>
    <button type="submit">Save tags</button>
  </form>`;
}
