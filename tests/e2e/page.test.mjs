// SPDX-License-Identifier: MIT
// Browser test of the dashboard page: headless Debian chromium, driven by playwright-core,
// against memscope_page_fixture (a real memscope::Server whose figures move).
//
//   node page.test.mjs --fixture <memscope_page_fixture> --out <screenshot dir>
//                      [--chromium /usr/bin/chromium] [--extra N] [--look SECONDS]
//
// It checks that the table matches /api/v1/subsystems (with each row's source badge and a
// both row's estimate), the per-subsystem reconciliation, sorting, the red row within 2 s of
// a crossing, the specification's warning message in the events panel, an over-budget
// row, a leak suspect, the charts' points, marks and their diff, the polling fallback,
// the disconnect banner and the reconnection, and that the console stayed clean and no
// request left the machine, and that the recording of the run, loaded with "Load
// recording", shows like a live session. Screenshots (1280x720 and 1440x900, light and dark) go to
// --out. With --look S it only runs the fixture for S seconds with --extra subsystems
// and takes the screenshots (for looking at the page, not testing it).

import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { chromium } from 'playwright-core';
import { formatBytes } from '../../web/static/format.js';

const args = { chromium: '/usr/bin/chromium', extra: '0', look: '' };
for (let i = 2; i < process.argv.length; i += 2) args[process.argv[i].replace(/^--/, '')] = process.argv[i + 1];
if (!args.fixture || !args.out) {
  console.error('usage: node page.test.mjs --fixture <memscope_page_fixture> --out <dir> [--chromium path] [--extra N] [--look S]');
  process.exit(2);
}

// Mandatory on an offline machine: without the network flags chromium waits for services.
const CHROMIUM_FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'];

const started = Date.now();
const log = (...m) => console.log(`[${((Date.now() - started) / 1000).toFixed(1).padStart(5)} s]`, ...m);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

let failures = 0;
function check(condition, message) {
  if (condition) return;
  failures += 1;
  console.error(`FAIL: ${message}`);
}

