// SPDX-License-Identifier: MIT
// "Load recording": a recording file (docs/recordings.md) read in the browser and shown
// like a live session: the charts over the whole recording, the table and the cards at
// its last sample, its events and marks. The live stream stops meanwhile; a banner says
// the page shows a recording, and "Back to live" reloads the page.

import { updateCharts } from './charts.js';
import { $, setText } from './dom.js';
import { clearEvents, mergeEvents } from './events.js';
import { clearFrames } from './frames.js';
import { clock, formatBytes } from './format.js';
import { stopLive } from './live.js';
import { renderMarks } from './marks.js';
import { budgetsAt, readRecording } from './recording_file.js';
import { state } from './state.js';
import { renderGlobal, renderReconciliation, renderTotals } from './summary.js';
import { renderTable } from './table.js';

const iso = (ms) => new Date(ms).toISOString();

function statusOf(current, budget, threshold) {
  if (!(budget > 0)) return 'unbudgeted';
  if (current > budget) return 'over_budget';
  return current > budget * threshold ? 'warning' : 'ok';
}

// Peak, and the seconds spent above the threshold and above the budget, of one series
// over the recording (each interval counts for the sample that ends it).
function seriesFigures(rec, value, budget, threshold) {
  let peak = 0;
  let overThreshold = 0;
  let overBudget = 0;
  rec.samples.forEach((p, i) => {
    const v = value(p);
    peak = Math.max(peak, v);
    if (i === 0 || !(budget > 0)) return;
    const dt = (p.t - rec.samples[i - 1].t) / 1000;
    if (v > budget * threshold) overThreshold += dt;
    if (v > budget) overBudget += dt;
  });
  return { peak, overThreshold, overBudget };
}

// The rows of the subsystem table at the last sample, as /api/v1/subsystems has them.
function subsystemRows(rec, last, b) {
  const threshold = b.warning_threshold;
  return rec.names.map((name, i) => {
    const current = last.subs[i] ?? 0;
    const budget = b.budgets[name] ?? 0;
    const f = seriesFigures(rec, (p) => p.subs[i] ?? 0, budget, threshold);
    // Recordings older than sources have none: the row then shows no badge. The
    // estimate of a `both` row is not recorded, so it shows as measured figures only.
    const source = (b.sources || {})[name];
    return {
      name,
      ...(source ? { source } : {}),
      status: statusOf(current, budget, threshold),
      current_bytes: current,
      peak_bytes: f.peak,
      budget_bytes: budget,
      allocation_count: 0,  // not recorded: the cell shows a dash
      usage: budget > 0 ? current / budget : 0,
      seconds_over_threshold: f.overThreshold,
      seconds_over_budget: f.overBudget,
      warnings: rec.events.filter((e) => e.subsystem === name &&
        (e.kind === 'warning' || e.kind === 'over_budget')).length,
      formatted: { current_bytes: formatBytes(current), peak_bytes: formatBytes(f.peak), budget_bytes: formatBytes(budget) },
    };
  });
}

function totalsAt(rec, last, b) {
  const budget = b.total_budget_bytes;
  const f = seriesFigures(rec, (p) => p.reported, budget, b.warning_threshold);
  return {
    current_bytes: last.reported,
    peak_bytes: f.peak,
    budget_bytes: budget,
    usage: budget > 0 ? last.reported / budget : 0,
    status: statusOf(last.reported, budget, b.warning_threshold),
    warning_threshold: b.warning_threshold,
    formatted: { current_bytes: formatBytes(last.reported), peak_bytes: formatBytes(f.peak), budget_bytes: formatBytes(budget) },
  };
}

// The snapshot a live page would have received at the last sample.
function snapshotAt(rec, last, b) {
  const h = rec.header;
  const a = last.allocator;
  const p = last.process;
  return {
    unix_ms: last.t,
    memscope: { version: h.memscope_version, backend: h.backend || 'recording' },
    allocator: {
      ...a,
      tracking_enabled: h.tracking_enabled !== false,
      formatted: { total_allocated_bytes: formatBytes(a.total_allocated_bytes), peak_allocated_bytes: formatBytes(a.peak_allocated_bytes) },
    },
    process: {
      ...p,
      formatted: { resident_bytes: formatBytes(p.resident_bytes), peak_resident_bytes: formatBytes(p.peak_resident_bytes) },
    },
    totals: totalsAt(rec, last, b),
    subsystems: subsystemRows(rec, last, b),
    history: { size: rec.samples.length, capacity: rec.samples.length, interval_ms: h.interval_ms, last_sequence: last.seq },
    trends: null,
  };
}

