/* global document, window, EventSource, fetch, setTimeout, CSS */
// Live updates for the HMI page. Without JavaScript the page refreshes itself (a <noscript> meta refresh)
// and the decision form posts normally; with it, the page listens to /events (or polls /state) and
// updates progress in place. When the update's state changes (a new offer, a decision, the result) it
// reloads, so every state is rendered (and escaped) by the server in one place.
document.addEventListener('DOMContentLoaded', () => {
  const body = document.body;
  const shown = { status: body.dataset.status, offer: body.dataset.offerId || '', version: Number(body.dataset.version) };

  const apply = (state) => {
    if (state.version <= shown.version) return;
    if (state.status !== shown.status || (state.offer ? state.offer.id : '') !== shown.offer) {
      window.location.reload();
      return;
    }
    shown.version = state.version;
    for (const [ecu, progress] of Object.entries(state.progress || {})) {
      const row = document.querySelector(`tr[data-ecu="${CSS.escape(ecu)}"]`);
      if (!row) continue;
      const percent = Math.round(progress.percent);
      row.querySelector('.phase').textContent = progress.message ? `${progress.phase} (${progress.message})` : progress.phase;
      row.querySelector('progress').value = percent;
      row.querySelector('progress').textContent = `${percent}%`;
      row.querySelector('.percent').textContent = `${percent}%`;
    }
  };

  const poll = () => {
    fetch('/state', { headers: { accept: 'application/json' } })
      .then((response) => response.json())
      .then(apply)
      .catch(() => undefined)
      .finally(() => setTimeout(poll, 2000));
  };

  if (typeof EventSource === 'undefined') {
    poll();
    return;
  }
  const events = new EventSource('/events');
  events.addEventListener('state', (event) => apply(JSON.parse(event.data)));
  let failures = 0;
  events.addEventListener('error', () => {
    failures += 1;
    // The browser reconnects by itself; after repeated failures fall back to polling.
    if (failures >= 5) {
      events.close();
      poll();
    }
  });
  events.addEventListener('open', () => { failures = 0; });
});
