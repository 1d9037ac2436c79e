/* global document, window, fetch, DOMParser */
// Page parts that refresh themselves: every few seconds the page fetches its own URL (same query, so filters
// and paging stay) and swaps in each new [data-live-region] by its id. One renderer, the server's, escapes
// everything; forms outside the region are never touched. Paused while the tab is hidden; stops (and says
// so) when the session ended or the server refuses.
document.addEventListener('DOMContentLoaded', () => {
  const regions = [...document.querySelectorAll('[data-live-region]')].filter((region) => region.id);
  if (regions.length === 0) return;
  const status = document.querySelector('[data-live-status]');
  const every = Number(regions[0].dataset.refreshMs) || 5000;
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
      say(`Live refresh stopped (${response.redirected ? 'the session ended' : `HTTP ${response.status}`}): reload the page.`, true);
      return false;
    }
    const page = new DOMParser().parseFromString(await response.text(), 'text/html');
    for (const region of regions) {
      const fresh = page.getElementById(region.id);
      if (fresh && fresh.innerHTML !== region.innerHTML) region.replaceChildren(...fresh.childNodes);
    }
    say(`Live: refreshed every ${Math.round(every / 1000)} s; last at ${new Date().toLocaleTimeString()}.`);
    return true;
  };
  const loop = async () => {
    if (await refresh()) window.setTimeout(loop, every);
  };
  window.setTimeout(loop, every);
});
