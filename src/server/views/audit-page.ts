import type { SessionUser } from '../context.ts';
import type { AuditRecord } from '../storage/audit-entries.ts';
import { auditEvents } from '../audit/audit-log.ts';
import { formatTime } from './format.ts';
import { html, type SafeHtml } from '../../html/html.ts';
import { layout } from './layout.ts';

export interface AuditFilterView {
  event?: string | undefined;
  outcome?: string | undefined;
  actor?: string | undefined;
  ip?: string | undefined;
}

export interface AuditView {
  user: SessionUser;
  csrfToken: string;
  entries: AuditRecord[];
  filter: AuditFilterView;
  /** Set when there are older entries: the id to page from. */
  olderThan?: number | undefined;
}

export function auditPage(view: AuditView): SafeHtml {
  const { filter } = view;
  const query = (extra: Record<string, string>) => new URLSearchParams(
    Object.entries({ ...filter, ...extra }).filter((e): e is [string, string] => Boolean(e[1])),
  ).toString();
  return layout({ title: 'Audit log', user: view.user, csrfToken: view.csrfToken, section: 'audit' }, html`
<section class="card">
  <h1>Audit log</h1>
  <form class="filters" method="get" action="/audit">
    <label>Event <select name="event"><option value="">any</option>
      ${auditEvents.map((e) => html`<option${e === filter.event ? html` selected` : ''}>${e}</option>`)}
    </select></label>
    <label>Outcome <select name="outcome"><option value="">any</option>
      ${['ok', 'failed', 'denied'].map((o) => html`<option${o === filter.outcome ? html` selected` : ''}>${o}</option>`)}
    </select></label>
    <label>Actor <input name="actor" value="${filter.actor ?? ''}"></label>
    <label>IP <input name="ip" value="${filter.ip ?? ''}"></label>
    <button type="submit">Filter</button>
  </form>
  ${view.entries.length === 0 ? html`<p class="empty">No matching entries.</p>` : html`
  <div class="scroll"><table class="audit">
    <thead><tr><th>#</th><th>Time</th><th>Event</th><th>Outcome</th><th>Actor</th><th>IP</th><th>Subject</th><th>Details</th></tr></thead>
    <tbody>
    ${view.entries.map((e) => html`<tr class="outcome-${e.outcome}">
      <td>${e.id}</td><td>${formatTime(e.at)}</td><td>${e.event}</td><td>${e.outcome}</td>
      <td>${e.actor ?? ''}</td><td>${e.ip ?? ''}</td><td>${e.subject ?? ''}</td><td><code>${e.details === '{}' ? '' : e.details}</code></td>
    </tr>`)}
    </tbody>
  </table></div>`}
  ${view.olderThan !== undefined ? html`<p><a href="/audit?${query({ before: String(view.olderThan) })}">Older entries →</a></p>` : ''}
</section>`);
}
