// SPDX-License-Identifier: MIT
// The figures above and beside the table: the global cards, the tracked total against
// its budget, and the reconciliation. Byte figures are the server's `formatted` texts.

import { $, el, setText, statusClass } from './dom.js';
import { clock, compareNames, formatCount, formatPercent, formatRate, plural } from './format.js';

// The trend line under "Allocated now": "growing, +1.5 MB/s", "stable".
function trendText(s) {
  if (!s.allocator.tracking_enabled) return 'tracking compiled out';
  const trend = s.trends && s.trends.global;
  if (!trend || trend.trend === 'unknown') return s.allocator.sources?.malloc_counted ? 'operator new and malloc' : 'operator new';
  if (trend.trend === 'stable') return 'stable';
  return `${trend.trend}, ${formatRate(trend.bytes_per_second)}`;
}

export function renderGlobal(s) {
  const a = s.allocator;
  const p = s.process;
  const tracking = a.tracking_enabled;
  setText($('g-allocated'), tracking ? a.formatted.total_allocated_bytes : 'off');
  setText($('g-peak'), tracking ? a.formatted.peak_allocated_bytes : 'off');
  setText($('g-live'), tracking ? formatCount(a.net_allocations) : 'off');
  setText($('g-resident'), p.formatted.resident_bytes);

  setText($('g-allocated-sub'), trendText(s));
  setText($('g-peak-sub'), tracking ? 'highest since start or reset' : '');
  setText($('g-live-sub'), tracking
    ? `${formatCount(a.allocation_count)} allocs · ${formatCount(a.deallocation_count)} frees` : '');
  setText($('g-resident-sub'), `peak ${p.formatted.peak_resident_bytes}`);

  const info = `v${s.memscope.version} · ${s.memscope.backend}${tracking ? '' : ' · tracking off'}`;
  setText($('build'), info);
  setText($('foot-build'), `memscope ${info}`);
  setText($('updated'), `updated ${clock(s.unix_ms)}`);
}

export function renderTotals(t) {
  const hasBudget = t.budget_bytes > 0;
  setText($('t-current'), t.formatted.current_bytes);
  setText($('t-budget'), hasBudget ? t.formatted.budget_bytes : 'N/A');
  setText($('foot-total'), t.formatted.current_bytes);
  setText($('foot-budget'), hasBudget ? t.formatted.budget_bytes : 'N/A');
  $('t-fill').style.width = `${Math.min(t.usage, 1) * 100}%`;
  $('t-tick').style.left = `${t.warning_threshold * 100}%`;
  $('t-tick').hidden = !hasBudget;
  const cls = hasBudget ? statusClass(t.status) : '';
  $('total-card').className = `stat stat-total ${cls}`;
  $('table-foot').className = `table-foot ${cls}`;
  setText($('t-sub'), hasBudget
    ? `${formatPercent(t.usage)} of the total budget · peak ${t.formatted.peak_bytes}`
    : `no total budget set · peak ${t.formatted.peak_bytes}`);
}

// What the tracked bytes are made of: "C++ operators 12.3 MB · malloc family 4.5 MB", or
// "... · malloc not counted" in a build that leaves malloc alone. A document without the
// split (a recording) says what the tracked bytes are.
export function sourcesText(sources) {
  if (!sources) return 'operator new, now';
  const operators = `C++ operators ${sources.operators.formatted.current_bytes}`;
  return sources.malloc_counted
    ? `${operators} · malloc family ${sources.malloc.formatted.current_bytes}`
    : `${operators} · malloc not counted`;
}

// `sources`: the allocator's split by family of functions, when the document has it.
export function renderReconciliation(r, sources) {
  const f = r.formatted;
  setText($('r-reported'), f.reported_bytes);
  setText($('r-tracked'), f.tracked_bytes);
  setText($('r-tracked-detail'), sourcesText(sources));
  setText($('r-committed'), f.committed_bytes);
  setText($('r-resident'), f.resident_bytes);
  setText($('r-unattributed'), f.unattributed_bytes);
  $('r-unattributed').classList.toggle('negative', r.unattributed_bytes < 0);
  setText($('r-self'), f.memscope_bytes);
  setText($('r-self-detail'),
    `server threads ${f.memscope_thread_bytes} + history ${f.history_bytes}`);
  renderSubsystemReconciliation(r.subsystems);
}

// "6 subsystems: 4 measured, 1 reported, 1 both" above the per-subsystem table.
function sourceCounts(rows) {
  const count = (source) => rows.filter((x) => x.source === source).length;
  const parts = ['measured', 'reported', 'both'].map((source) => `${count(source)} ${source}`);
  return `${plural(rows.length, 'subsystem')}: ${parts.join(', ')}`;
}

// Per subsystem: the rows both measured and reported, the game's estimate against the
// measurement. A document without `subsystems` (a recording) hides the part.
function renderSubsystemReconciliation(rows) {
  $('recon-subs').hidden = !rows;
  if (!rows) return;
  const both = rows.filter((x) => x.source === 'both').sort((a, b) => compareNames(a.name, b.name));
  setText($('recon-sources'), both.length
    ? `${sourceCounts(rows)}. Where both, the estimate against the measurement:`
    : `${sourceCounts(rows)}. None is both measured and reported: no estimate to check.`);
  $('recon-est').hidden = both.length === 0;
  const body = $('recon-est-rows');
  const trs = both.map((x) => {
    const tr = el('tr');
    tr.dataset.name = x.name;
    const error = el('td', 'num', x.formatted.estimate_error_bytes);
    error.classList.toggle('over-estimate', x.estimate_error_bytes > 0);
    error.title = x.estimate_error_bytes > 0 ? 'The report is higher than what is measured'
      : x.estimate_error_bytes < 0 ? 'The report is lower than what is measured' : 'The report is exact';
    tr.append(el('td', 'name', x.name), el('td', 'num', x.formatted.measured_bytes),
      el('td', 'num', x.formatted.reported_bytes), error);
    return tr;
  });
  const same = body.children.length === trs.length &&
    trs.every((tr, i) => body.children[i].textContent === tr.textContent);
  if (!same) body.replaceChildren(...trs);  // rewritten only when a figure changed
}

