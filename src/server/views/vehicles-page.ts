import type { SessionUser } from '../context.ts';
import { isOnline, type VehicleSummary } from '../vehicles/overview.ts';
import type { VehicleEcuRecord } from '../storage/vehicles.ts';
import type { VehicleReportRecord } from '../storage/vehicle-reports.ts';
import { maxVehicleLimit, vehicleQueryString, type VehicleListQuery } from '../vehicles/vehicle-query.ts';
import { formatTime } from './format.ts';
import { vehicleStates } from '../deployments/vehicle-states.ts';
import type { VehicleDeploymentState } from '../storage/vehicle-deployment-state.ts';
import { html, type SafeHtml } from '../../html/html.ts';
import { layout } from './layout.ts';

export interface VehiclesView {
  user: SessionUser;
  csrfToken: string;
  query: VehicleListQuery;
  /** The page of vehicles the query found, and how many it found in all. */
  summaries: VehicleSummary[];
  total: number;
  now: number;
  onlineWindowMs: number;
  /** Every tag in use (the tag field's suggestions). */
  knownTags: Array<{ tag: string; vehicles: number }>;
  flash?: string | undefined;
  error?: string | undefined;
  /** A registration just made in the UI: its token, shown on this one page and never again. */
  registered?: { vin: string; token: string; rotated: boolean } | undefined;
}

/** How often the page's script (`assets/live-region.js`) fetches the list again. */
export const vehicleRefreshMs = 5000;

/**
 * `/vehicles`: a search form (GET, so every search is a bookmarkable URL), then one page of vehicles with
 * online state, tags, each ECU's version and the last report. `#vehicle-results` is what the live script
 * replaces with the same URL's newer answer, so the filters stay as they are.
 */
export function vehiclesPage(view: VehiclesView): SafeHtml {
  const admin = view.user.role === 'admin';
  return layout({ title: 'Vehicles', user: view.user, csrfToken: view.csrfToken, section: 'vehicles', scripts: ['/assets/live-region.js'] }, html`
${view.flash ? html`<p class="flash" role="status">${view.flash}</p>` : ''}
${view.error ? html`<p class="error" role="alert">${view.error}</p>` : ''}
${view.registered ? tokenBox(view.registered) : ''}
<section class="card">
  <h1>Vehicles</h1>
  ${filterForm(view.query, view.knownTags)}
  <p class="live" id="vehicle-live" data-live-status hidden></p>
  <div id="vehicle-results" data-live-region data-refresh-ms="${vehicleRefreshMs}">
  ${results(view, admin)}
  </div>
</section>
${admin ? registerForm(view.csrfToken) : ''}`);
}

function results(view: VehiclesView, admin: boolean): SafeHtml {
  if (view.total === 0) {
    const { q, tags, ecu, versionBelow, version, hardwareId, online, state } = view.query;
    const filtered = Boolean(q || tags.length > 0 || ecu || versionBelow || version || hardwareId || online !== undefined || state);
    return html`<p class="empty">${filtered ? html`No vehicle matches this search. <a href="/vehicles">Show all vehicles</a>.`
      : `No vehicle registered yet.${admin ? ' Register one below, or with canota vehicle register VIN.' : ''}`}</p>`;
  }
  return html`${pager(view)}
  <div class="scroll"><table class="vehicles">
    <thead><tr><th>VIN</th><th>Status</th><th>Tags</th><th>ECUs and versions</th><th>Last report</th></tr></thead>
    <tbody>
    ${view.summaries.map((summary) => vehicleRow(summary, isOnline(summary.vehicle, view.now, view.onlineWindowMs)))}
    </tbody>
  </table></div>
  ${view.summaries.length > 10 ? pager(view) : ''}`;
}

function vehicleRow({ vehicle, ecus, lastReport, tags, deployment }: VehicleSummary, online: boolean): SafeHtml {
  return html`<tr data-vin="${vehicle.vin}" class="${online ? 'online' : 'offline'}">
      <td data-label="VIN"><a class="vin" href="/vehicles/${encodeURIComponent(vehicle.vin)}">${vehicle.vin}</a></td>
      <td data-label="Status" class="status">${onlineBadge(online)} ${vehicle.last_seen_at === null ? html`<small>never seen</small>`
        : html`<small>seen ${timeTag(vehicle.last_seen_at)}${vehicle.last_seen_ip ? html` from ${vehicle.last_seen_ip}` : ''}</small>`}${
        deployment ? html`<br>${deploymentLine(deployment)}` : ''}</td>
      <td data-label="Tags" class="tags">${tags.length === 0 ? html`<span class="empty">none</span>` : tagList(tags)}</td>
      <td data-label="ECUs">${ecus.length === 0 ? html`<span class="empty">no report yet</span>` : html`<ul class="ecus">${ecus.map(ecuItem)}</ul>`}</td>
      <td data-label="Last report" class="report">${lastReport ? reportCell(lastReport) : html`<span class="empty">none</span>`}</td>
    </tr>`;
}

/** Where the vehicle is in its newest deployment: "downloading 40 %", "installing EDT 60 %", "refused: downgrade". */
export function deploymentLine(deployment: VehicleDeploymentState): SafeHtml {
  const detail = [deployment.ecu, deployment.percent === null ? null : `${deployment.percent} %`].filter(Boolean).join(' ');
  return html`<small class="deployment"><a href="/deployments/${deployment.deploymentId}">${deployment.name}</a>:
    <span class="outcome outcome-${deployment.state}">${deployment.state}</span>${detail ? ` ${detail}` : ''}${
    deployment.reason ? html` <span class="reason">${deployment.reason}</span>` : ''}</small>`;
}

