import type { SessionUser } from '../context.ts';
import type { EcuEntry } from '../storage/ecu-registry.ts';
import { formatBytes, formatTime } from './format.ts';
import { html, type SafeHtml } from '../../html/html.ts';
import { layout } from './layout.ts';

export interface EcusView {
  user: SessionUser;
  csrfToken: string;
  ecus: EcuEntry[];
  flash?: string | undefined;
  error?: string | undefined;
}

/** `/ecus`: the ECU registry (which ECUs releases may name, their hardware, their image limit); admins edit it. */
export function ecusPage(view: EcusView): SafeHtml {
  const admin = view.user.role === 'admin';
  return layout({ title: 'ECUs', user: view.user, csrfToken: view.csrfToken, section: 'ecus' }, html`
${view.flash ? html`<p class="flash" role="status">${view.flash}</p>` : ''}
${view.error ? html`<p class="error" role="alert">${view.error}</p>` : ''}
<section class="card">
  <h1>ECU registry</h1>
  <p><small>A release may name only these ECUs, with one of their hardware ids (when any are listed), and no larger image than the limit.
  Vehicles add their ECUs and hardware ids when they report.</small></p>
  <div class="scroll"><table class="ecus-registry">
    <thead><tr><th>ECU</th><th>Hardware ids</th><th>Largest image</th><th>From</th><th>Changed</th></tr></thead>
    <tbody>${view.ecus.map((e) => html`<tr data-ecu="${e.name}">
      <td data-label="ECU">${e.name}</td><td data-label="Hardware ids">${e.hardwareIds.join(', ') || 'any'}</td>
      <td data-label="Largest image">${e.maxImageBytes === null ? 'the upload limit' : formatBytes(e.maxImageBytes)}</td>
      <td data-label="From">${e.source}</td><td data-label="Changed">${formatTime(e.updatedAt)} by ${e.updatedBy}</td>
    </tr>`)}</tbody>
  </table></div>
</section>
${admin ? html`<section class="card">
  <h2>Add or change an ECU</h2>
  <form method="post" action="/ecus" id="ecu-form">
    <input type="hidden" name="csrf_token" value="${view.csrfToken}">
    <label>ECU <input name="name" required maxlength="16" pattern="[A-Za-z][A-Za-z0-9_]{1,15}" placeholder="BMS"></label>
    <label>Hardware ids (comma-separated; empty: any) <input name="hardware_ids" maxlength="600" placeholder="BMS-HW-A1, BMS-HW-A2"></label>
    <label>Largest image in bytes (empty: the upload limit) <input name="max_image_bytes" type="number" min="1"></label>
    <button type="submit">Save</button>
  </form>
</section>` : ''}`);
}
