// fwserver dashboard (docs/dashboard.md "Live refresh"). The only script; plain JavaScript, no
// framework. Two jobs:
//  1. Live regions: every element with data-refresh="URL" is fetched again every data-interval ms
//     (same-origin credentials, header X-Requested-With) and its innerHTML replaced with the answer
//     (server-rendered and escaped HTML of this origin). Paused while the tab is hidden. A 401 means
//     the session ended: reload (the server then shows the login form). The status line in the header
//     says "updated HH:MM:SS" or "refresh failed".
//  2. Buttons with data-confirm="TEXT": confirm(TEXT) before their form is sent.
(function () {
  'use strict';

  var statusEl = null;
  function setStatus(text, failed) {
    if (!statusEl) statusEl = document.getElementById('refresh-status');
    if (!statusEl) return;
    statusEl.textContent = text;
    if (failed) statusEl.classList.add('failed');
    else statusEl.classList.remove('failed');
  }

  function two(n) { return (n < 10 ? '0' : '') + n; }
  function clock() {
    var d = new Date();
    return two(d.getHours()) + ':' + two(d.getMinutes()) + ':' + two(d.getSeconds());
  }

  // A form inside a region being replaced while the user types would lose the input: skip that round.
  function busy(region) {
    var active = document.activeElement;
    return active && active !== document.body && region.contains(active) &&
      (active.tagName === 'INPUT' || active.tagName === 'SELECT' || active.tagName === 'TEXTAREA');
  }

  function startRegion(region) {
    var url = region.getAttribute('data-refresh');
    var interval = parseInt(region.getAttribute('data-interval'), 10);
    if (!(interval >= 500)) interval = 2000;
    // Dashboard paths of this origin only: "/ui/...", never "//host" or a backslash trick.
    if (!url || url.slice(0, 4) !== '/ui/' || url.indexOf('//') !== -1 || url.indexOf('\\') !== -1) return;
    var timer = null;
    var inFlight = false;

    function schedule() {
      if (timer !== null) clearTimeout(timer);
      timer = document.hidden ? null : setTimeout(tick, interval);
    }

    function tick() {
      timer = null;
      if (document.hidden) return;
      if (inFlight || busy(region)) { schedule(); return; }
      inFlight = true;
      fetch(url, {
        credentials: 'same-origin',
        cache: 'no-store',
        redirect: 'error',
        headers: { 'X-Requested-With': 'fetch' }
      }).then(function (response) {
        if (response.status === 401) {
          window.location.reload();
          return null;
        }
        if (!response.ok) throw new Error('HTTP ' + response.status);
        return response.text();
      }).then(function (html) {
        if (html === null) return;
        region.innerHTML = html;
        setStatus('updated ' + clock(), false);
      }).catch(function () {
        setStatus('refresh failed ' + clock(), true);
      }).then(function () {
        inFlight = false;
        schedule();
      });
    }

    document.addEventListener('visibilitychange', function () {
      if (document.hidden) {
        if (timer !== null) { clearTimeout(timer); timer = null; }
      } else {
        tick();  // back in view: refresh at once, then every interval
      }
    });
    schedule();
  }

  // Confirm before sending a form whose submit button carries data-confirm (event delegation: also
  // works for buttons inside a live region replaced later).
  document.addEventListener('submit', function (event) {
    var button = event.submitter || null;
    if (!button && event.target && event.target.querySelector) {
      button = event.target.querySelector('button[data-confirm]');
    }
    var text = button && button.getAttribute ? button.getAttribute('data-confirm') : null;
    if (!text && event.target && event.target.getAttribute) text = event.target.getAttribute('data-confirm');
    if (text && !window.confirm(text)) event.preventDefault();
  }, true);

  function init() {
    var regions = document.querySelectorAll('[data-refresh]');
    for (var i = 0; i < regions.length; i++) startRegion(regions[i]);
  }
  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', init);
  else init();
})();
