// Unit tests of server-stub/dashboard/assets/app.js (docs/dashboard.md "Live refresh") in node, with
// a minimal fake DOM, fetch and timers: the live region is fetched with same-origin credentials and
// X-Requested-With and swapped in; 401 reloads; a failure shows "refresh failed"; a hidden tab stops
// fetching and refreshes at once when shown; a field being typed in skips the round; only same-origin
// paths are fetched; data-confirm asks before a form is sent; the login form goes on to `next` when
// the browser is logged in already (GET /ui/session). The real browser runs it in tests/browser. Run: node --test tests/dashboard/app_js_test.js (ctest: dashboard_app_js_test).
'use strict';
const test = require('node:test');
const assert = require('node:assert');
const fs = require('node:fs');
const path = require('node:path');
const vm = require('node:vm');

const source = fs.readFileSync(
    path.join(__dirname, '..', '..', 'server-stub', 'dashboard', 'assets', 'app.js'), 'utf8');

function element(attrs) {
  return {
    attrs: attrs || {},
    innerHTML: 'initial',
    textContent: '',
    tagName: 'DIV',
    classes: new Set(),
    children: [],
    getAttribute(name) { return name in this.attrs ? this.attrs[name] : null; },
    contains(other) { return other === this || this.children.includes(other); },
    get classList() {
      const set = this.classes;
      return { add: (c) => set.add(c), remove: (c) => set.delete(c) };
    },
  };
}

// Loads app.js into a fresh fake page with one live region (attrs) and returns the handles.
function page(regionAttrs, replies, options) {
  options = options || {};
  const region = element(regionAttrs);
  const status = element({});
  const listeners = {};
  const timers = new Map();
  let nextTimer = 1;
  const fetches = [];
  const body = element({});
  const world = {
    reloads: 0,
    replaced: [],
    confirmText: null,
    confirmAnswer: true,
    document: {
      hidden: false,
      readyState: 'complete',
      body,
      activeElement: body,
      getElementById: (id) => (id === 'refresh-status' ? status : id === 'login' ? options.login || null : null),
      querySelectorAll: (sel) => (sel === '[data-refresh]' && regionAttrs ? [region] : []),
      addEventListener: (type, fn) => { (listeners[type] = listeners[type] || []).push(fn); },
    },
  };
  const sandbox = {
    document: world.document,
    window: {
      location: {
        reload: () => { world.reloads++; },
        replace: (url) => { world.replaced.push(url); },
      },
      confirm: (text) => { world.confirmText = text; return world.confirmAnswer; },
    },
    setTimeout: (fn, ms) => { const id = nextTimer++; timers.set(id, { fn, ms }); return id; },
    clearTimeout: (id) => { timers.delete(id); },
    fetch: (url, options) => {
      fetches.push({ url, options });
      const reply = replies.length ? replies.shift() : { status: 200, body: 'fresh' };
      if (reply.reject) return Promise.reject(new Error('network'));
      return Promise.resolve({
        status: reply.status,
        ok: reply.status >= 200 && reply.status < 300,
        text: () => Promise.resolve(reply.body),
      });
    },
    Date,
    parseInt,
  };
  vm.runInNewContext(source, sandbox);
  return {
    region, status, timers, fetches, world, listeners,
    // Runs every pending timer once, then lets the fetch promises settle.
    async tick() {
      const due = [...timers.entries()];
      timers.clear();
      for (const [, t] of due) t.fn();
      for (let i = 0; i < 10; i++) await new Promise((r) => setImmediate(r));
    },
    fire(type, event) { for (const fn of listeners[type] || []) fn(event); },
  };
}

const live = { 'data-refresh': '/ui/rollouts/7?fragment=1', 'data-interval': '1500' };

test('fetches the region with same-origin credentials and swaps it in', async () => {
  const p = page(live, [{ status: 200, body: '<p>new</p>' }]);
  assert.strictEqual(p.timers.size, 1);
  assert.strictEqual([...p.timers.values()][0].ms, 1500);
  await p.tick();
  assert.strictEqual(p.fetches.length, 1);
  assert.strictEqual(p.fetches[0].url, '/ui/rollouts/7?fragment=1');
  assert.strictEqual(p.fetches[0].options.credentials, 'same-origin');
  assert.strictEqual(p.fetches[0].options.headers['X-Requested-With'], 'fetch');
  assert.strictEqual(p.region.innerHTML, '<p>new</p>');
  assert.match(p.status.textContent, /^updated \d\d:\d\d:\d\d$/);
  assert.strictEqual(p.timers.size, 1, 'the next round is scheduled');
});

test('a 401 reloads the page (the session ended) and keeps the region', async () => {
  const p = page(live, [{ status: 401, body: 'not logged in' }]);
  await p.tick();
  assert.strictEqual(p.world.reloads, 1);
  assert.strictEqual(p.region.innerHTML, 'initial');
});

test('a failure says so and tries again', async () => {
  const p = page(live, [{ status: 503, body: 'down' }, { reject: true }, { status: 200, body: 'back' }]);
  await p.tick();
  assert.match(p.status.textContent, /^refresh failed/);
  assert.ok(p.status.classes.has('failed'));
  assert.strictEqual(p.region.innerHTML, 'initial');
  await p.tick();
  assert.match(p.status.textContent, /^refresh failed/);
  await p.tick();
  assert.strictEqual(p.region.innerHTML, 'back');
  assert.ok(!p.status.classes.has('failed'));
  assert.strictEqual(p.fetches.length, 3);
});

