// Roles and CSRF on state changes (issue 20: "a viewer cannot press pause, a forged POST without the CSRF
// token is refused"). Every refusal is checked against the API's own record: nothing changed.
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const { fixture, launch, session, apiClient, apiJson, csrfOf, postFromPage } = require('./lib');

const fx = fixture();
const target = fx.serials[0];  // an active terminal an operator may quarantine
let browser, api;

test.before(async () => {
  browser = await launch(fx);
  api = await apiClient(fx, 'admin');
});
test.after(async () => {
  await api?.dispose();
  await browser?.close();
});

const rolloutNow = async () => {
  const r = await apiJson(api, `/v1/rollouts/${fx.rollout}`);
  return JSON.stringify({ state: r.state, kind: r.pause_kind, reason: r.pause_reason });
};
const deviceState = async (serial) => (await apiJson(api, `/v1/devices/${serial}`)).state;
const auditHead = async () => (await apiJson(api, '/v1/audit/verify')).head;
// Operator decisions audited after `head` (the terminals' in-flight actions may still add action.* rows by
// `system`: those are not what a forged request would have caused).
const OPERATOR_ACTIONS = ['device.quarantine', 'device.release', 'rollout.pause', 'rollout.stop', 'rollout.resume', 'rollout.approve'];
async function decisionsSince(head) {
  const rows = (await apiJson(api, `/v1/audit?after=${head.seq}&limit=500`)).items;
  return rows.filter((r) => OPERATOR_ACTIONS.includes(r.action)).map((r) => `${r.seq} ${r.actor} ${r.action} ${r.object}`);
}

test("a viewer's POST to pause, with the session's right CSRF token, is refused by the API (403)", async () => {
  const { context, page, seen } = await session(browser, fx, 'viewer');
  await page.goto(`${fx.url}/ui/rollouts/${fx.rollout}`);
  assert.equal(await page.locator('form[data-op="pause"]').count(), 0, 'no pause button for a viewer');
  const csrf = await csrfOf(page);
  assert.ok(csrf.length >= 16, 'the viewer page carries the session CSRF token (logout form)');
  const rollout = await rolloutNow();
  const head = await auditHead();
  const r = await postFromPage(page, `/ui/rollouts/${fx.rollout}/pause`, {
    csrf,
    reason: 'viewer tries',
    return: `/ui/rollouts/${fx.rollout}`,
  });
  assert.equal(r.status, 403, `viewer pause: ${r.status} ${r.text.slice(0, 200)}`);
  const q = await postFromPage(page, `/ui/devices/${target}/quarantine`, { csrf, reason: 'viewer tries', return: '/ui/' });
  assert.equal(q.status, 403, `viewer quarantine: ${q.status}`);
  assert.equal(await rolloutNow(), rollout, 'the rollout is unchanged');
  assert.equal(await deviceState(target), 'active');
  assert.deepEqual(await decisionsSince(head), [], 'no operator decision audited: nothing happened');
  // The page's own loads stayed clean (the refused fetches log their 403 as console errors: not counted).
  seen.errors = seen.errors.filter((e) => !/status of 403/.test(e));
  assert.deepEqual(seen.errors, []);
  await context.close();
});

test('forged POSTs are refused 403 and change nothing: no CSRF token, a wrong one, a foreign Origin', async () => {
  const { context, page } = await session(browser, fx, 'operator');
  await page.goto(`${fx.url}/ui/devices/${target}`);
  const csrf = await csrfOf(page);
  const head = await auditHead();
  const rollout = await rolloutNow();
  // From the page itself (same origin, the session cookie): no token, a wrong token.
  const fields = { reason: 'forged', return: `/ui/devices/${target}` };
  for (const [what, extra] of [['no token', {}], ['wrong token', { csrf: 'A'.repeat(csrf.length) }]]) {
    const r = await postFromPage(page, `/ui/devices/${target}/quarantine`, { ...fields, ...extra });
    assert.equal(r.status, 403, `page, ${what}: ${r.status}`);
    const p = await postFromPage(page, `/ui/rollouts/${fx.rollout}/stop`, { ...fields, ...extra });
    assert.equal(p.status, 403, `page stop, ${what}: ${p.status}`);
  }
  // From outside the browser with the stolen cookie: without the token; with it but a foreign Origin.
  const [cookie] = await context.cookies();
  const { request } = require('playwright-core');
  const outside = await request.newContext({ ignoreHTTPSErrors: true });
  const post = (headers, form) =>
    outside.post(`${fx.url}/ui/devices/${target}/quarantine`, {
      headers: { Cookie: `${cookie.name}=${cookie.value}`, ...headers },
      form,
      maxRedirects: 0,
    });
  let r = await post({}, fields);
  assert.equal(r.status(), 403, `outside, no token: ${r.status()}`);
  r = await post({ Origin: 'https://evil.example' }, { ...fields, csrf });
  assert.equal(r.status(), 403, `outside, right token, foreign Origin: ${r.status()}`);
  r = await post({ Origin: 'null' }, { ...fields, csrf });
  assert.equal(r.status(), 403, `outside, right token, Origin null: ${r.status()}`);
  await outside.dispose();
  assert.equal(await deviceState(target), 'active', 'the terminal is still active');
  assert.equal(await rolloutNow(), rollout, 'the rollout is unchanged');
  assert.deepEqual(await decisionsSince(head), [], 'no operator decision audited');

  // The control: the same POST with the session's token from the page does quarantine the terminal (so
  // the refusals above were the CSRF check's, not a broken route).
  const ok = await postFromPage(page, `/ui/devices/${target}/quarantine`, { ...fields, csrf });
  assert.equal(ok.type, 'opaqueredirect', `the real form post redirects (303): ${ok.status} ${ok.text.slice(0, 200)}`);
  assert.equal(await deviceState(target), 'quarantined');
  assert.equal((await decisionsSince(head)).filter((d) => d.includes(`device.quarantine device:${target}`)).length, 1);
  await context.close();
});

test("another site's page that submits a form to the dashboard (a real cross-site request) changes nothing", async () => {
  const other = fx.serials[3];  // active (the test above quarantined `target`)
  const { context, page } = await session(browser, fx, 'operator');
  await page.goto(`${fx.url}/ui/devices/${other}`);
  const csrf = await csrfOf(page);  // even a leaked token does not help a foreign page
  const head = await auditHead();
  const before = await deviceState(other);
  assert.equal(before, 'active');
  // https://evil.example/ is served by the test itself (route), in the same browser as the logged-in operator.
  await context.route('https://evil.example/**', (route) =>
    route.fulfill({
      contentType: 'text/html',
      body: `<!doctype html><form method="post" action="${fx.url}/ui/devices/${other}/quarantine">
        <input name="csrf" value="${csrf}"><input name="reason" value="cross-site"><input name="return" value="/ui/">
        </form><script>document.forms[0].submit()</script>`,
    }),
  );
  const evil = await context.newPage();
  const answered = evil.waitForResponse((r) => r.url().includes(`/ui/devices/${other}/quarantine`));
  await evil.goto('https://evil.example/');
  const r = await answered;
  assert.ok(r.status() === 403 || r.status() === 401 || (r.status() === 303 && /\/ui\/login/.test(r.headers().location || '')),
    `cross-site POST: ${r.status()} ${r.headers().location || ''}`);
  assert.equal(await deviceState(other), before, 'the terminal is unchanged');
  assert.deepEqual(await decisionsSince(head), [], 'no operator decision audited');
  await context.close();
});
