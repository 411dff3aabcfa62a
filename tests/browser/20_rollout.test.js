// The rollout page as the simulated rollout runs (issue 20: "the rollout page updates as the simulated
// rollout progresses and shows the pause reason"): an operator starts it with the page's start button,
// then the page's live region changes by itself (no navigation, no reload) until the abort rule
// (health_failed > 20 % after 3 decided: a third of the terminals fail their health check) pauses it
// and #pause-reason says why.
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const { fixture, launch, session, apiClient, apiJson, until } = require('./lib');

const fx = fixture();
const rolloutPath = `/ui/rollouts/${fx.rollout}`;
let browser, api;

test.before(async () => {
  browser = await launch(fx);
  api = await apiClient(fx, 'viewer');
});
test.after(async () => {
  await api?.dispose();
  await browser?.close();
});

const groupsText = (page) => page.locator('#groups').innerText();

test('start button, live counts without reload, then the rule pause with its reason', async () => {
  const before = await apiJson(api, `/v1/rollouts/${fx.rollout}`);
  assert.equal(before.state, 'created');
  const viewer = await session(browser, fx, 'viewer');  // logged in now: it looks as soon as the rollout runs
  const { context, page, seen } = await session(browser, fx, 'operator');
  await page.goto(`${fx.url}${rolloutPath}`);
  assert.match(await page.locator('#rollout-state').innerText(), /created/);
  const start = page.locator('form[data-op="start"]');
  assert.equal(await start.count(), 1, 'an operator sees the start button of a created rollout');
  if ((await start.locator('input[name="reason"]').count()) > 0) await start.locator('input[name="reason"]').fill('browser test');
  await Promise.all([page.waitForNavigation(), start.locator('button').click()]);
  // From here on the page must change by itself: a marker in the window survives only without a reload,
  // and no navigation of the main frame may happen. The first snapshot is taken at once (the live region
  // refreshes every 2 s; the terminals need several wakes to decide anything).
  let navigations = 0;
  page.on('framenavigated', (f) => {
    if (f === page.mainFrame()) navigations++;
  });
  const first = await page.evaluate(() => {
    window.__dashMarker = 'still the same document';
    return document.querySelector('#groups').innerText;
  });
  assert.equal(new URL(page.url()).pathname, rolloutPath, 'the form returns to the rollout page');
  assert.match(await page.locator('#rollout-state').innerText(), /running/);
  assert.equal(await page.locator('form[data-op="pause"]').count(), 1, 'an operator sees the pause button');
  assert.ok((await page.locator('#groups tr[data-group]').count()) >= 2, 'one row per group');
  assert.equal(await page.locator('#pause-reason').count(), 0);
  // The viewer's view of the RUNNING rollout: no pause button (no button at all).
  await viewer.page.goto(`${fx.url}${rolloutPath}`);
  const seenByViewer = await viewer.page.evaluate(() => ({
    state: document.querySelector('#rollout-state').innerText,
    ops: [...document.querySelectorAll('form[data-op]')].map((f) => f.dataset.op),
    buttons: [...document.querySelectorAll('main button')].map((b) => b.innerText),
  }));
  assert.match(seenByViewer.state, /running/);
  assert.deepEqual(seenByViewer.ops, [], 'a viewer has no pause (or other) form on a running rollout');
  assert.deepEqual(seenByViewer.buttons.filter((b) => /pause|stop|resume|approve/i.test(b)), []);
  const changed = await until(async () => {
    const now = await groupsText(page);
    return now !== first ? now : null;
  }, 120_000, 'the group counts to change on the page');
  assert.notEqual(changed, first);
  const reason = await until(async () => {
    const el = page.locator('#live #pause-reason');
    return (await el.count()) > 0 ? el.innerText() : null;
  }, 150_000, '#pause-reason to appear');
  assert.match(reason, /health_failed/);
  assert.match(reason, /20\s*%/);
  assert.match(await page.locator('#rollout-state').innerText(), /paused/);
  assert.equal(await page.evaluate(() => window.__dashMarker), 'still the same document');
  assert.equal(navigations, 0, 'the page was not reloaded');
  // What the page shows is what the API says.
  const after = await apiJson(api, `/v1/rollouts/${fx.rollout}`);
  assert.equal(after.state, 'paused');
  assert.equal(after.pause_kind, 'rule');
  // An operator may not resume a rule pause (approver): no resume button for them, but stop is there.
  assert.equal(await page.locator('form[data-op="resume"]').count(), 0);
  assert.equal(await page.locator('form[data-op="stop"]').count(), 1);
  assert.deepEqual(seen.errors, []);
  assert.deepEqual(seen.dialogs, []);
  // The viewer's page, never reloaded either, shows the pause reason by itself too.
  await until(async () => (await viewer.page.locator('#live #pause-reason').count()) > 0, 30_000, "the viewer's #pause-reason");
  assert.deepEqual(viewer.seen.errors, []);
  await viewer.context.close();
  await context.close();
});

test('an approver sees resume / approve on the rule-paused rollout, a viewer no button at all', async () => {
  const approver = await session(browser, fx, 'approver');
  await approver.page.goto(`${fx.url}${rolloutPath}`);
  assert.match(await approver.page.locator('#rollout-state').innerText(), /paused/);
  const ops = await approver.page.locator('#live form[data-op]').evaluateAll((fs) => fs.map((f) => f.dataset.op));
  assert.ok(ops.includes('resume') || ops.includes('approve'), `approver's buttons: ${ops}`);
  assert.deepEqual(approver.seen.errors, []);
  await approver.context.close();

  const viewer = await session(browser, fx, 'viewer');
  await viewer.page.goto(`${fx.url}${rolloutPath}`);
  assert.match(await viewer.page.locator('#rollout-state').innerText(), /paused/);
  assert.equal(await viewer.page.locator('#pause-reason').count(), 1, 'a viewer sees why it paused');
  assert.equal(await viewer.page.locator('form[data-op]').count(), 0, 'a viewer sees no button');
  assert.equal(await viewer.page.getByRole('button', { name: /pause|resume|approve|stop/i }).count(), 0);
  assert.deepEqual(viewer.seen.errors, []);
  await viewer.context.close();
});
