import type { SessionUser } from '../context.ts';
import type { ReleaseRecord } from '../storage/releases.ts';
import { formatBytes, formatTime } from './format.ts';
import { html, type SafeHtml } from '../../html/html.ts';
import { layout } from './layout.ts';

export interface ReleasesView {
  user: SessionUser;
  csrfToken: string;
  /** One page of releases, newest upload first. */
  releases: ReleaseRecord[];
  /** The latest release of each ECU by version: what vehicles are offered. */
  latest: Set<number>;
  paging: { page: number; perPage: number; total: number };
  flash?: string | undefined;
  maxUploadBytes: number;
}

/** The home page: the releases, a page at a time, and (for admins) the upload form and withdraw buttons. */
export function releasesPage(view: ReleasesView): SafeHtml {
  const admin = view.user.role === 'admin';
  return layout({ title: 'Releases', user: view.user, csrfToken: view.csrfToken, section: 'releases' }, html`
${view.flash ? html`<p class="flash" role="status">${view.flash}</p>` : ''}
${admin ? uploadForm(view) : ''}
<section class="card">
  <h1>Releases</h1>
  ${view.paging.total === 0 ? html`<p class="empty">No release uploaded yet.</p>` : html`
  ${pager(view.paging, view.releases.length)}
  ${view.releases.length === 0 ? html`<p class="empty">No releases on this page.</p>` : html`
  <div class="scroll"><table class="releases">
    <thead><tr><th>File</th><th>ECU</th><th>Version</th><th>Size</th><th>SHA-256</th><th>Uploaded by</th><th>Uploaded at</th><th>Status</th></tr></thead>
    <tbody>
    ${view.releases.map((r) => row(r, view, admin))}
    </tbody>
  </table></div>
  ${pager(view.paging, view.releases.length)}`}`}
</section>`);
}

function row(r: ReleaseRecord, view: ReleasesView, admin: boolean): SafeHtml {
  const latest = view.latest.has(r.id);
  const withdrawn = r.withdrawn_at !== null;
  const rowClass = withdrawn ? 'withdrawn' : latest ? 'latest' : '';
  return html`<tr${rowClass ? html` class="${rowClass}"` : ''} data-release-id="${r.id}">
      <td>${admin ? html`<a href="/upload/${encodeURIComponent(r.filename)}">${r.filename}</a>` : r.filename}${r.notes ? html`<br><small class="notes">${r.notes}</small>` : ''}</td>
      <td>${r.ecu ?? '—'}${r.hardware_id ? html`<br><small class="hardware" title="hardware id">${r.hardware_id}</small>` : ''}</td>
      <td>${r.firmware_version ?? '—'}</td>
      <td title="${r.size} bytes">${formatBytes(r.size)}</td>
      <td><code class="hash" title="${r.sha256}">${r.sha256}</code></td>
      <td>${r.uploaded_by}</td>
      <td><time datetime="${new Date(r.uploaded_at).toISOString()}">${formatTime(r.uploaded_at)}</time></td>
      <td>${withdrawn ? html`<span class="badge withdrawn">withdrawn</span><br><small>by ${r.withdrawn_by ?? '?'} at ${formatTime(r.withdrawn_at!)}${r.withdrawal_reason ? html`: ${r.withdrawal_reason}` : ''}</small>`
        : html`${latest ? html`<span class="badge">latest</span>` : ''}${admin ? withdrawForm(r, view.csrfToken) : ''}`}</td>
    </tr>`;
}

/** Two clicks without JavaScript (open, then confirm), so a stray click withdraws nothing. */
function withdrawForm(r: ReleaseRecord, csrfToken: string): SafeHtml {
  return html`<details class="withdraw"><summary>Withdraw…</summary>
        <form method="post" action="/api/v1/releases/${r.id}/withdraw">
          <input type="hidden" name="csrf_token" value="${csrfToken}">
          <label>Reason (optional) <input name="reason" maxlength="500"></label>
          <button type="submit" class="danger">Withdraw ${r.filename}</button>
        </form>
      </details>`;
}

/** "Showing 201–400 of 950" with links to the neighbouring pages. */
function pager(paging: ReleasesView['paging'], shown: number): SafeHtml {
  const { page, perPage, total } = paging;
  const first = (page - 1) * perPage + 1;
  const pages = Math.max(1, Math.ceil(total / perPage));
  const range = shown === 0 ? html`page ${page} of ${pages}` : html`${first}–${first + shown - 1}`;
  return html`<nav class="pager" aria-label="Release pages">
    <span>showing ${range} of ${total}</span>
    ${page > 1 ? html`<a rel="prev" href="/?page=${Math.min(page - 1, pages)}">← previous</a>` : ''}
    ${page < pages ? html`<a rel="next" href="/?page=${page + 1}">next →</a>` : ''}
  </nav>`;
}

function uploadForm(view: ReleasesView): SafeHtml {
  // csrf_token comes first in the form, so the server sees it before the file part of the multipart body.
  return html`<section class="card">
  <h2>Upload a release</h2>
  <form id="upload" method="post" action="/upload" enctype="multipart/form-data">
    <input type="hidden" name="csrf_token" value="${view.csrfToken}">
    <label>ECU <input name="ecu" maxlength="16" placeholder="EDT" pattern="[A-Za-z][A-Za-z0-9_]{1,15}" title="2 to 16 letters, digits or _, starting with a letter"></label>
    <label>Firmware version (SemVer) <input name="firmware_version" maxlength="64" placeholder="2.0.0"></label>
    <label class="wide">Hardware id (optional: the ECU refuses the image on other hardware) <input name="hardware_id" maxlength="32" placeholder="EDT-HW-A1"></label>
    <label class="wide">Notes (optional, plain text, shown to the driver) <textarea name="notes" maxlength="1000" rows="2"></textarea></label>
    <label class="wide">File: the binary image (at most ${formatBytes(view.maxUploadBytes)}) <input name="file" type="file" required></label>
    <button type="submit">Upload</button>
    <progress id="upload-progress" max="100" value="0" hidden></progress>
    <output id="upload-status" role="status"></output>
  </form>
</section>`;
}
