import type { SessionUser } from '../context.ts';
import type { VehicleSummary } from '../vehicles/overview.ts';
import type { VehicleEcuRecord } from '../storage/vehicles.ts';
import type { VehicleReportRecord } from '../storage/vehicle-reports.ts';
import { formatTime } from './format.ts';
import { html, type SafeHtml } from '../../html/html.ts';
import { layout } from './layout.ts';

export interface VehiclesView {
  user: SessionUser;
  csrfToken: string;
  vehicles: VehicleSummary[];
  flash?: string | undefined;
  error?: string | undefined;
  /** A registration just made in the UI: its token, shown on this one page and never again. */
  registered?: { vin: string; token: string; rotated: boolean } | undefined;
}

/** `/vehicles`: each vehicle, its ECUs and versions, its last report and when it was last seen. */
export function vehiclesPage(view: VehiclesView): SafeHtml {
  const admin = view.user.role === 'admin';
  return layout({ title: 'Vehicles', user: view.user, csrfToken: view.csrfToken, section: 'vehicles' }, html`
${view.flash ? html`<p class="flash" role="status">${view.flash}</p>` : ''}
${view.error ? html`<p class="error" role="alert">${view.error}</p>` : ''}
${view.registered ? tokenBox(view.registered) : ''}
<section class="card">
  <h1>Vehicles</h1>
  ${view.vehicles.length === 0 ? html`<p class="empty">No vehicle registered yet.${admin ? ' Register one below, or with canota vehicle register VIN.' : ''}</p>` : html`
  <div class="scroll"><table class="vehicles">
    <thead><tr><th>VIN</th><th>ECUs and versions</th><th>Last report</th><th>Last seen</th></tr></thead>
    <tbody>
    ${view.vehicles.map(({ vehicle, ecus, lastReport }) => html`<tr>
      <td><a class="vin" href="/vehicles/${encodeURIComponent(vehicle.vin)}">${vehicle.vin}</a></td>
      <td>${ecus.length === 0 ? html`<span class="empty">no report yet</span>` : html`<ul class="ecus">${ecus.map(ecuItem)}</ul>`}</td>
      <td>${lastReport ? reportCell(lastReport) : html`<span class="empty">none</span>`}</td>
      <td>${vehicle.last_seen_at === null ? html`<span class="empty">never</span>`
        : html`${timeTag(vehicle.last_seen_at)}${vehicle.last_seen_ip ? html`<br><small>${vehicle.last_seen_ip}</small>` : ''}`}</td>
    </tr>`)}
    </tbody>
  </table></div>`}
</section>
${admin ? registerForm(view.csrfToken) : ''}`);
}

export function timeTag(ms: number): SafeHtml {
  return html`<time datetime="${new Date(ms).toISOString()}">${formatTime(ms)}</time>`;
}

export function outcomeBadge(outcome: string): SafeHtml {
  return html`<span class="outcome outcome-${outcome}">${outcome}</span>`;
}

function ecuItem(ecu: VehicleEcuRecord): SafeHtml {
  return html`<li data-ecu="${ecu.ecu}"><strong>${ecu.ecu}</strong> <span class="version">${ecu.version ?? '?'}</span>${
    ecu.active_bank ? html` <small>bank ${ecu.active_bank}</small>` : ''}${ecu.state ? html` <small>${ecu.state}</small>` : ''}</li>`;
}

function reportCell(report: VehicleReportRecord): SafeHtml {
  return html`${outcomeBadge(report.outcome)} ${timeTag(report.received_at)}${
    report.campaign_id ? html`<br><small>${report.campaign_id}</small>` : ''}`;
}

function tokenBox(registered: { vin: string; token: string; rotated: boolean }): SafeHtml {
  return html`<section class="card token" role="status">
  <h2>${registered.rotated ? 'New token for' : 'Registered'} ${registered.vin}</h2>
  <p>The vehicle's token, shown only this once (the server keeps only a hash of it). Give it to the vehicle:
  <code>canota vehicle … --token TOKEN</code>${registered.rotated ? '; the old token no longer works' : ''}.</p>
  <p><code class="secret" id="vehicle-token">${registered.token}</code></p>
</section>`;
}

function registerForm(csrfToken: string): SafeHtml {
  return html`<section class="card">
  <h2>Register a vehicle</h2>
  <form method="post" action="/vehicles" class="register">
    <input type="hidden" name="csrf_token" value="${csrfToken}">
    <label>VIN <input name="vin" required minlength="17" maxlength="17" pattern="[A-HJ-NPR-Za-hj-npr-z0-9]{17}" placeholder="WCANTA00000000001"></label>
    <label class="check"><input type="checkbox" name="rotate" value="1"> already registered: give it a new token</label>
    <button type="submit">Register</button>
  </form>
</section>`;
}
