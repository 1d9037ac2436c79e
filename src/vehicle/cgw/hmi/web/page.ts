import { html, type SafeHtml } from '../../../../html/html.ts';
import type { UpdateProgress } from '../../approval-protocol.ts';
import type { PresentedOffer } from '../driver-hmi.ts';
import { formatBytes, formatDuration, resultLines } from '../offer-text.ts';
import type { HmiState } from './hmi-view.ts';

/** Postponement choices of the Later button, in minutes. */
export const POSTPONE_CHOICES: readonly { minutes: number; label: string }[] = [
  { minutes: 15, label: '15 minutes' },
  { minutes: 60, label: '1 hour' },
  { minutes: 240, label: '4 hours' },
  { minutes: 1440, label: '1 day' },
];

const formatTime = (iso: string): string =>
  new Date(iso).toLocaleString('en-GB', { dateStyle: 'medium', timeStyle: 'short' });

function layout(title: string, body: SafeHtml, options: { state?: HmiState; refreshSeconds?: number } = {}): string {
  const { state } = options;
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${title}</title>
<link rel="stylesheet" href="/assets/hmi.css">
<script src="/assets/hmi.js" defer></script>
${options.refreshSeconds ? html`<noscript><meta http-equiv="refresh" content="${options.refreshSeconds}"></noscript>` : ''}
</head>
<body${state ? html` data-status="${state.status}" data-version="${state.version}" data-offer-id="${state.offer?.id ?? ''}"` : ''}>
<main>
<h1>Software update</h1>
${body}
</main>
</body>
</html>
`.value;
}

function offerTable(offer: PresentedOffer): SafeHtml {
  return html`<table class="offer">
<thead><tr><th scope="col">Unit</th><th scope="col">Installed</th><th scope="col">New</th><th scope="col">Size</th><th scope="col">Time</th></tr></thead>
<tbody>
${offer.ecus.map((ecu) => html`<tr><th scope="row">${ecu.name}</th><td>${ecu.from || 'unknown'}</td><td>${ecu.to}</td><td>${formatBytes(ecu.size)}</td><td>about ${formatDuration(ecu.estimatedSeconds)}</td></tr>
`)}</tbody>
</table>
<p class="totals">Total <strong>${formatBytes(offer.totalBytes)}</strong>, about <strong id="estimate">${formatDuration(offer.estimatedSeconds)}</strong>. The vehicle cannot be driven while the update installs.</p>
${offer.notes.trim() ? html`<h3>Release notes</h3>
<div class="notes" id="notes">${offer.notes.trim()}</div>` : ''}`;
}

function progressTable(offer: PresentedOffer, progress: Record<string, UpdateProgress>): SafeHtml {
  return html`<table class="progress" id="progress">
<thead><tr><th scope="col">Unit</th><th scope="col">Step</th><th scope="col">Progress</th></tr></thead>
<tbody>
${offer.ecus.map((ecu) => {
    const current = progress[ecu.name];
    const percent = Math.round(current?.percent ?? 0);
    return html`<tr data-ecu="${ecu.name}"><th scope="row">${ecu.name} ${ecu.from || '?'} → ${ecu.to}</th><td class="phase">${current?.phase ?? 'waiting'}${current?.message ? html` <span class="message">${current.message}</span>` : ''}</td><td><progress max="100" value="${percent}">${percent}%</progress> <span class="percent">${percent}%</span></td></tr>
`;
  })}</tbody>
</table>`;
}

function decisionForm(offer: PresentedOffer, csrfToken: string): SafeHtml {
  return html`<form method="post" action="/decision" class="decision">
<input type="hidden" name="_csrf" value="${csrfToken}">
<input type="hidden" name="offer_id" value="${offer.id}">
<button type="submit" name="decision" value="approve" class="approve">Approve</button>
<button type="submit" name="decision" value="decline" class="decline">Decline</button>
<span class="later">
<label for="postpone_minutes">Remind me in</label>
<select id="postpone_minutes" name="postpone_minutes">
${POSTPONE_CHOICES.map((choice) => html`<option value="${choice.minutes}"${choice.minutes === 60 ? html` selected` : ''}>${choice.label}</option>
`)}</select>
<button type="submit" name="decision" value="later" class="later">Later</button>
</span>
</form>`;
}

/** The HMI's one page: whatever the update's state, rendered on the server (so it works without JavaScript). */
export function hmiPage(state: HmiState, csrfToken: string): string {
  const offer = state.offer;
  let body: SafeHtml;
  let refreshSeconds: number | undefined;
  switch (state.status) {
    case 'idle':
      body = html`<p id="status" class="status idle">No update is waiting.</p>`;
      refreshSeconds = 10;
      break;
    case 'asking':
      body = html`<p id="status" class="status asking">A software update is ready: <strong>${offer!.campaignId}</strong>. Install it now?</p>
${offerTable(offer!)}
${decisionForm(offer!, csrfToken)}`;
      break;
    case 'approved':
      body = html`<p id="status" class="status approved">Installing <strong>${offer!.campaignId}</strong>…</p>
${progressTable(offer!, state.progress)}`;
      refreshSeconds = 3;
      break;
    case 'declined':
      body = html`<p id="status" class="status declined">You declined the update <strong>${offer!.campaignId}</strong>. Nothing was installed.</p>`;
      refreshSeconds = 10;
      break;
    case 'postponed':
      body = html`<p id="status" class="status postponed">Update <strong>${offer!.campaignId}</strong> postponed until <time datetime="${state.postponedUntil}">${formatTime(state.postponedUntil!)}</time>.</p>`;
      refreshSeconds = 10;
      break;
    case 'withdrawn':
      body = html`<p id="status" class="status withdrawn">The update <strong>${offer!.campaignId}</strong> is no longer offered.</p>`;
      refreshSeconds = 10;
      break;
    case 'finished': {
      const [headline, ...details] = resultLines(state.result!);
      body = html`<p id="status" class="status finished ${state.result!.outcome}">${headline}</p>
<ul id="result">${details.map((line) => html`<li>${line.trim()}</li>`)}</ul>
${progressTable(offer!, state.progress)}`;
      refreshSeconds = 10;
      break;
    }
  }
  return layout('Software update', body, { state, ...(refreshSeconds ? { refreshSeconds } : {}) });
}

/** A readable page for a refused request (stale offer, expired form, bad input). */
export function hmiErrorPage(message: string): string {
  return layout('Software update', html`<p class="status error" id="error">${message}</p>
<p><a href="/">Back to the update</a></p>`);
}