/** "showing 51–100 of 1234" with the previous and next pages of the same search. */
function pager(view: VehiclesView): SafeHtml {
  const { query, total } = view;
  const first = (query.page - 1) * query.limit + 1;
  const last = first + view.summaries.length - 1;
  const range = view.summaries.length === 0 ? `page ${query.page}: none` : `${first}–${last}`;
  const previous = query.page > 1 ? html`<a rel="prev" href="/vehicles${vehicleQueryString(query, { page: query.page - 1 })}">← previous</a>` : '';
  const next = query.page * query.limit < total ? html`<a rel="next" href="/vehicles${vehicleQueryString(query, { page: query.page + 1 })}">next →</a>` : '';
  return html`<nav class="pager" aria-label="Vehicle pages">${previous}<span class="showing">showing ${range} of ${total}</span>${next}</nav>`;
}

function filterForm(query: VehicleListQuery, knownTags: VehiclesView['knownTags']): SafeHtml {
  const sortOption = (value: string, label: string) => {
    const current = `${query.descending ? '-' : ''}${query.sort}`;
    return html`<option value="${value}"${current === value ? ' selected' : ''}>${label}</option>`;
  };
  const limits = [25, 50, 100, 200, maxVehicleLimit];
  if (!limits.includes(query.limit)) limits.push(query.limit);
  return html`<form class="filters vehicle-filters" method="get" action="/vehicles" role="search">
    <label>VIN contains <input name="q" value="${query.q ?? ''}" maxlength="17" autocomplete="off" placeholder="e.g. 0001"></label>
    <label>Tags (all of) <input name="tag" value="${query.tags.join(', ')}" list="known-tags" placeholder="pilot, fleet-berlin"></label>
    <datalist id="known-tags">${knownTags.map(({ tag, vehicles }) => html`<option value="${tag}">${tag} (${vehicles})</option>`)}</datalist>
    <label>ECU <input name="ecu" value="${query.ecu ?? ''}" maxlength="32" placeholder="EDT"></label>
    <label>Version below <input name="version_below" value="${query.versionBelow ?? ''}" maxlength="64" placeholder="2.0.0"></label>
    <label>Version exactly <input name="version" value="${query.version ?? ''}" maxlength="64"></label>
    <label>Hardware id <input name="hardware_id" value="${query.hardwareId ?? ''}" maxlength="32" placeholder="EDT-HW-A1"></label>
    <label>Status <select name="online">
      <option value="">any</option>
      <option value="true"${query.online === true ? ' selected' : ''}>online</option>
      <option value="false"${query.online === false ? ' selected' : ''}>offline</option>
    </select></label>
    <label>Deployment state <select name="state">
      <option value="">any</option>
      ${vehicleStates.map((state) => html`<option value="${state}"${query.state === state ? ' selected' : ''}>${state}</option>`)}
    </select></label>
    <label>Sort <select name="sort">
      ${sortOption('vin', 'VIN A–Z')}${sortOption('-vin', 'VIN Z–A')}
      ${sortOption('-last_seen', 'last seen, newest')}${sortOption('last_seen', 'last seen, oldest')}
      ${sortOption('-registered', 'registered, newest')}${sortOption('registered', 'registered, oldest')}
    </select></label>
    <label>Per page <select name="limit">${limits.map((n) => html`<option value="${n}"${n === query.limit ? ' selected' : ''}>${n}</option>`)}</select></label>
    <div class="actions"><button type="submit">Search</button> <a href="/vehicles">Reset</a></div>
  </form>`;
}

export function timeTag(ms: number): SafeHtml {
  return html`<time datetime="${new Date(ms).toISOString()}">${formatTime(ms)}</time>`;
}

export function outcomeBadge(outcome: string): SafeHtml {
  return html`<span class="outcome outcome-${outcome}">${outcome}</span>`;
}

export function onlineBadge(online: boolean): SafeHtml {
  return html`<span class="presence presence-${online ? 'online' : 'offline'}">${online ? 'online' : 'offline'}</span>`;
}

/** Each tag links to the vehicles carrying it. */
export function tagList(tags: readonly string[]): SafeHtml {
  return html`<ul class="tag-list">${tags.map((tag) => html`<li><a class="tag" href="/vehicles?tag=${encodeURIComponent(tag)}">${tag}</a></li>`)}</ul>`;
}

function ecuItem(ecu: VehicleEcuRecord): SafeHtml {
  return html`<li data-ecu="${ecu.ecu}"><strong>${ecu.ecu}</strong> <span class="version">${ecu.version ?? '?'}</span>${
    ecu.active_bank ? html` <small>bank ${ecu.active_bank}</small>` : ''}${ecu.state ? html` <small>${ecu.state}</small>` : ''}${
    ecu.hardware_id ? html` <small class="hardware" title="hardware id">${ecu.hardware_id}</small>` : ''}</li>`;
}

function reportCell(report: VehicleReportRecord): SafeHtml {
  return html`${outcomeBadge(report.outcome)} ${timeTag(report.received_at)}${
    report.campaign_id ? html`<br><small>${report.campaign_id}</small>` : ''}${
    report.message ? html`<br><small class="message">${report.message}</small>` : ''}`;
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
