// Login with an operator token, a wrong token refused, the session cookie's attributes, logout
// (issue 20: "Login with an operator token (or a session made from one), cookies Secure/HttpOnly/SameSite").
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const { fixture, launch, watch, login } = require('./lib');

const fx = fixture();
let browser;

test.before(async () => {
  browser = await launch(fx);
});
test.after(async () => {
  await browser?.close();
});

test('a page without a session sends the browser to the login form, with where it wanted to go', async () => {
  const context = await browser.newContext();
  const page = await context.newPage();
  const seen = await watch(page);
  const response = await page.goto(`${fx.url}/ui/rollouts/${fx.rollout}`);
  assert.equal(response.status(), 200);
  const url = new URL(page.url());
  assert.equal(url.pathname, '/ui/login');
  assert.equal(url.searchParams.get('next'), `/ui/rollouts/${fx.rollout}`);
  assert.equal(await page.locator('form[action^="/ui/login"] input[name="token"]').count(), 1);
  assert.deepEqual(seen.errors, []);
  await context.close();
});

test('a wrong token is refused: no session cookie, still the login form, a message', async () => {
  const context = await browser.newContext();
  const page = await context.newPage();
  await watch(page);
  const wrong = 'ptfw_op_' + 'A'.repeat(43);
  const response = await login(page, fx, wrong);
  assert.ok(response.status() >= 400 && response.status() < 500, `status ${response.status()}`);
  assert.equal(new URL(page.url()).pathname, '/ui/login');
  assert.equal(await page.locator('form[action^="/ui/login"] input[name="token"]').count(), 1);
  assert.match(await page.locator('main').innerText(), /token/i);
  assert.equal(await page.locator('#whoami').count(), 0);
  const cookies = await context.cookies();
  assert.deepEqual(cookies.filter((c) => c.name.includes('session')), []);
  // The admin's real token in the same browser then works (the refusal left nothing behind).
  const ok = await login(page, fx, fx.tokens.admin);
  assert.equal(ok.status(), 200);
  assert.match(await page.locator('#whoami').innerText(), /admin/);
  await context.close();
});

test('login as operator: the session cookie is __Host-, Secure, HttpOnly, SameSite=Strict; logout ends it', async () => {
  const context = await browser.newContext();
  const page = await context.newPage();
  const seen = await watch(page);
  await page.goto(`${fx.url}/ui/devices`);  // -> login?next=/ui/devices
  const form = page.locator('form[action^="/ui/login"]');
  await form.locator('input[name="token"]').fill(fx.tokens.operator);
  await Promise.all([page.waitForNavigation(), form.locator('button[type="submit"]').click()]);
  assert.equal(new URL(page.url()).pathname, '/ui/devices', 'back where it wanted to go');
  const who = await page.locator('#whoami').innerText();
  assert.match(who, /browser-operator/);
  assert.match(who, /operator/);
  const cookies = await context.cookies();
  assert.equal(cookies.length, 1, JSON.stringify(cookies));
  const c = cookies[0];
  assert.equal(c.name, '__Host-fwsession');
  assert.equal(c.secure, true);
  assert.equal(c.httpOnly, true);
  assert.equal(c.sameSite, 'Strict');
  assert.equal(c.path, '/');
  assert.ok(!c.value.includes(fx.tokens.operator.slice(8)), 'the cookie is not the token');
  // Scripts in the page cannot read it.
  assert.equal(await page.evaluate(() => document.cookie), '');
  // Logout (a POST form on every page) ends the session: the old cookie no longer opens a page.
  await Promise.all([page.waitForNavigation(), page.locator('form#logout button').click()]);
  assert.equal(new URL(page.url()).pathname, '/ui/login');
  const replay = await browser.newContext();
  await replay.addCookies([{ name: c.name, value: c.value, url: fx.url, secure: true, httpOnly: true, sameSite: 'Strict' }]);
  const again = await replay.newPage();
  await again.goto(`${fx.url}/ui/devices`);
  assert.equal(new URL(again.url()).pathname, '/ui/login', 'a logged-out session cookie is refused');
  assert.deepEqual(seen.errors, []);
  await replay.close();
  await context.close();
});
