// Shared pieces of the dashboard's browser tests (tests/browser; docs/dashboard-browser.md): the fixture's
// description, Chromium launched through playwright-core with the server's certificate pinned, login,
// and a collector of console errors, page errors and CSP violations.
'use strict';

const CHROMIUM = '/usr/bin/chromium';

// The fixture's JSON line (run.js passes it in DASH_FIXTURE).
function fixture() {
  const text = process.env.DASH_FIXTURE;
  if (!text) throw new Error('DASH_FIXTURE is not set: run the tests through run.js');
  return JSON.parse(text);
}

// Debian's headless Chromium. The operator port's self-issued certificate is accepted by its SPKI pin
// only (no blanket ignoreHTTPSErrors): the browser talks to exactly that server.
async function launch(fx) {
  const { chromium } = require('playwright-core');
  const args = [`--ignore-certificate-errors-spki-list=${fx.spki_sha256_b64}`];
  if (process.getuid && process.getuid() === 0) args.push('--no-sandbox');
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args });
}

// A client of the operator API from outside the browser (bearer token), to read what really happened.
async function apiClient(fx, role) {
  const { request } = require('playwright-core');
  return request.newContext({
    baseURL: fx.url,
    ignoreHTTPSErrors: true,
    extraHTTPHeaders: { Authorization: `Bearer ${fx.tokens[role]}` },
  });
}

async function apiJson(client, path) {
  const r = await client.get(path);
  if (r.status() !== 200) throw new Error(`GET ${path}: HTTP ${r.status()} ${await r.text()}`);
  return r.json();
}

// Everything a page reports that means something is wrong: console errors, uncaught exceptions, CSP
// violations (the securitypolicyviolation event, reported through a binding: the page's own CSP does not
// apply to it), and dialogs (alert/confirm: an injected script would open one).
async function watch(page) {
  const seen = { errors: [], dialogs: [] };
  page.on('console', (m) => {
    if (m.type() === 'error') seen.errors.push(`console: ${m.text()} (${m.location().url || 'no url'})`);
  });
  page.on('pageerror', (e) => seen.errors.push(`pageerror: ${e.message}`));
  page.on('dialog', async (d) => {
    seen.dialogs.push(`${d.type()}: ${d.message()}`);
    await d.dismiss().catch(() => {});
  });
  await page.exposeBinding('__dashCspViolation', (_source, v) => seen.errors.push(`CSP violation: ${v}`));
  await page.addInitScript(() => {
    document.addEventListener('securitypolicyviolation', (e) => {
      window.__dashCspViolation(`${e.violatedDirective} blocked ${e.blockedURI || 'inline'} at ${e.sourceFile}:${e.lineNumber}`);
    });
  });
  seen.clear = () => {
    seen.errors.length = 0;
    seen.dialogs.length = 0;
  };
  return seen;
}

// A fresh context (cookie jar) with one page, logged in through the login form as `role`.
async function session(browser, fx, role, viewport = { width: 1280, height: 800 }) {
  const context = await browser.newContext({ viewport });
  context.setDefaultTimeout(15_000);
  const page = await context.newPage();
  const seen = await watch(page);
  await login(page, fx, fx.tokens[role]);
  return { context, page, seen };
}

// Fills the login form with `token` and submits it; returns the response of the form's POST.
async function login(page, fx, token) {
  await page.goto(`${fx.url}/ui/login`);
  const form = page.locator('form[action^="/ui/login"]');
  await form.locator('input[name="token"]').fill(token);
  const [response] = await Promise.all([
    page.waitForNavigation(),
    form.locator('button[type="submit"], input[type="submit"]').first().click(),
  ]);
  return response;
}

// The session's CSRF token as the pages carry it (every form has it; the logout form is on every page).
async function csrfOf(page) {
  return page.locator('input[name="csrf"]').first().inputValue();
}

// POST a form body from inside the page (same origin, the session's cookie), as a script would.
async function postFromPage(page, path, fields) {
  return page.evaluate(
    async ({ path, fields }) => {
      const r = await fetch(path, {
        method: 'POST',
        body: new URLSearchParams(fields),
        credentials: 'same-origin',
        redirect: 'manual',
      });
      return { status: r.status, type: r.type, text: r.type === 'opaqueredirect' ? '' : await r.text() };
    },
    { path, fields },
  );
}

// Polls `fn` until it returns a truthy value (returned) or `ms` pass (throws with `what`).
async function until(fn, ms, what) {
  const end = Date.now() + ms;
  let last;
  while (Date.now() < end) {
    last = await fn();
    if (last) return last;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`timed out after ${ms / 1000} s waiting for ${what} (last: ${JSON.stringify(last)})`);
}

module.exports = { CHROMIUM, fixture, launch, apiClient, apiJson, watch, session, login, csrfOf, postFromPage, until };
