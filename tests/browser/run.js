#!/usr/bin/env node
// The driver of the dashboard's browser tests (ctest dashboard_browser / dashboard_browser_pg;
// docs/dashboard-browser.md):
//
//   node run.js --fixture PATH/dash-fleet [--only FILE.test.js ...] [-- FIXTURE ARGS...]
//
// Checks that Debian's chromium and playwright-core (tests/browser/node_modules, scripts/setup.sh) are
// there — missing, the run FAILS, it is never skipped —, starts the fixture, reads its JSON line, runs
// the *.test.js files one after another with node's test runner (DASH_FIXTURE = that line), then closes
// the fixture's stdin (it stops the server and the terminals) and waits for it. Exit 0 only when the
// fixture came up, every test passed and the fixture stopped cleanly.
'use strict';

const { spawn } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const readline = require('node:readline');
const { CHROMIUM } = require('./lib');

const here = __dirname;
const began = Date.now();
const seconds = () => ((Date.now() - began) / 1000).toFixed(1);
const log = (msg) => process.stderr.write(`run.js [${seconds()} s]: ${msg}\n`);

function parseArgs(argv) {
  const out = { fixture: '', only: [], fixtureArgs: [] };
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--') {
      out.fixtureArgs = argv.slice(i + 1);
      break;
    }
    if (argv[i] === '--fixture') out.fixture = argv[++i];
    else if (argv[i] === '--only') out.only.push(argv[++i]);
    else throw new Error(`unknown argument ${argv[i]}`);
  }
  if (!out.fixture) throw new Error('--fixture PATH is required');
  return out;
}

function checkTools() {
  const problems = [];
  if (!fs.existsSync(CHROMIUM)) problems.push(`${CHROMIUM} is missing (scripts/setup.sh installs Debian's chromium)`);
  try {
    require.resolve('playwright-core', { paths: [here] });
  } catch {
    problems.push(`playwright-core is not installed in ${here}/node_modules (scripts/setup.sh runs npm ci there)`);
  }
  return problems;
}

// The fixture's first stdout line (its JSON), or an error when it exits or takes too long.
function startFixture(bin, args) {
  const child = spawn(bin, args, { stdio: ['pipe', 'pipe', 'inherit'] });
  const ready = new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('the fixture printed nothing within 240 s')), 240_000);
    const lines = readline.createInterface({ input: child.stdout });
    lines.once('line', (line) => {
      clearTimeout(timer);
      try {
        resolve(JSON.parse(line));
      } catch (e) {
        reject(new Error(`the fixture printed ${line}`));
      }
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`the fixture exited (${code ?? signal}) before it was ready`));
    });
    child.once('error', (e) => reject(e));
  });
  return { child, ready };
}

function stopFixture(child) {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve(child.exitCode ?? 1);
    const kill = setTimeout(() => child.kill('SIGTERM'), 30_000);
    const hard = setTimeout(() => child.kill('SIGKILL'), 45_000);
    child.once('exit', (code) => {
      clearTimeout(kill);
      clearTimeout(hard);
      resolve(code ?? 1);
    });
    child.stdin.end();
  });
}

function runTests(files, fixture) {
  return new Promise((resolve) => {
    const args = ['--test', '--test-concurrency=1', '--test-reporter=spec', ...files];
    const env = { ...process.env, DASH_FIXTURE: JSON.stringify(fixture) };
    const child = spawn(process.execPath, args, { stdio: 'inherit', env, cwd: here });
    child.once('exit', (code) => resolve(code ?? 1));
  });
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  const problems = checkTools();
  if (problems.length > 0) {
    for (const p of problems) log(`FAIL: ${p}`);
    return 1;
  }
  const files = (opts.only.length > 0 ? opts.only : fs.readdirSync(here).filter((f) => f.endsWith('.test.js')).sort())
    .map((f) => path.join(here, f));
  log(`starting ${opts.fixture} ${opts.fixtureArgs.join(' ')}`);
  const { child, ready } = startFixture(opts.fixture, opts.fixtureArgs);
  let fixture;
  try {
    fixture = await ready;
  } catch (e) {
    log(`FAIL: ${e.message}`);
    child.kill('SIGTERM');
    return 1;
  }
  log(`fixture ready (${fixture.database}, ${fixture.terminals} terminals, ${fixture.url}); running ${files.length} files`);
  const code = await runTests(files, fixture);
  log(`tests exited ${code}; stopping the fixture`);
  const fixtureCode = await stopFixture(child);
  log(`fixture exited ${fixtureCode}; total ${seconds()} s`);
  return code === 0 && fixtureCode === 0 ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (e) => {
    log(`FAIL: ${e.stack || e}`);
    process.exit(1);
  },
);
