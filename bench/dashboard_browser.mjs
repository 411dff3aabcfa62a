// Browser load of the dashboard's pages (bench/dashboard_bench.sh, part 4): headless Debian chromium driven
// by playwright-core (it launches /usr/bin/chromium; never downloads a browser).
//   node dashboard_browser.mjs FWSERVER_BASE NGINX_BASE LOADS COOKIE_JAR PAGE...
// For each page: one warm-up load, then LOADS loads from fwserver (with the session cookies of the curl
// cookie jar) and LOADS loads of the same bytes from nginx (/p/INDEX.html), alternating; prints the medians
// of the navigation timing's responseEnd, domContentLoadedEventEnd and loadEventEnd (ms from the start of
// the navigation) and the console errors seen on fwserver's pages.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const { chromium } = require('playwright-core');

const [fwBase, ngBase, loadsText, jarPath, ...pages] = process.argv.slice(2);
const loads = Number(loadsText);

function jarCookies(path, base) {
  const out = [];
  for (const line of readFileSync(path, 'utf8').split('\n')) {
    if (!line || (line.startsWith('#') && !line.startsWith('#HttpOnly_'))) continue;
    const f = line.split('\t');
    if (f.length < 7) continue;
    out.push({ name: f[5], value: f[6], url: base });
  }
  return out;
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? NaN : (s[Math.floor((s.length - 1) / 2)] + s[Math.floor(s.length / 2)]) / 2;
};

async function timing(page, url) {
  const response = await page.goto(url, { waitUntil: 'load' });
  await page.waitForFunction(() => performance.getEntriesByType('navigation')[0]?.loadEventEnd > 0);
  const t = await page.evaluate(() => performance.getEntriesByType('navigation')[0].toJSON());
  return { status: response ? response.status() : 0, responseEnd: t.responseEnd,
           dcl: t.domContentLoadedEventEnd, load: t.loadEventEnd, bytes: t.transferSize };
}

const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', headless: true,
                                        args: ['--no-sandbox', '--disable-dev-shm-usage'] });
let bad = 0;
try {
  const context = await browser.newContext({ ignoreHTTPSErrors: true, viewport: { width: 1280, height: 800 } });
  await context.addCookies(jarCookies(jarPath, fwBase));
  const page = await context.newPage();
  const errors = [];
  page.on('console', (m) => { if (m.type() === 'error') errors.push({ url: page.url(), text: m.text() }); });
  page.on('pageerror', (e) => errors.push({ url: page.url(), text: String(e) }));
  const pad = (s, n) => String(s).padStart(n);
  console.log(`${'page'.padEnd(34)} ${pad('status', 6)} | ${pad('fw resp', 8)} ${pad('fw DCL', 8)} ${pad('fw load', 8)} | `
              + `${pad('ngx resp', 8)} ${pad('ngx DCL', 8)} ${pad('ngx load', 8)} | ${pad('ratio', 7)} | console errors`);
  for (let i = 0; i < pages.length; i++) {
    const fwUrl = fwBase + pages[i], ngUrl = `${ngBase}/p/${i}.html`;
    await timing(page, fwUrl);  // warm-up (app.css and app.js cached, as for an operator moving between pages)
    await timing(page, ngUrl);
    errors.length = 0;
    const fw = [], ng = [];
    let status = 0;
    for (let k = 0; k < loads; k++) {
      const order = k % 2 === 0 ? [[fwUrl, fw], [ngUrl, ng]] : [[ngUrl, ng], [fwUrl, fw]];
      for (const [url, into] of order) {
        const t = await timing(page, url);
        if (url === fwUrl) status = t.status;
        into.push(t);
      }
    }
    const fwErrors = errors.filter((e) => e.url.startsWith(fwBase));
    for (const e of fwErrors.slice(0, 3)) console.log(`  console error on ${e.url}: ${e.text}`);
    const m = (xs, k) => median(xs.map((t) => t[k])).toFixed(1);
    const ratio = (median(fw.map((t) => t.load)) / median(ng.map((t) => t.load))).toFixed(1);
    console.log(`${pages[i].padEnd(34)} ${pad(status, 6)} | ${pad(m(fw, 'responseEnd'), 8)} ${pad(m(fw, 'dcl'), 8)} `
                + `${pad(m(fw, 'load'), 8)} | ${pad(m(ng, 'responseEnd'), 8)} ${pad(m(ng, 'dcl'), 8)} ${pad(m(ng, 'load'), 8)} | `
                + `${pad(ratio + ' x', 7)} | ${fwErrors.length}`);
    if (status !== 200) bad++;
  }
} finally {
  await browser.close();
}
process.exit(bad === 0 ? 0 : 1);
