// Output escaping (issue 20: "a device label containing <script> is shown as text"): the fixture put the
// label `<script>alert(1)</script>` on one terminal straight into the store (the API refuses such a
// label); the device page and the devices list show it as text, no element is injected, no dialog opens.
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const { fixture, launch, session } = require('./lib');

const fx = fixture();
let browser;

test.before(async () => {
  browser = await launch(fx);
});
test.after(async () => {
  await browser?.close();
});

// No script element in the page but the layout's own /ui/static/app.js (the label did not become one).
async function noInjection(page) {
  const scripts = await page.evaluate(() => [...document.scripts].map((s) => s.getAttribute('src')));
  assert.ok(scripts.every((src) => src === '/ui/static/app.js'), `scripts in the page: ${JSON.stringify(scripts)}`);
}

for (const [name, path, where] of [
  ['the device page', `/ui/devices/${fx.script_serial}`, '#labels'],
  ['the devices list', '/ui/devices', 'main'],
  // The same text in a query (a reflected value): refused or shown, never markup.
  ['the devices list filtered by that label', `/ui/devices?label=${encodeURIComponent(fx.script_label)}`, null],
]) {
  test(`${name} shows the <script> label as text`, async () => {
    const { context, page, seen } = await session(browser, fx, 'viewer');
    const response = await page.goto(`${fx.url}${path}`);
    assert.ok(response.status() === 200 || response.status() === 400, `status ${response.status()}`);
    if (where) {
      assert.ok((await page.locator(where).textContent()).includes(fx.script_label), `${where} holds the label as text`);
    }
    await noInjection(page);
    await page.waitForTimeout(300);
    assert.deepEqual(seen.dialogs, [], 'no alert() ran');
    // A refused query is the page's own status (Chromium logs it as "Failed to load resource": not a fault).
    const expected = response.status() === 400 ? /status of 400/ : /^$/;
    assert.deepEqual(seen.errors.filter((e) => !expected.test(e)), []);
    await context.close();
  });
}
