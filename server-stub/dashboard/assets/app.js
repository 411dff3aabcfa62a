// fwserver dashboard (docs/dashboard.md "Live refresh"). The only script; plain JavaScript, no
// framework. Three jobs:
//  1. Live regions: every element with data-refresh="URL" is fetched again every data-interval ms
//     (same-origin credentials, header X-Requested-With) and its innerHTML replaced with the answer
//     (server-rendered and escaped HTML of this origin). Paused while the tab is hidden. A 401 means
//     the session ended: reload (the server then shows the login form). The status line in the header
//     says "updated HH:MM:SS" or "refresh failed".
//  2. Buttons with data-confirm="TEXT": confirm(TEXT) before their form is sent.
//  3. On the login form: when the browser is logged in already (GET /ui/session answers "live"), go on
//     to the form's `next` (a link from another site does not carry the SameSite=Strict cookie).
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

  // A form inside a region being replaced while the user types would lose the input: skip the round
  // while a field of the region has the focus, or holds something the user typed or ticked (a reason
  // written, then the mouse moved to the button) — the region refreshes again once the form is sent.
  function edited(field) {
    if (field.type === 'hidden') return false;
    if (field.type === 'checkbox' || field.type === 'radio') return field.checked !== field.defaultChecked;
    return typeof field.value === 'string' && field.value !== (field.defaultValue || '');
  }
  function busy(region) {
    var active = document.activeElement;
    if (active && active !== document.body && region.contains(active) &&
        (active.tagName === 'INPUT' || active.tagName === 'SELECT' || active.tagName === 'TEXTAREA')) {
      return true;
    }
    var fields = region.querySelectorAll ? region.querySelectorAll('input, textarea') : [];
    for (var i = 0; i < fields.length; i++) {
      if (edited(fields[i])) return true;
    }
    return false;
  }

  function startRegion(region) {
    var url = region.getAttribute('data-refresh');
    var interval = parseInt(region.getAttribute('data-interval'), 10);
    if (!(interval >= 500)) interval = 2000;
    if (!uiPath(url) || url === '/ui') return;  // dashboard paths of this origin only
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

  // A dashboard path of this origin: "/ui" or "/ui/...", never "//host" or a backslash trick.
  function uiPath(url) {
    return !!url && (url === '/ui' || url.slice(0, 4) === '/ui/') && url.indexOf('//') === -1 &&
      url.indexOf('\\') === -1;
  }

  // The login form after a link from another site: the session cookie (SameSite=Strict) was not sent
  // with that navigation, but is with this same-origin request. Logged in already: go on to `next`.
  function resumeSession() {
    var form = document.getElementById('login');
    if (!form || !form.querySelector) return;
    var field = form.querySelector('input[name="next"]');
    var next = field && uiPath(field.value) ? field.value : '/ui/';
    fetch('/ui/session', {
      credentials: 'same-origin',
      cache: 'no-store',
      redirect: 'error',
      headers: { 'X-Requested-With': 'fetch' }
    }).then(function (response) {
      return response.ok ? response.text() : '';
    }).then(function (text) {
      if (text === 'live') window.location.replace(next);
    }).catch(function () {});
  }

  function init() {
    var regions = document.querySelectorAll('[data-refresh]');
    for (var i = 0; i < regions.length; i++) startRegion(regions[i]);
    resumeSession();
  }
  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', init);
  else init();
})();