test('a hidden tab stops fetching and refreshes at once when shown', async () => {
  const p = page(live, []);
  p.world.document.hidden = true;
  p.fire('visibilitychange');
  assert.strictEqual(p.timers.size, 0, 'no timer while hidden');
  await p.tick();
  assert.strictEqual(p.fetches.length, 0);
  p.world.document.hidden = false;
  p.fire('visibilitychange');
  await p.tick();
  assert.strictEqual(p.fetches.length, 1);
});

test('a field being typed in inside the region skips the round', async () => {
  const p = page(live, []);
  const input = element({});
  input.tagName = 'INPUT';
  p.region.children.push(input);
  p.world.document.activeElement = input;
  await p.tick();
  assert.strictEqual(p.fetches.length, 0);
  assert.strictEqual(p.timers.size, 1);
  p.world.document.activeElement = p.world.document.body;
  await p.tick();
  assert.strictEqual(p.fetches.length, 1);
});

test('a reason typed inside the region and left (focus elsewhere) is not wiped by the refresh', async () => {
  const p = page(live, []);
  const reason = { type: 'text', value: '', defaultValue: '' };
  const revert = { type: 'checkbox', checked: false, defaultChecked: false };
  const csrf = { type: 'hidden', value: 'x', defaultValue: '' };
  p.region.querySelectorAll = (sel) => (sel === 'input, textarea' ? [csrf, reason, revert] : []);
  await p.tick();
  assert.strictEqual(p.fetches.length, 1, 'untouched fields (a hidden one differing) do not hold the refresh');
  reason.value = 'bad batch';
  await p.tick();
  assert.strictEqual(p.fetches.length, 1, 'a typed reason holds the refresh');
  reason.value = '';
  revert.checked = true;
  await p.tick();
  assert.strictEqual(p.fetches.length, 1, 'a ticked checkbox holds the refresh');
  revert.checked = false;
  await p.tick();
  assert.strictEqual(p.fetches.length, 2);
});

test('only same-origin paths are fetched', async () => {
  for (const url of ['https://evil.example/x', '//evil.example/x', '/ui//evil.example/x', '/\\evil.example/ui/',
                     '/ui/\\\\evil', '/v1/tokens', 'javascript:alert(1)', '']) {
    const p = page({ 'data-refresh': url, 'data-interval': '1000' }, []);
    await p.tick();
    assert.strictEqual(p.fetches.length, 0, url);
    assert.strictEqual(p.timers.size, 0, url);
  }
});

test('a too small or missing interval falls back to 2 s', () => {
  const p = page({ 'data-refresh': '/ui/?fragment=1', 'data-interval': '5' }, []);
  assert.strictEqual([...p.timers.values()][0].ms, 2000);
});

test('data-confirm asks before the form is sent', () => {
  const p = page(live, []);
  const button = element({ 'data-confirm': 'Stop rollout 7?' });
  let prevented = 0;
  const event = { submitter: button, target: element({}), preventDefault: () => { prevented++; } };
  p.world.confirmAnswer = false;
  p.fire('submit', event);
  assert.strictEqual(p.world.confirmText, 'Stop rollout 7?');
  assert.strictEqual(prevented, 1);
  p.world.confirmAnswer = true;
  p.fire('submit', event);
  assert.strictEqual(prevented, 1);
  // A button without data-confirm: no question.
  p.world.confirmText = null;
  p.fire('submit', { submitter: element({}), target: element({}), preventDefault: () => { prevented++; } });
  assert.strictEqual(p.world.confirmText, null);
  assert.strictEqual(prevented, 1);
});

// The login form of page(): hidden field next = `next`.
function loginForm(next) {
  return { querySelector: (sel) => (sel === 'input[name="next"]' ? { value: next } : null) };
}

test('the login form goes on to next when the browser is logged in already', async () => {
  const p = page(null, [{ status: 200, body: 'live' }], { login: loginForm('/ui/rollouts/7') });
  await p.tick();
  assert.strictEqual(p.fetches.length, 1);
  assert.strictEqual(p.fetches[0].url, '/ui/session');
  assert.strictEqual(p.fetches[0].options.credentials, 'same-origin');
  assert.deepStrictEqual(p.world.replaced, ['/ui/rollouts/7']);
});

test('the login form stays without a session, and never goes off the dashboard', async () => {
  let p = page(null, [{ status: 200, body: 'none' }], { login: loginForm('/ui/') });
  await p.tick();
  assert.deepStrictEqual(p.world.replaced, []);
  for (const next of ['//evil.example/ui/', 'https://evil.example/', '/\\evil.example', '/v1/tokens']) {
    p = page(null, [{ status: 200, body: 'live' }], { login: loginForm(next) });
    await p.tick();
    assert.deepStrictEqual(p.world.replaced, ['/ui/'], next);
  }
  // Not the login page: no question asked.
  p = page(null, []);
  await p.tick();
  assert.strictEqual(p.fetches.length, 0);
});
