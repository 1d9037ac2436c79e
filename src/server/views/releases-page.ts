import type { SessionUser } from '../context.ts';
import type { ReleaseRecord } from '../storage/releases.ts';
import { formatBytes, formatTime } from './format.ts';
import { html, type SafeHtml } from '../../html/html.ts';
import { layout } from './layout.ts';

export interface ReleasesView {
  user: SessionUser;
  csrfToken: string;
  releases: ReleaseRecord[];
  flash?: string | undefined;
  maxUploadBytes: number;
}

/** The home page: every release, newest first, and (for admins) the upload form. */
export function releasesPage(view: ReleasesView): SafeHtml {
  const admin = view.user.role === 'admin';
  return layout({ title: 'Releases', user: view.user, csrfToken: view.csrfToken, section: 'releases' }, html`
${view.flash ? html`<p class="flash" role="status">${view.flash}</p>` : ''}
${admin ? uploadForm(view) : ''}
<section class="card">
  <h1>Releases</h1>
  ${view.releases.length === 0 ? html`<p class="empty">No release uploaded yet.</p>` : html`
  <div class="scroll"><table class="releases">
    <thead><tr><th>File</th><th>ECU</th><th>Version</th><th>Size</th><th>SHA-256</th><th>Uploaded by</th><th>Uploaded at</th></tr></thead>
    <tbody>
    ${view.releases.map((r, i) => html`<tr${i === 0 ? html` class="latest"` : ''}>
      <td>${admin ? html`<a href="/upload/${encodeURIComponent(r.filename)}">${r.filename}</a>` : r.filename}${i === 0 ? html` <span class="badge">latest</span>` : ''}</td>
      <td>${r.ecu ?? '—'}${r.hardware_id ? html`<br><small class="hardware" title="hardware id">${r.hardware_id}</small>` : ''}</td>
      <td>${r.firmware_version ?? '—'}</td>
      <td title="${r.size} bytes">${formatBytes(r.size)}</td>
      <td><code class="hash" title="${r.sha256}">${r.sha256}</code></td>
      <td>${r.uploaded_by}</td>
      <td><time datetime="${new Date(r.uploaded_at).toISOString()}">${formatTime(r.uploaded_at)}</time></td>
    </tr>`)}
    </tbody>
  </table></div>`}
</section>`);
}

function uploadForm(view: ReleasesView): SafeHtml {
  // csrf_token comes first in the form, so the server sees it before the file part of the multipart body.
  return html`<section class="card">
  <h2>Upload a release</h2>
  <form id="upload" method="post" action="/upload" enctype="multipart/form-data">
    <input type="hidden" name="csrf_token" value="${view.csrfToken}">
    <label>ECU <input name="ecu" maxlength="64" placeholder="EDT"></label>
    <label>Firmware version <input name="firmware_version" maxlength="64" placeholder="2.0.0"></label>
    <label class="wide">Hardware id (optional: the ECU refuses the image on other hardware) <input name="hardware_id" maxlength="32" placeholder="EDT-HW-A1"></label>
    <label class="wide">Notes <input name="notes" maxlength="1000"></label>
    <label class="wide">File (at most ${formatBytes(view.maxUploadBytes)}) <input name="file" type="file" required></label>
    <button type="submit">Upload</button>
    <progress id="upload-progress" max="100" value="0" hidden></progress>
    <output id="upload-status" role="status"></output>
  </form>
</section>`;
}
