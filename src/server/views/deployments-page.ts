import type { SessionUser } from '../context.ts';
import type { DeploymentSummary } from '../deployments/deployment-view.ts';
import type { ReleaseRecord } from '../storage/releases.ts';
import { html, type SafeHtml } from '../../html/html.ts';
import { stateBar } from './deployment-bars.ts';
import { layout } from './layout.ts';

/** What the create form was sent with, to show it again with the error. */
export interface DeploymentForm {
  name?: string;
  release_ids?: string[];
  target?: string;
  vins?: string;
  tags?: string;
  filter_ecu?: string;
  filter_below?: string;
  waves?: string;
  failure_threshold_percent?: string;
  require_approval?: string;
  start_at?: string;
}

export interface DeploymentsView {
  user: SessionUser;
  csrfToken: string;
  deployments: DeploymentSummary[];
  total: number;
  page: number;
  perPage: number;
  /** Releases that can be deployed (with an ECU and a version, not withdrawn), newest first. */
  releases: ReleaseRecord[];
  form?: DeploymentForm | undefined;
  flash?: string | undefined;
  error?: string | undefined;
}

export const deploymentsRefreshMs = 5000;

/** `/deployments`: every deployment with its progress (refreshed live), and for admins the form that starts one. */
export function deploymentsPage(view: DeploymentsView): SafeHtml {
  const admin = view.user.role === 'admin';
  return layout({ title: 'Deployments', user: view.user, csrfToken: view.csrfToken, section: 'deployments', scripts: ['/assets/live-region.js'] }, html`
${view.flash ? html`<p class="flash" role="status">${view.flash}</p>` : ''}
${view.error ? html`<p class="error" role="alert">${view.error}</p>` : ''}
<section class="card">
  <h1>Deployments</h1>
  <p class="live" data-live-status hidden></p>
  <div id="deployment-list" data-live-region data-refresh-ms="${deploymentsRefreshMs}">
  ${list(view)}
  </div>
</section>
${admin ? createForm(view) : ''}`);
}

function list(view: DeploymentsView): SafeHtml {
  if (view.total === 0) return html`<p class="empty">No deployment yet.${view.user.role === 'admin' ? ' Start one below: an uploaded release reaches registered vehicles only through a deployment.' : ''}</p>`;
  const first = (view.page - 1) * view.perPage + 1;
  const last = first + view.deployments.length - 1;
  return html`<nav class="pager" aria-label="Pages"><span>Showing ${first}–${last} of ${view.total}</span>
    ${view.page > 1 ? html`<a href="/deployments?page=${view.page - 1}">Newer</a>` : ''}
    ${last < view.total ? html`<a href="/deployments?page=${view.page + 1}">Older</a>` : ''}</nav>
  <div class="scroll"><table class="deployments">
    <thead><tr><th>Deployment</th><th>Status</th><th>Releases</th><th>Progress</th></tr></thead>
    <tbody>
    ${view.deployments.map((d) => html`<tr data-deployment-id="${d.id}">
      <td data-label="Deployment"><a href="/deployments/${d.id}">${d.name}</a><br><small>#${d.id} by ${d.created_by}, ${d.created_at.slice(0, 16).replace('T', ' ')} UTC</small></td>
      <td data-label="Status">${statusBadge(d.status)}<br><small>wave ${d.current_wave} of ${d.wave_count}</small></td>
      <td data-label="Releases">${d.releases.map((r) => html`${r.ecu} ${r.firmware_version}${r.withdrawn ? ' (withdrawn)' : ''}<br>`)}</td>
      <td data-label="Progress">${stateBar(d.counts, d.vehicles)}</td>
    </tr>`)}
    </tbody>
  </table></div>`;
}

export function statusBadge(status: string): SafeHtml {
  return html`<span class="status status-${status}">${status}</span>`;
}

function createForm(view: DeploymentsView): SafeHtml {
  const form = view.form ?? {};
  const target = form.target ?? 'all';
  const chosen = new Set(form.release_ids ?? []);
  const checked = (on: boolean) => (on ? html` checked` : '');
  return html`<section class="card">
  <h2>Start a deployment</h2>
  <form method="post" action="/deployments" id="new-deployment">
    <input type="hidden" name="csrf_token" value="${view.csrfToken}">
    <label>Name <input name="name" required maxlength="100" value="${form.name ?? ''}" placeholder="EDT 2.0.1 to the pilot fleet"></label>
    <fieldset><legend>Releases (one per ECU; they go together)</legend>
      ${view.releases.length === 0 ? html`<p class="empty">No release to deploy: upload one on the Releases page (with its ECU and version).</p>` : ''}
      <div class="choices">${view.releases.map((r) => html`<label class="check"><input type="checkbox" name="release_ids" value="${r.id}"${checked(chosen.has(String(r.id)))}> ${r.ecu?.toUpperCase()} ${r.firmware_version} <small>${r.filename}</small></label>`)}</div>
    </fieldset>
    <fieldset><legend>Vehicles</legend>
      <label class="check"><input type="radio" name="target" value="all"${checked(target === 'all')}> All registered vehicles</label>
      <label class="check"><input type="radio" name="target" value="vins"${checked(target === 'vins')}> These VINs (the first waves take them in this order)</label>
      <textarea name="vins" rows="2" aria-label="VINs, separated by commas, spaces or lines">${form.vins ?? ''}</textarea>
      <label class="check"><input type="radio" name="target" value="tags"${checked(target === 'tags')}> Vehicles with all of these tags</label>
      <input name="tags" aria-label="Tags, separated by commas" value="${form.tags ?? ''}" placeholder="pilot, fleet-berlin">
      <label class="check"><input type="radio" name="target" value="filter"${checked(target === 'filter')}> Vehicles whose ECU runs a version below</label>
      <span class="pair"><input name="filter_ecu" aria-label="ECU" value="${form.filter_ecu ?? ''}" placeholder="EDT" maxlength="16"><input name="filter_below" aria-label="Version below" value="${form.filter_below ?? ''}" placeholder="2.0.0" maxlength="64"></span>
    </fieldset>
    <label>Waves <input name="waves" value="${form.waves ?? '100%'}" placeholder="2, 10%, 100%" maxlength="200"><small>Each wave a number of vehicles or a percentage of them; the last takes the rest.</small></label>
    <label>Pause when more than this % of a wave fails <input name="failure_threshold_percent" type="number" min="0" max="100" value="${form.failure_threshold_percent ?? '5'}"></label>
    <label class="check"><input type="checkbox" name="require_approval" value="1"${checked(form.require_approval === '1')}> Wait for an operator before each next wave</label>
    <label>Start at (UTC; empty: now) <input name="start_at" type="datetime-local" value="${form.start_at ?? ''}"></label>
    <button type="submit">Start deployment</button>
  </form>
</section>`;
}
