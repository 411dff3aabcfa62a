// Every page, in a real browser, at 1280x800 and at a phone's 390x844 (issue 20: "pages load with no
// console errors", "pages stay usable at 1280x800 and on a phone-sized viewport"): no console error, no
// uncaught exception, no CSP violation; the security headers; the title, the navigation and who is logged
// in; no horizontal overflow; the element ids each page promises (DASH-CONTRACT.md).
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const { fixture, launch, session, until } = require('./lib');

const fx = fixture();
let browser;

test.before(async () => {
  browser = await launch(fx);
});
test.after(async () => {
  await browser?.close();
});

const VIEWPORTS = [
  { width: 1280, height: 800 },
  { width: 390, height: 844 },
];

// Each page with what it must hold (for an approver, who may see everything).
const PAGES = [
  ['/ui/', ['#by-version', '#by-version svg', '#checkins', '#checkins svg', '#not-seen', '#quarantined', '#journal-alerts']],
  ['/ui/devices', []],
  [`/ui/devices/${fx.script_serial}`, ['#manifest', '#actions', '#actions li[data-action]', '#witness', '#backups', '#certificates', '#labels']],
  ['/ui/rollouts', [`a[href="/ui/rollouts/${fx.rollout}"]`, `a[href="/ui/rollouts/${fx.finished_rollout}"]`]],
  [`/ui/rollouts/${fx.rollout}`, ['#live', '#rollout-state', '#groups', '#groups tr[data-group]']],
  [`/ui/rollouts/${fx.finished_rollout}`, ['#live', '#rollout-state', '#groups tr[data-group]']],
  ['/ui/alerts', []],
  ['/ui/audit', ['#audit-verify', '#audit', '#audit tr']],
];

function checkHeaders(response, path) {
  const h = response.headers();
  const csp = h['content-security-policy'] || '';
  for (const d of ["default-src 'none'", "script-src 'self'", "style-src 'self'", "frame-ancestors 'none'", "base-uri 'none'"]) {
    assert.ok(csp.includes(d), `${path}: CSP has ${d}: ${csp}`);
  }
  assert.ok(!/unsafe-inline|unsafe-eval/.test(csp), `${path}: CSP allows no inline script or style`);
  assert.equal(h['x-content-type-options'], 'nosniff', path);
  assert.match(h['cache-control'] || '', /no-store/, path);
}

async function checkLayout(page, path, role, viewport) {
  const h1 = (await page.locator('main h1, h1').first().innerText()).trim();
  assert.ok(h1.length > 0, `${path}: an <h1>`);
  assert.ok(await page.locator('nav#nav').isVisible(), `${path} at ${viewport.width}: the navigation is visible`);
  assert.match(await page.locator('#whoami').innerText(), new RegExp(role), `${path}: #whoami names the role`);
  assert.equal(await page.locator('form#logout').count(), 1, `${path}: the logout form`);
  const overflow = await page.evaluate(() => ({
    scroll: document.documentElement.scrollWidth,
    inner: window.innerWidth,
  }));
  assert.ok(overflow.scroll <= overflow.inner, `${path} at ${viewport.width}: no horizontal overflow (${overflow.scroll} > ${overflow.inner})`);
}

// One subtest per page (a failing page does not hide the others' results).
async function checkPage(page, seen, path, ids, viewport) {
  seen.clear();
  const response = await page.goto(`${fx.url}${path}`);
  assert.equal(response.status(), 200, path);
  checkHeaders(response, path);
  await checkLayout(page, path, 'approver', viewport);
  for (const id of ids) assert.ok((await page.locator(id).count()) > 0, `${path}: ${id}`);
  const refusals = await page.locator('.api-error').allInnerTexts();
  assert.deepEqual(refusals, [], `${path}: no API refusal for an approver`);
  if (path === '/ui/audit') assert.match(await page.locator('#audit-verify').innerText(), /^chain verified/);
  if (path === '/ui/devices') {
    const text = await page.locator('main').innerText();
    for (const serial of fx.serials) assert.ok(text.includes(serial), `/ui/devices lists ${serial}`);
  }
  if (path === `/ui/rollouts/${fx.finished_rollout}`) {
    assert.match(await page.locator('#rollout-state').innerText(), /finished/);
  }
  // A live page refreshes itself every 2 s: let it (once, at the first viewport), and count what it reports too.
  if (viewport === VIEWPORTS[0] && (await page.locator('#live').count()) > 0) await page.waitForTimeout(2500);
  assert.deepEqual(seen.errors, [], `${path}: console errors, page errors or CSP violations`);
}

for (const viewport of VIEWPORTS) {
  test(`every page as an approver at ${viewport.width}x${viewport.height}`, async (t) => {
    const { context, page, seen } = await session(browser, fx, 'approver', viewport);
    for (const [path, ids] of PAGES) {
      await t.test(path, () => checkPage(page, seen, path, ids, viewport));
    }
    await context.close();
  });
}

test('every page as a viewer: clean too, and the audit log is refused with a message, not an empty table', async (t) => {
  const { context, page, seen } = await session(browser, fx, 'viewer');
  for (const [path] of PAGES) {
    await t.test(path, async () => {
      seen.clear();
      const response = await page.goto(`${fx.url}${path}`);
      assert.equal(response.status(), 200, path);
      await checkLayout(page, path, 'viewer', { width: 1280 });
      if (path === '/ui/audit') {
        assert.match(await page.locator('.api-error').innerText(), /403|role|cannot/i);
        assert.equal(await page.locator('#audit tbody tr').count(), 0);
      }
      assert.deepEqual(seen.errors, [], `${path}: console errors, page errors or CSP violations`);
    });
  }
  await context.close();
});

// The collector is not blind: a foreign image and an inline style put into a page by a script are blocked
// by the page's CSP, and each is reported as a violation.
test('the CSP blocks what the pages never use, and the collector reports it', async () => {
  const { context, page, seen } = await session(browser, fx, 'viewer');
  await page.goto(`${fx.url}/ui/`);
  assert.deepEqual(seen.errors, []);
  await page.evaluate(() => {
    document.body.insertAdjacentHTML('beforeend', '<img src="https://evil.example/x.png"><div style="color:red">x</div>');
  });
  await until(async () => seen.errors.filter((e) => e.startsWith('CSP violation')).length >= 2, 10_000, 'two CSP violations');
  const csp = seen.errors.filter((e) => e.startsWith('CSP violation'));
  assert.ok(csp.some((e) => e.includes('img-src')), JSON.stringify(csp));
  assert.ok(csp.some((e) => e.includes('style-src')), JSON.stringify(csp));
  await context.close();
});

// The overview's check-ins chart counts the simulated terminals' real check-ins (the device API batches
// them with last_seen: written at most a minute after they happen, so the page is reloaded until then).
test('the fleet overview counts the terminals check-ins (#checkins-total > 0, bars in the chart)', async () => {
  const { context, page, seen } = await session(browser, fx, 'viewer');
  const total = await until(async () => {
    await page.goto(`${fx.url}/ui/`);
    const n = Number((await page.locator('#checkins-total').innerText()).replace(/[^0-9]/g, ''));
    return n > 0 ? n : null;
  }, 120_000, 'check-ins on the overview');
  assert.ok(total >= fx.terminals, `${total} check-ins for ${fx.terminals} terminals`);
  const bars = await page.locator('#checkins svg rect').evaluateAll((rs) => rs.filter((r) => Number(r.getAttribute('height')) > 0).length);
  assert.ok(bars > 0, 'a bar in the check-ins chart');
  assert.deepEqual(seen.errors, []);
  await context.close();
});
