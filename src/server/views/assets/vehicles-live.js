/* global document, window, fetch, DOMParser */
// Live /vehicles: every few seconds the page fetches its own URL (the same search, page and sort, so the
// filters stay as they are) and swaps in the new #vehicle-results. One renderer, the server's, escapes
// everything; the form is never touched, so nothing typed into it is lost. Paused while the tab is hidden.
document.addEventListener('DOMContentLoaded', () => {
  const results = document.getElementById('vehicle-results');
  if (!results) return;
  const status = document.getElementById('vehicle-live');
  const every = Number(results.dataset.refreshMs) || 5000;
  const say = (text, bad) => {
    if (!status) return;
    status.hidden = false;
    status.textContent = text;
    status.className = bad ? 'live error' : 'live';
  };
  say(`Live: refreshed every ${Math.round(every / 1000)} s.`);

  const refresh = async () => {
    if (document.hidden) return true;
    let response;
    try {
      response = await fetch(window.location.href, { headers: { accept: 'text/html' }, credentials: 'same-origin', cache: 'no-store' });
    } catch {
      say('Live refresh: the server did not answer; trying again.', true);
      return true;
    }
    if (response.redirected || !response.ok) {
      // Logged out (sent to /login) or refused: stop, a reload shows why.
      say(`Live refresh stopped (${response.redirected ? 'the session ended' : `HTTP ${response.status}`}): reload the page.`, true);
      return false;
    }
    const page = new DOMParser().parseFromString(await response.text(), 'text/html');
    const fresh = page.getElementById('vehicle-results');
    if (fresh && fresh.innerHTML !== results.innerHTML) results.replaceChildren(...fresh.childNodes);
    say(`Live: refreshed every ${Math.round(every / 1000)} s; last at ${new Date().toLocaleTimeString()}.`);
    return true;
  };
  const loop = async () => {
    if (await refresh()) window.setTimeout(loop, every);
  };
  window.setTimeout(loop, every);
});