function reconciliationAt(last) {
  const unattributed = last.tracked - last.reported;
  return {
    unattributed_bytes: unattributed,
    formatted: {
      reported_bytes: formatBytes(last.reported),
      tracked_bytes: formatBytes(last.tracked),
      committed_bytes: formatBytes(last.process.committed_bytes),
      resident_bytes: formatBytes(last.resident),
      unattributed_bytes: formatBytes(unattributed),
      memscope_bytes: '–',
      memscope_thread_bytes: '–',
      history_bytes: '–',
    },
  };
}

// The sample at or just before `unixMs` (the first one before any).
function sampleAt(rec, unixMs) {
  let found = rec.samples[0];
  for (const p of rec.samples) if (p.t <= unixMs) found = p;
  return found;
}

function showMarks(rec) {
  state.marks = rec.marks.map((m, i) => {
    const p = sampleAt(rec, m.unix_ms);
    return {
      id: i + 1,
      name: m.name,
      frame: m.frame ?? null,
      unix_ms: m.unix_ms,
      time: iso(m.unix_ms),
      formatted: { reported_bytes: formatBytes(p ? p.reported : 0), tracked_bytes: formatBytes(p ? p.tracked : 0) },
    };
  });
  renderMarks();
  // Diffs are the server's: none for a recording.
  $('diff-form').hidden = true;
  $('diff').hidden = true;
}

function showBanner(text) {
  setText($('recording-text'), text);
  $('recording-banner').hidden = false;
}

function describe(rec, label) {
  const h = rec.header;
  const first = rec.samples[0];
  const last = rec.samples[rec.samples.length - 1];
  const span = first ? `${new Date(first.t).toLocaleString()} to ${clock(last.t)}` : 'no samples';
  return `${label}: ${h.program || 'a game'} (pid ${h.pid}), ${span}; ${rec.samples.length} samples, ` +
    `${rec.events.length} events, ${rec.marks.length} marks` +
    (rec.skipped ? `; ${rec.skipped} unreadable lines skipped` : '') + '. Not live.';
}

// Puts a recording on the page in place of the live figures.
export function showRecording(rec, label) {
  stopLive();
  state.recording = true;
  document.body.classList.add('showing-recording');
  $('mark-form').hidden = true;
  setText($('mark-status'), '');
  const conn = $('conn');
  conn.className = 'conn conn-recording';
  setText(conn, 'recording');
  conn.title = 'The page shows a recording loaded from a file, not the running game';
  showBanner(describe(rec, label));

  state.samples = rec.samples;
  state.subNames = rec.names;
  state.capacity = Math.max(rec.samples.length, 1);
  state.intervalMs = rec.header.interval_ms || 1000;
  clearEvents();
  clearFrames();
  mergeEvents(rec.events.map((e) => ({ ...e, time: iso(e.unix_ms) })), false);
  showMarks(rec);

  const last = rec.samples[rec.samples.length - 1];
  if (last) {
    const b = budgetsAt(rec, last.t);
    const s = snapshotAt(rec, last, b);
    state.snapshot = s;
    state.lastSampleSeq = last.seq;
    renderGlobal(s);
    renderTotals(s.totals);
    renderTable(s.subsystems, b.warning_threshold);
    for (const row of state.rows.values()) if (row.count) setText(row.count, '–');
    renderReconciliation(reconciliationAt(last));
    setText($('updated'), `recorded until ${clock(last.t)}`);
  }
  updateCharts();
}

async function loadFiles(files) {
  const list = [...files];
  if (!list.length) return;
  const label = list.map((f) => f.name).join(', ');
  try {
    const rec = readRecording(await Promise.all(list.map((f) => f.text())));
    showRecording(rec, label);
  } catch (err) {
    showBanner(`Could not load ${label}: ${err.message}`);
  }
}

// The "Load recording" control and the banner's "Back to live".
export function setupRecording() {
  const input = $('recording-file');
  input.addEventListener('change', () => loadFiles(input.files));
  $('recording-live').addEventListener('click', () => window.location.reload());
}
