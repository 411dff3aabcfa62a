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

function pages(fx) {
  return [
    ['fleet', '/ui/'],
    ['devices', '/ui/devices'],
    ['device', `/ui/devices/${fx.script_serial}`],
    ['device-quarantined', `/ui/devices/${fx.quarantined_serial}`],
    ['rollouts', '/ui/rollouts'],
    ['rollout-paused', `/ui/rollouts/${fx.rollout}`],
    ['rollout-finished', `/ui/rollouts/${fx.finished_rollout}`],
    ['alerts', '/ui/alerts'],
    ['audit', '/ui/audit'],
  ];
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