// Polls fn (which throws or returns false while not yet) until it holds.
async function eventually(what, fn, timeoutMs = 5000) {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  for (;;) {
    try {
      const v = await fn();
      if (v !== false && v !== undefined) return v;
      last = 'condition false';
    } catch (err) {
      last = err.message;
    }
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms (${last})`);
    await sleep(40);
  }
}

// ------------------------------------------------------------------ the fixture

class Fixture {
  constructor(bin, extraArgs) {
    this.proc = spawn(bin, extraArgs, { stdio: ['pipe', 'pipe', 'inherit'] });
    this.lines = [];
    this.wake = null;
    this.exited = new Promise((resolve) => this.proc.on('exit', resolve));
    readline.createInterface({ input: this.proc.stdout }).on('line', (line) => {
      this.lines.push(line);
      if (this.wake) this.wake();
    });
  }

  async line(pattern, timeoutMs = 10000) {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const i = this.lines.findIndex((l) => pattern.test(l));
      if (i >= 0) return this.lines.splice(i, 1)[0];
      if (Date.now() > deadline) throw new Error(`fixture: no line matching ${pattern}`);
      await new Promise((r) => {
        this.wake = r;
        setTimeout(r, 100);
      });
    }
  }

  // Sends a command and waits for its answer; returns the fixture's clock at completion.
  async send(command) {
    this.proc.stdin.write(`${command}\n`);
    const answer = await this.line(/^(ok|error) /);
    if (answer.startsWith('error')) throw new Error(`fixture: ${command}: ${answer}`);
    return Number(answer.split(' ').pop());
  }

  async quit() {
    if (this.proc.exitCode !== null || this.proc.signalCode !== null) return;
    this.proc.stdin.end('quit\n');
    const timeout = sleep(5000).then(() => 'timeout');
    if ((await Promise.race([this.exited, timeout])) === 'timeout') this.proc.kill('SIGKILL');
  }
}

// ------------------------------------------------------------------ page helpers

// The fixture's rows: the six reported ones, Scripts (measured and reported: both) and the
// measured Particles.
const ROWS = 8;

// Each visible row: its cells' texts without the source badge and the estimate, which come
// apart as `source` and `estimate` ('' when hidden).
const tableRows = (page) => page.$$eval('#subsystem-rows tr', (trs) => trs.filter((tr) => !tr.hidden).map((tr) => {
  const shown = (sel) => {
    const e = tr.querySelector(sel);
    return e && !e.hidden ? e.textContent : '';
  };
  const text = (td) => [...td.childNodes]
    .filter((n) => !(n.classList && ['src', 'est', 'forecast'].some((c) => n.classList.contains(c))))
    .map((n) => n.textContent).join('').trim();
  return {
    name: tr.dataset.name,
    cls: tr.className,
    cells: [...tr.cells].map(text),
    source: shown('.src'),
    estimate: shown('.est'),
    forecast: shown('.forecast'),
    width: tr.querySelector('.fill').style.width,
  };
}));

const getJson = async (base, p) => {
  const r = await fetch(new URL(p, base));
  if (!r.ok) throw new Error(`${p}: HTTP ${r.status}`);
  return r.json();
};

const pct = (usage) => `${(usage * 100).toFixed(1)}%`;

function rowMatches(row, s) {
  const budgeted = s.budget_bytes > 0;
  const want = [
    s.name,
    s.formatted.current_bytes,
    s.formatted.peak_bytes,
    budgeted ? s.formatted.budget_bytes : 'N/A',
    budgeted ? pct(s.usage) : 'N/A',
  ];
  const got = [row.name, row.cells[1], row.cells[2], row.cells[3], row.cells[4]];
  if (s.status === 'over_budget') want[0] = s.name;  // the badge is in the name cell
  const problems = [];
  for (let i = 1; i < want.length; i += 1) if (got[i] !== want[i]) problems.push(`column ${i}: "${got[i]}" != "${want[i]}"`);
  if (row.name !== s.name) problems.push(`name "${row.name}" != "${s.name}"`);
  if (row.cells[5].replace(/,/g, '') !== String(s.allocation_count)) problems.push(`count ${row.cells[5]} != ${s.allocation_count}`);
  const red = s.status === 'warning' || s.status === 'over_budget';
  if (/\bwarn\b/.test(row.cls) !== red) problems.push(`class "${row.cls}" for status ${s.status}`);
  if (/\bover\b/.test(row.cls) !== (s.status === 'over_budget')) problems.push(`class "${row.cls}" for status ${s.status}`);
  if (budgeted && Math.abs(parseFloat(row.width) - Math.min(s.usage, 1) * 100) > 0.01) problems.push(`bar width ${row.width} for usage ${s.usage}`);
  if (row.source !== s.source) problems.push(`source badge "${row.source}" != "${s.source}"`);
  const estimate = s.source === 'both' ? `est. ${s.formatted.reported_bytes} (${s.formatted.estimate_error_bytes})` : '';
  if (row.estimate !== estimate) problems.push(`estimate "${row.estimate}" != "${estimate}"`);
  return problems;
}

async function tableMatchesJson(page, base) {
  const [rows, json] = await Promise.all([tableRows(page), getJson(base, '/api/v1/subsystems')]);
  const problems = [];
  if (rows.length !== json.subsystems.length) problems.push(`${rows.length} rows, ${json.subsystems.length} in the JSON`);
  const byName = new Map(rows.map((r) => [r.name, r]));
  for (const s of json.subsystems) {
    const row = byName.get(s.name);
    if (!row) problems.push(`no row for ${s.name}`);
    else problems.push(...rowMatches(row, s).map((p) => `${s.name}: ${p}`));
  }
  if (problems.length) throw new Error(problems.slice(0, 6).join('; '));
  return json;
}

const chartPoints = (page) => page.evaluate(() => {
  const points = (id) => {
    const chart = window.Chart && window.Chart.getChart(document.getElementById(id));
    return chart ? chart.data.datasets.map((d) => ({ label: d.label, n: d.data.length, hidden: !chart.isDatasetVisible(chart.data.datasets.indexOf(d)) })) : null;
  };
  return { total: points('chart-total'), subsystems: points('chart-subsystems') };
});

// A canvas that drew something has pixels of more than one colour.
const canvasDrew = (page, id) => page.evaluate((canvasId) => {
  const c = document.getElementById(canvasId);
  const ctx = c.getContext('2d');
  const data = ctx.getImageData(0, 0, c.width, c.height).data;
  const colours = new Set();
  for (let i = 0; i < data.length; i += 4 * 97) colours.add((data[i] << 16) | (data[i + 1] << 8) | data[i + 2] | (data[i + 3] << 24));
  return colours.size;
}, id);

async function screenshots(page, out, prefix) {
  const shots = [];
  for (const [w, h] of [[1280, 720], [1440, 900]]) {
    for (const scheme of ['light', 'dark']) {
      await page.setViewportSize({ width: w, height: h });
      await page.emulateMedia({ colorScheme: scheme });
      await sleep(400);  // a sample or two, the charts re-themed
      const file = path.join(out, `${prefix}${w}x${h}-${scheme}.png`);
      await page.screenshot({ path: file });
      shots.push(file);
    }
  }
  await page.setViewportSize({ width: 1440, height: 900 });
  await page.emulateMedia({ colorScheme: 'light' });
  await sleep(300);
  const full = path.join(out, `${prefix}full-1440-light.png`);
  await page.screenshot({ path: full, fullPage: true });
  await page.emulateMedia({ colorScheme: 'dark' });
  await sleep(300);
  const fullDark = path.join(out, `${prefix}full-1440-dark.png`);
  await page.screenshot({ path: fullDark, fullPage: true });
  await page.emulateMedia({ colorScheme: 'light' });
  shots.push(full, fullDark);
  return shots;
}

// ------------------------------------------------------------------ the run

async function main() {
  mkdirSync(args.out, { recursive: true });
  const look = args.look ? Number(args.look) : 0;
  // The script starts 6 s in: Chunks loads its second level 6 s (plus the frozen time)
  // after the start rather than 12.
  const userDataDir = mkdtempSync(path.join(tmpdir(), 'memscope-e2e-'));
  // The run records itself (ServerOptions::recording): the restart of step 10 moves the
  // first server's recording to session.ndjson.1.
  const recording = path.join(userDataDir, 'session.ndjson');
  const fixture = new Fixture(args.fixture, ['--port', '0', '--interval-ms', '250', '--extra', args.extra,
    '--script-start', look ? '0' : '6', '--record', recording]);
  let context = null;
  try {
    const listening = await fixture.line(/^listening on /);
    const base = listening.replace(/^listening on /, '').trim();
    const origin = new URL(base).origin;
    log(`fixture at ${base}`);

    context = await chromium.launchPersistentContext(userDataDir, {
      executablePath: args.chromium,
      headless: true,
      args: CHROMIUM_FLAGS,
      viewport: { width: 1280, height: 720 },
      colorScheme: 'light',
      timeout: 30000,
    });
    const page = context.pages()[0] || await context.newPage();

    // What the page does, sorted by whether the game was still up.
    let serverDown = false;
    const errorsUp = [];
    const errorsDown = [];
    const foreign = [];
    const note = (m) => (serverDown ? errorsDown : errorsUp).push(m);
    page.on('console', (m) => { if (m.type() === 'error') note(`console: ${m.text()}`); });
    page.on('pageerror', (e) => note(`page error: ${e.message}`));
    page.on('requestfailed', (r) => note(`request failed: ${r.url()} ${r.failure() && r.failure().errorText}`));
    page.on('response', (r) => { if (r.status() >= 400) note(`HTTP ${r.status()}: ${r.url()}`); });
    page.on('request', (r) => { if (!r.url().startsWith(origin) && !r.url().startsWith('data:')) foreign.push(r.url()); });

    const response = await page.goto(base);
    check(response.status() === 200, `GET / answered ${response.status()}`);
    const csp = response.headers()['content-security-policy'] || '';
    check(csp.includes("default-src 'self'"), `the page is served with its CSP (got "${csp}")`);

    // Generous first waits: CI machines are slow while other tests build.
    await eventually('the table filled', async () => (await tableRows(page)).length >= ROWS, 15000);
    await eventually('the stream connected', async () => (await page.textContent('#conn')) === 'live', 10000);
    log('page loaded, stream live');

    if (look) {
      log(`looking for ${look} s`);
      await sleep(look * 1000);
      const s = await screenshots(page, args.out, 'look-');
      await page.check('#stacked');
      await page.setViewportSize({ width: 1440, height: 900 });
      await page.locator('#chart-subsystems').scrollIntoViewIfNeeded();
      await sleep(300);
      s.push(path.join(args.out, 'look-stacked-1440x900-light.png'));
      await page.screenshot({ path: s[s.length - 1] });
      log(`screenshots: ${s.join(', ')}`);
      return;
    }

    await eventually('the charts have 6 samples', async () => {
      const p = await chartPoints(page);
      return p.total && p.total[0].n >= 6 && p.subsystems.length >= ROWS && p.subsystems.every((d) => d.n >= 6);
    }, 15000);

    // 1. The table shows what the JSON says.
    await fixture.send('freeze');
    const json = await eventually('the table matches /api/v1/subsystems', () => tableMatchesJson(page, base), 4000);
    const names = (await tableRows(page)).map((r) => r.name);
    check(JSON.stringify(names) === JSON.stringify(json.subsystems.map((s) => s.name)),
      `rows in name order: ${names.join(', ')}`);
    const totals = await getJson(base, '/api/v1/totals');
    check(await page.textContent('#t-current') === totals.formatted.current_bytes, 'tracked total in the summary');
    check(await page.textContent('#foot-budget') === totals.formatted.budget_bytes, 'total budget under the table');
    const recon = await getJson(base, '/api/v1/reconciliation');
    check(await page.textContent('#r-reported') === recon.formatted.reported_bytes, 'reconciliation: reported');
    // The tracked bytes split by family: the fixture holds 5 MiB through malloc().
    const allocator = await getJson(base, '/api/v1/allocator');
    const split = await page.textContent('#r-tracked-detail');
    const amount = String.raw`(\d+(\.\d+)? (B|KB|MB|GB))`;
    if (!allocator.tracking_enabled) {
      check(/^C\+\+ operators 0 B · malloc not counted$/.test(split), `no split without tracking: ${split}`);
    } else if (allocator.sources.malloc_counted) {
      const m = new RegExp(`^C\\+\\+ operators ${amount} · malloc family ${amount}$`).exec(split);
      check(m !== null, `the tracked bytes split by family: ${split}`);
      const malloc = m && (m[6] === 'GB' || (m[6] === 'MB' && Number.parseFloat(m[4]) >= 5));
      check(malloc && allocator.sources.malloc.current_bytes >= 5 * 1024 * 1024,
        `the malloc family holds the fixture's 5 MiB: ${split}`);
    } else {
      check(new RegExp(`^C\\+\\+ operators ${amount} · malloc not counted$`).test(split),
        `malloc not counted: ${split}`);
    }
    log(`tracked bytes by family: "${split}"`);
    const scripts = (await tableRows(page)).find((r) => r.name === 'Scripts');
    check(scripts && scripts.cells[3] === 'N/A' && scripts.cells[4] === 'N/A', 'an unbudgeted row reads N/A');
    log(`table matches the JSON (${json.subsystems.length} rows)`);

    // 1b. Where each row comes from: badges, a both row's estimate and its error beside
    // the measurement, the legend, and the reconciliation per subsystem.
    const bySource = (rows, name) => rows.find((r) => r.name === name);
    const rowsNow = await tableRows(page);
    if (json.subsystems.some((s) => s.source === 'measured')) {  // tracking compiled in
      check(bySource(rowsNow, 'Chunks').source === 'reported', 'Chunks has the reported badge');
      check(bySource(rowsNow, 'Particles').source === 'measured', 'Particles has the measured badge');
      const scriptsJson = json.subsystems.find((s) => s.name === 'Scripts');
      const scriptsRow = bySource(rowsNow, 'Scripts');
      check(scriptsJson.source === 'both' && scriptsRow.source === 'both', 'Scripts is both, and says so');
      check(scriptsJson.estimate_error_bytes === scriptsJson.reported_bytes - scriptsJson.current_bytes,
        'the estimate error is the report minus the measurement');
      check(scriptsJson.estimate_error_bytes > 0, `the fixture's Scripts estimate is too high: ${scriptsJson.estimate_error_bytes}`);
      check(/^est\. [\d.]+ MB \(\+[\d.]+ (MB|KB)\)$/.test(scriptsRow.estimate), `the estimate under the figure: "${scriptsRow.estimate}"`);
      check(!rowsNow.some((r) => r.name !== 'Scripts' && r.estimate), 'only the both row shows an estimate');
      check(await page.isVisible('#source-legend'), 'the legend of the badges shows');
      check((await page.getAttribute('#subsystem-rows tr[data-name="Scripts"] .src', 'title')).includes('estimate'),
        'the both badge explains itself');
      const reconSubs = recon.subsystems.find((x) => x.name === 'Scripts');
      const reconRow = await page.$$eval('#recon-est-rows tr', (trs) => trs.map((tr) => [...tr.cells].map((td) => td.textContent)));
      check(JSON.stringify(reconRow) === JSON.stringify([['Scripts', reconSubs.formatted.measured_bytes,
        reconSubs.formatted.reported_bytes, reconSubs.formatted.estimate_error_bytes]]),
      `the reconciliation lists Scripts' measurement against its report: ${JSON.stringify(reconRow)}`);
      check((await page.textContent('#recon-sources')).startsWith(`${ROWS} subsystems: 1 measured, 6 reported, 1 both`),
        `the reconciliation counts the sources: ${await page.textContent('#recon-sources')}`);
      await page.setViewportSize({ width: 1280, height: 900 });
      await page.locator('.card-table').screenshot({ path: path.join(args.out, 'table-sources-light.png') });
      await page.emulateMedia({ colorScheme: 'dark' });
      await sleep(200);
      await page.locator('.card-table').screenshot({ path: path.join(args.out, 'table-sources-dark.png') });
      await page.locator('.row-bottom').screenshot({ path: path.join(args.out, 'reconciliation-sources-dark.png') });
      await page.emulateMedia({ colorScheme: 'light' });
      await page.setViewportSize({ width: 1280, height: 720 });
      log(`sources shown: Scripts "${scriptsRow.estimate}", legend, reconciliation per subsystem`);
    } else {
      log('tracking is compiled out: no measured rows to check');
    }

    // 2. Sorting by clicking the headers.
    const order = async () => (await tableRows(page)).map((r) => r.name);
    // The fixture's figures move every frame, so the order is compared with the server's
    // figures of the same moment, not with the snapshot above: until a fresh snapshot and
    // the table agree (the page re-sorts at each update), at most 3 s. True, or what differed.
    const sortedLike = async (key, dir) => {
      try {
        return await eventually('the order', async () => {
          const now = (await getJson(base, '/api/v1/subsystems')).subsystems;
          const want = [...now].sort((a, b) => dir * (key(a) - key(b)) || a.name.localeCompare(b.name)).map((x) => x.name);
          const got = await order();
          if (JSON.stringify(got) !== JSON.stringify(want)) throw new Error(`${got} where the JSON gives ${want}`);
          return true;
        }, 3000);
      } catch (err) {
        return err.message;
      }
    };
    await page.click('th[data-key="current"] button');
    let sorted = await sortedLike((s) => s.current_bytes, -1);
    check(sorted === true, `sorted by current, largest first: ${sorted}`);
    check(await page.getAttribute('th[data-key="current"]', 'aria-sort') === 'descending', 'aria-sort descending');
    await page.click('th[data-key="current"] button');
    sorted = await sortedLike((s) => s.current_bytes, 1);
    check(sorted === true, `sorted by current, smallest first: ${sorted}`);
    await page.click('th[data-key="usage"] button');
    sorted = await sortedLike((s) => (s.budget_bytes ? s.usage : -1), -1);
    check(sorted === true, `sorted by usage: ${sorted}`);
    await page.click('th[data-key="name"] button');
    check(JSON.stringify(await order()) === JSON.stringify(json.subsystems.map((s) => s.name)), 'back in name order');
    log('sorting works');

    // 3. A subsystem crosses its warning threshold: red row within 2 s, the message.
    check(!/\bwarn\b/.test((await tableRows(page)).find((r) => r.name === 'Physics').cls), 'Physics not red before');
    const crossed = Date.now();
    await fixture.send('warn Physics');
    await eventually('the Physics row turns red', async () => /\bwarn\b/.test((await tableRows(page)).find((r) => r.name === 'Physics').cls), 2000);
    const redAfter = Date.now() - crossed;
    log(`Physics row red ${redAfter} ms after the crossing`);
    const events = await getJson(base, '/api/v1/events');
    const warning = events.events.filter((e) => e.kind === 'warning' && e.subsystem === 'Physics').pop();
    check(warning, 'the server fired a warning for Physics');
    check(/^Subsystem 'Physics' at \d+% of memory budget \(\d+ MB \/ \d+ MB\)$/.test(warning.message),
      `the specification's message format: ${warning.message}`);
    await eventually('the events panel shows the warning', async () =>
      (await page.$$eval('#events li .msg', (m) => m.map((x) => x.textContent))).includes(warning.message), 2000);
    const first = await page.$eval('#events li', (li) => ({ kind: li.dataset.kind, text: li.textContent }));
    check(first.kind === 'warning' && first.text.includes("Subsystem 'Physics' at"), `newest event first: ${first.text}`);
    log(`events panel: "${warning.message}"`);

    // 4. Over budget: the row is marked "over".
    await fixture.send('over Physics');
    await eventually('the Physics row is marked over', async () => {
      const r = (await tableRows(page)).find((x) => x.name === 'Physics');
      return /\bover\b/.test(r.cls) && r.cells[0] === 'Physicsover';
    }, 2000);
    // Listed, not necessarily on top: the sampler's own events (Entities' leak) may follow it.
    await eventually('the over-budget event shows', async () =>
      (await page.$$eval('#events li[data-kind="over_budget"] .msg', (m) => m.map((x) => x.textContent)))
        .some((t) => t.startsWith("Subsystem 'Physics' over memory budget")), 2000);

    // 5. A leak suspect.
    await fixture.send('leak Meshes');
    await eventually('the leak suspect shows', async () =>
      (await page.$$eval('#events li[data-kind="leak_suspect"] .msg', (m) => m.map((x) => x.textContent))).some((t) => t.includes("'Meshes' suspected leak")), 2000);
    log('over-budget row and leak suspect shown');

    // 5b. A steady approach: the sampler forecasts the crossing, the row says when (once
    // the ramp fills half of the 30 s forecast window, about 15 s).
    await fixture.send('ramp Textures');
    const forecastRow = await eventually('the Textures row shows its forecast', async () => {
      const r = (await tableRows(page)).find((x) => x.name === 'Textures');
      return /^over in ~\d+ s$/.test(r.forecast) && r;
    }, 30000);
    const forecastJson = (await getJson(base, '/api/v1/subsystems')).subsystems.find((s) => s.name === 'Textures');
    check(forecastJson.forecast_seconds > 0 && forecastJson.forecast_seconds <= 60 && forecastJson.forecast_bytes_per_second > 0,
      `the JSON row has the forecast: ${forecastJson.forecast_seconds} s at ${forecastJson.forecast_bytes_per_second} B/s`);
    await eventually('the forecast event shows', async () =>
      (await page.$$eval('#events li[data-kind="forecast"] .msg', (m) => m.map((x) => x.textContent)))
        .some((t) => /^Subsystem 'Textures' will exceed its memory budget in about \d+ s at \+/.test(t)), 2000);
    await fixture.send('calm Textures');
    log(`forecast on the row: "${forecastRow.forecast}"`);

    // 6. The charts drew points.
    await eventually('the charts show the warning marker and every subsystem', async () => {
      const p = await chartPoints(page);
      const ev = p.total.find((d) => d.label === 'Events');
      return p.total[0].n >= 6 && ev.n >= 1 && p.subsystems.length === ROWS;
    }, 3000);
    check(await canvasDrew(page, 'chart-total') > 3, 'the total chart has pixels drawn');
    check(await canvasDrew(page, 'chart-subsystems') > 3, 'the subsystem chart has pixels drawn');
    // The legend toggles a series.
    const pts = await chartPoints(page);
    log(`charts: ${pts.total.map((d) => `${d.label} ${d.n}`).join(', ')}`);

    // 7. Marks and their diff.
    await page.fill('#mark-name', 'e2e-before');
    await page.click('#mark-button');
    await eventually('the mark is listed', async () => (await page.$$eval('#marks li', (l) => l.map((x) => x.dataset.name))).includes('e2e-before'), 2000);
    const marks = await getJson(base, '/api/v1/marks');
    check(marks.marks.some((m) => m.name === 'e2e-before'), 'the server has the mark');
    await fixture.send('calm Physics');
    await fixture.send('thaw');
    await sleep(1500);
    await page.fill('#mark-name', 'e2e-after');
    await page.click('#mark-button');
    await eventually('the diff between the two marks shows', async () => {
      const title = await page.textContent('#diff-title');
      const rows = await page.$$eval('#diff-rows tr', (r) => r.length);
      return !(await page.isHidden('#diff')) && title.includes('e2e-before') && title.includes('e2e-after') && rows >= 6;
    }, 3000);
    const diffPhysics = await page.$$eval('#diff-rows tr', (rows) => rows.map((r) => r.cells[0].textContent));
    check(diffPhysics.includes('Physics'), `the diff lists Physics, which changed: ${diffPhysics}`);
    log('marks set, diff shown');

    // 7b. A mark the game sets from code (Server::mark) appears without a reload, with
    // its frame.
    await fixture.send('mark e2e-from-code 4242');
    await eventually('the mark set from code is listed with its frame', async () => {
      const items = await page.$$eval('#marks li', (l) => l.map((x) => `${x.dataset.name} ${x.textContent}`));
      return items.some((t) => t.startsWith('e2e-from-code ') && t.includes('frame 4242'));
    }, 5000);
    log('a mark from code shown');

    // 7c. Frames: the fixture ends a frame every 50 ms; a spike of Particles breaks its
    // frame budget and the total's. The chart marks that frame red, the event lists it.
    // Without tracking end_frame() records nothing, and the page says why.
    if (!(await getJson(base, '/api/v1/frames')).tracking_enabled) {
      await eventually('the "no frames" note shows', async () => !(await page.isHidden('#no-frames')), 3000);
      log('tracking is compiled out: the frame chart says there are no frames');
    } else {
    await eventually('the frame chart shows frames', async () => !(await page.isHidden('#frames-box')), 3000);
    check(await page.isHidden('#no-frames'), 'no "no frames" note while frames come');
    await fixture.send('spike Particles');
    const spike = await eventually('the server records the spike', async () => {
      const f = await getJson(base, '/api/v1/frames');
      return f.frames.find((x) => x.over_budget && x.subsystems.some((p) => p.name === 'Particles' && p.over_budget));
    }, 3000);
    check(spike.allocations > 4000, `the spike frame made ${spike.allocations} allocations`);
    await eventually('the spike is marked on the frame chart', async () => {
      const marked = await page.$eval('#chart-frames', (c) => c.dataset.spikes || '');
      return marked.split(',').includes(String(spike.frame));
    }, 3000);
    const bars = await page.evaluate((frame) => {
      const chart = window.Chart.getChart(document.getElementById('chart-frames'));
      const d = chart.data.datasets[0];
      const i = d.data.findIndex((p) => p.x === frame);
      return { n: d.data.length, colour: d.backgroundColor[i], normal: d.backgroundColor[0], budget: chart.data.datasets[1].data.map((p) => p.y) };
    }, spike.frame);
    check(bars.colour !== bars.normal, `the spike's bar has the over-budget colour (${bars.colour} vs ${bars.normal})`);
    check(bars.budget.length === 2 && bars.budget[0] === 4000, `the total frame budget is drawn as a line: ${bars.budget}`);
    check(await canvasDrew(page, 'chart-frames') > 3, 'the frame chart has pixels drawn');
    const frameEvent = await eventually('the frame_over_budget event shows', async () => {
      const items = await page.$$eval('#events li[data-kind="frame_over_budget"]', (l) => l.map((x) => x.textContent));
      return items.find((t) => t.includes('Particles')) || false;
    }, 3000);
    const events2 = await getJson(base, '/api/v1/events');
    const fe = events2.events.find((e) => e.kind === 'frame_over_budget' && e.subsystem === 'Particles');
    check(fe && fe.frame === spike.frame, `the event names the frame: ${fe && fe.frame} (spike ${spike.frame})`);
    log(`frame ${spike.frame} marked over budget (${bars.n} frames on the chart); event: "${frameEvent}"`);
    }

    // 8. The game's own script crosses too: Chunks loads its second level past the
    // threshold. Then screenshots, with that on the charts.
    await eventually('the Chunks warning of the second level shows', async () =>
      (await page.$$eval('#events li[data-kind="warning"] .msg', (m) => m.map((x) => x.textContent)))
        .some((t) => t.startsWith("Subsystem 'Chunks' at ")), 15000);
    await sleep(1200);
    const shots = await screenshots(page, args.out, '');
    log(`screenshots: ${shots.map((s) => path.basename(s)).join(', ')}`);

    // 9. The polling fallback: a second tab whose stream is refused (503).
    const polled = await context.newPage();
    await polled.route('**/api/v1/stream', (route) => route.fulfill({
      status: 503, contentType: 'application/json', body: '{"error":"too many live streams (test)"}',
    }));
    const pollErrors = [];
    polled.on('pageerror', (e) => pollErrors.push(e.message));
    await polled.goto(base);
    await eventually('the second tab polls', async () => (await polled.textContent('#conn')) === 'polling', 5000);
    await eventually('the polled table filled', async () => (await tableRows(polled)).length === ROWS, 3000);
    check(pollErrors.length === 0, `no page errors while polling: ${pollErrors}`);
    await polled.close();
    log('polling fallback works');

    // 10. The game goes away: the banner; it comes back: the page resumes.
    check(await page.isHidden('#banner'), 'no banner while connected');
    serverDown = true;
    const stopped = Date.now();
    await fixture.send('stop');
    await eventually('the disconnected banner shows', async () => page.isVisible('#banner'), 3000);
    const banner = await page.textContent('#banner');
    check(/disconnected/i.test(banner), `the banner says disconnected: ${banner}`);
    check((await page.textContent('#conn')) === 'disconnected', 'the status pill says disconnected');
    log(`banner after ${Date.now() - stopped} ms: "${banner.replace(/\s+/g, ' ').trim()}"`);
    await page.setViewportSize({ width: 1280, height: 720 });
    await page.screenshot({ path: path.join(args.out, 'disconnected-1280x720-light.png') });
    await sleep(2200);  // a failed probe
    await fixture.send('start');
    await eventually('the page resumes', async () => (await page.isHidden('#banner')) && (await page.textContent('#conn')) === 'live', 8000);
    serverDown = false;
    log('reconnected, banner gone');
    const before = await page.textContent('#updated');
    await eventually('snapshots flow again', async () => (await page.textContent('#updated')) !== before, 3000);

    // 11. The game dies without a word (SIGKILL: no "end" event, the connection drops).
    serverDown = true;
    fixture.proc.kill('SIGKILL');
    await eventually('the banner shows after the game died', async () => page.isVisible('#banner'), 3000);
    check(/not answering/.test(await page.textContent('#banner')), 'the banner says the game is not answering');
    log('banner shown after the game was killed');

    // 12. Console and network.
    check(errorsUp.length === 0, `no console errors or failed requests while the game ran:\n  ${errorsUp.join('\n  ')}`);
    // While the game is away the browser logs its refused connections, and a request
    // sent on a keep-alive connection of the stopping server gets its 503 ("the server
    // is stopping"): expected, and nothing else is.
    const expected = /ERR_CONNECTION_REFUSED|ERR_EMPTY_RESPONSE|ERR_CONNECTION_RESET|net::ERR_ABORTED|ERR_INCOMPLETE_CHUNKED_ENCODING|HTTP 503: .*\/api\/v1\/|status of 503/;
    const unexpected = errorsDown.filter((e) => !expected.test(e));
    check(unexpected.length === 0, `while the game was away, only refused connections:\n  ${unexpected.join('\n  ')}`);
    check(foreign.length === 0, `no request left the machine: ${foreign.join(', ')}`);
    log(`console: ${errorsUp.length} errors while the game ran, ${errorsDown.length} expected ones while it was away`);

    // 13. The recording of the first server (closed by the stop of step 10), loaded into
    // the page: a banner, the table at its last sample, every sample on the charts, its
    // marks and events; "Back to live" leaves it.
    const recFile = `${recording}.1`;
    const recLines = readFileSync(recFile, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));
    const recSamples = recLines.filter((l) => l.type === 'sample');
    const lastSample = recSamples[recSamples.length - 1];
    const recMarks = recLines.filter((l) => l.type === 'mark').map((m) => m.name);
    check(recLines[0].type === 'header' && recLines[0].format === 'memscope-recording', 'the recording starts with its header');
    check(['e2e-before', 'e2e-after', 'e2e-from-code'].every((m) => recMarks.includes(m)), `the page's and the game's marks are recorded: ${recMarks}`);
    const pageErrors = () => errorsDown.filter((e) => e.startsWith('page error')).length;
    const pageErrorsBefore = pageErrors();
    await page.setInputFiles('#recording-file', recFile);
    await eventually('the recording banner shows', async () => page.isVisible('#recording-banner'), 3000);
    const recBanner = await page.textContent('#recording-banner');
    check(recBanner.includes('session.ndjson.1') && recBanner.includes(`${recSamples.length} samples`), `the banner names the file and its samples: ${recBanner}`);
    check((await page.textContent('#conn')) === 'recording', 'the status pill says recording');
    check(await page.isHidden('#banner'), 'no disconnected banner over a recording');
    const recRows = await tableRows(page);
    check(recRows.length === Object.keys(lastSample.subsystems).length, `a row per recorded subsystem: ${recRows.length}`);
    for (const r of recRows) {
      check(r.cells[1] === formatBytes(lastSample.subsystems[r.name]), `${r.name}: current ${r.cells[1]} is the last sample's ${formatBytes(lastSample.subsystems[r.name])}`);
      // A recording's rows may not say their source: then neither badge nor estimate.
      check(['', 'measured', 'reported', 'both'].includes(r.source) && !r.estimate.includes('undefined'),
        `${r.name}: a recorded row's source "${r.source}", estimate "${r.estimate}"`);
    }
    // The budgets lines carry each row's source: every recorded row shows the source of
    // the file's last budgets line (all "reported" in a build without tracking).
    const recSources = recLines.filter((l) => l.type === 'budgets').pop().sources || {};
    check(Object.keys(recSources).length > 0, 'the recording says where each row comes from');
    for (const r of recRows) {
      check(r.source === (recSources[r.name] || ''),
        `${r.name}: recorded badge "${r.source}" is the recording's source "${recSources[r.name]}"`);
    }
    await eventually('the charts show every recorded sample', async () => {
      const p = await chartPoints(page);
      return p.total[0].n === recSamples.length && p.subsystems.every((d) => d.n === recSamples.length);
    }, 3000);
    const recMarkItems = await page.$$eval('#marks li', (l) => l.map((x) => x.dataset.name));
    check(['e2e-before', 'e2e-after', 'e2e-from-code'].every((m) => recMarkItems.includes(m)), `the recorded marks are listed: ${recMarkItems}`);
    check(await page.isHidden('#diff-form'), 'no diff form for a recording');
    const recEvents = await page.$$eval('#events li .msg', (m) => m.map((x) => x.textContent));
    check(recEvents.includes(warning.message), 'the recorded Physics warning is in the events panel');
    check(pageErrors() === pageErrorsBefore, 'no page error while loading the recording');
    await page.setViewportSize({ width: 1440, height: 900 });
    await sleep(300);
    await page.screenshot({ path: path.join(args.out, 'recording-full-1440-light.png'), fullPage: true });
    log(`recording shown: ${recSamples.length} samples, ${recRows.length} rows, ${recMarkItems.length} marks`);
    // "Back to live" loads the page again (the game is gone by now: the request is all).
    const reload = page.waitForRequest((r) => r.url() === base && r.isNavigationRequest(), { timeout: 3000 });
    await page.click('#recording-live');
    await reload;
  } catch (err) {
    if (context && context.pages().length) {
      await context.pages()[0].screenshot({ path: path.join(args.out, 'failure.png'), fullPage: true }).catch(() => {});
      console.error(`page_e2e: the page at the failure: ${path.join(args.out, 'failure.png')}`);
    }
    throw err;
  } finally {
    if (context) await context.close().catch(() => {});
    await fixture.quit();
    rmSync(userDataDir, { recursive: true, force: true });
  }
}

main().then(() => {
  if (failures) {
    console.error(`page_e2e: ${failures} check(s) failed`);
    process.exit(1);
  }
  log('page_e2e: all checks passed');
}, (err) => {
  console.error(`page_e2e: ${err.stack || err}`);
  process.exit(1);
});
