#!/usr/bin/env node
// Screenshots of every dashboard page (scripts/screenshots.sh; docs/screenshots/README.md):
//
//   node screenshots.js --fixture PATH/dash-fleet --out DIR [-- FIXTURE ARGS...]
//
// Starts the fixture (a real fwserver and simulated terminals, dash_fleet.h), starts its main rollout and
// waits until the abort rule paused it, then logs in as an approver (and as a viewer for the rollout page
// without buttons) and saves DIR/<page>-<width>x<height>.png of every page at 1280x800 and 390x844 (the
// whole page, cut at 2 screens high), plus the login page. Prints the files it wrote.
'use strict';

const { spawn } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const readline = require('node:readline');
const { CHROMIUM, launch, apiClient, apiJson, login, until } = require('./lib');

function parseArgs(argv) {
  const out = { fixture: '', out: '', fixtureArgs: [] };
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--') {
      out.fixtureArgs = argv.slice(i + 1);
      break;
    }
    if (argv[i] === '--fixture') out.fixture = argv[++i];
    else if (argv[i] === '--out') out.out = argv[++i];
    else throw new Error(`unknown argument ${argv[i]}`);
  }
  if (!out.fixture || !out.out) throw new Error('usage: screenshots.js --fixture PATH --out DIR [-- FIXTURE ARGS]');
  return out;
}

const VIEWPORTS = [
  { width: 1280, height: 800 },
  { width: 390, height: 844 },
];

// [file name, path, what it shows]
function pages(fx) {
  return [
    ['fleet', '/ui/', 'fleet overview: terminals by version and state, check-ins, not seen, quarantined, journal alerts'],
    ['devices', '/ui/devices', 'the terminal list (T-00003 carries the label <script>alert(1)</script>, shown as text)'],
    ['device', `/ui/devices/${fx.script_serial}`, 'a terminal: manifest, action timeline with its events, witness, backups, certificates, labels'],
    ['device-quarantined', `/ui/devices/${fx.quarantined_serial}`, 'a quarantined terminal (release button: approver)'],
    ['rollouts', '/ui/rollouts', 'the rollout list'],
    ['rollout-paused', `/ui/rollouts/${fx.rollout}`, 'the rollout paused by its health_failed rule: the reason with its numbers, groups by class, approver buttons'],
    ['rollout-finished', `/ui/rollouts/${fx.finished_rollout}`, 'a finished rollout'],
    ['alerts', '/ui/alerts', 'alerts with their deliveries'],
    ['audit', '/ui/audit', 'the audit log with its chain verification'],
  ];
}

function readme(fx) {
  const rows = pages(fx).map(([name, url, what]) =>
    `| ${what.replace(/</g, '&lt;')} | \`${url}\` | approver | [1280×800](${name}-1280x800.png) | [390×844](${name}-390x844.png) |`);
  return [
    '# Dashboard screenshots',
    '',
    'Made by `scripts/screenshots.sh` (tests/browser/screenshots.js): Debian\'s headless Chromium against a real',
    '`fwserver run` with simulated terminals (the browser tests\' fixture, docs/dashboard-browser.md): 12',
    'terminals, a finished pilot rollout to 1.1.0, one terminal quarantined, and a rollout to 1.2.0 paused by',
    'its abort rule (a third of the terminals fail their health check). Each image is the page from its top,',
    'at most two screens high.',
    '',
    '| page | URL | logged in as | desktop | phone |',
    '|---|---|---|---|---|',
    '| the login form | `/ui/login` | nobody | [1280×800](login-1280x800.png) | [390×844](login-390x844.png) |',
    ...rows,
    `| the paused rollout as a viewer: the reason, no button | \`/ui/rollouts/${fx.rollout}\` | viewer | [1280×800](rollout-paused-viewer-1280x800.png) | |`,
    '',
  ].join('\n');
}

async function shoot(page, file, viewport) {
  const height = await page.evaluate(() => document.documentElement.scrollHeight);
  const clip = { x: 0, y: 0, width: viewport.width, height: Math.min(height, viewport.height * 2) };
  await page.screenshot({ path: file, fullPage: true, clip });
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  if (!fs.existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing (scripts/setup.sh)`);
  fs.mkdirSync(opts.out, { recursive: true });
  const child = spawn(opts.fixture, opts.fixtureArgs, { stdio: ['pipe', 'pipe', 'inherit'] });
  const lines = readline.createInterface({ input: child.stdout });
  const next = () => new Promise((resolve, reject) => {
    lines.once('line', (l) => resolve(JSON.parse(l)));
    child.once('exit', (code) => reject(new Error(`the fixture exited (${code})`)));
  });
  const fx = await next();
  const written = [];
  let browser;
  try {
    child.stdin.write('start\n');
    const started = await next();
    if (!started.started) throw new Error(`start: ${JSON.stringify(started)}`);
    const api = await apiClient(fx, 'viewer');
    await until(async () => (await apiJson(api, `/v1/rollouts/${fx.rollout}`)).state === 'paused', 150_000, 'the rule pause');
    // The check-ins chart fills once the server wrote its first batch (at most a minute after the first one).
    const checkins = async () => (await apiJson(api, '/v1/fleet/summary')).checkins.buckets.reduce((n, b) => n + b.checkins, 0);
    await until(async () => (await checkins()) > 0, 120_000, 'check-ins in the fleet summary');
    await api.dispose();
    browser = await launch(fx);
    for (const viewport of VIEWPORTS) {
      const size = `${viewport.width}x${viewport.height}`;
      const context = await browser.newContext({ viewport });
      const page = await context.newPage();
      await page.goto(`${fx.url}/ui/login`);
      await shoot(page, path.join(opts.out, `login-${size}.png`), viewport);
      written.push(`login-${size}.png`);
      await login(page, fx, fx.tokens.approver);
      for (const [name, url] of pages(fx)) {
        await page.goto(`${fx.url}${url}`);
        await shoot(page, path.join(opts.out, `${name}-${size}.png`), viewport);
        written.push(`${name}-${size}.png`);
      }
      await context.close();
    }
    const viewport = VIEWPORTS[0];
    const context = await browser.newContext({ viewport });
    const page = await context.newPage();
    await login(page, fx, fx.tokens.viewer);
    await page.goto(`${fx.url}/ui/rollouts/${fx.rollout}`);
    await shoot(page, path.join(opts.out, 'rollout-paused-viewer-1280x800.png'), viewport);
    written.push('rollout-paused-viewer-1280x800.png');
    await context.close();
    fs.writeFileSync(path.join(opts.out, 'README.md'), readme(fx));
    written.push('README.md');
  } finally {
    await browser?.close();
    child.stdin.end();
    if (child.exitCode === null && child.signalCode === null) await new Promise((resolve) => child.once('exit', resolve));
  }
  for (const f of written) console.log(path.join(opts.out, f));
}

main().catch((e) => {
  process.stderr.write(`screenshots.js: ${e.stack || e}\n`);
  process.exit(1);
});
