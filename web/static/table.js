// SPDX-License-Identifier: MIT
// The subsystem table: one row per subsystem, kept across updates (only changed texts
// are written), sorted by a clicked header and filtered by name.

import { $, el, setText, statusClass } from './dom.js';
import {
  compareNames, formatCount, formatDuration, formatPercent, formatRate, plural,
} from './format.js';
import { state } from './state.js';

// The cells of a new row; the returned object keeps them for updateRow().
function makeRow(name) {
  const tr = el('tr');
  tr.dataset.name = name;
  const nameCell = el('td', 'col-name');
  const badge = el('span', 'badge');
  badge.hidden = true;
  const source = el('span', 'src');
  source.hidden = true;
  nameCell.append(el('span', 'name', name), source, badge);
  nameCell.title = name;
  const [currentCell, peak, budget] = [el('td', 'num'), el('td', 'num'), el('td', 'num')];
  // A both row's estimate goes under its measured figure, in the same cell.
  const current = el('span', 'cur');
  const estimate = el('span', 'est');
  estimate.hidden = true;
  currentCell.append(current, estimate);
  const usageCell = el('td', 'col-usage');
  const usage = el('div', 'usage');
  const bar = el('div', 'bar');
  const fill = el('div', 'fill');
  const tick = el('div', 'tick');
  bar.append(fill, tick);
  const pct = el('span', 'pct');
  usage.append(bar, pct);
  // The standing forecast: "over in ~40 s", shown while the trend points past the budget.
  const forecast = el('div', 'forecast');
  forecast.hidden = true;
  usageCell.append(usage, forecast);
  const count = el('td', 'num');
  const over = el('td', 'num');
  tr.append(nameCell, currentCell, peak, budget, usageCell, count, over);
  return {
    tr, badge, source, current, estimate, peak, budget, usageCell, bar, fill, tick, pct, forecast, count, over,
    data: null,
  };
}

function updateUsage(row, s, threshold) {
  const budgeted = s.budget_bytes > 0;
  setText(row.budget, budgeted ? s.formatted.budget_bytes : 'N/A');
  row.budget.classList.toggle('na', !budgeted);
  row.bar.classList.toggle('blank', !budgeted);
  setText(row.pct, budgeted ? formatPercent(s.usage) : 'N/A');
  row.pct.classList.toggle('muted', !budgeted);
  if (budgeted) {
    row.fill.style.width = `${Math.min(s.usage, 1) * 100}%`;
    row.tick.style.left = `${threshold * 100}%`;
  }
  const seconds = s.forecast_seconds;
  const forecasting = typeof seconds === 'number' && seconds > 0;
  row.forecast.hidden = !forecasting;
  setText(row.forecast, forecasting ? `over in ~${Math.max(1, Math.round(seconds))} s` : '');
  row.forecast.title = forecasting
    ? `At the present trend (${formatRate(s.forecast_bytes_per_second)}) this subsystem ` +
      `crosses its budget in about ${Math.round(seconds)} s`
    : '';
  row.tr.dataset.forecast = forecasting ? String(Math.round(seconds)) : '';
}

// What each source means, for the badge's tooltip (the legend under the table says it too).
const SOURCE_TITLE = {
  measured: 'Measured: memscope counted the blocks allocated under a Scope tag of this name',
  reported: "Reported: the game's own figure, from MemoryBudget::report()",
  both: "Measured, with the game's report beside it: the measurement drives the budget, " +
    'the difference is the error of the estimate',
};

// The source badge, and a both row's estimate: "est. 48.0 MB (-12.3 MB)". A row without a
// source (a recording made before rows had one) shows neither.
function updateSource(row, s) {
  const known = s.source in SOURCE_TITLE;
  row.source.hidden = !known;
  setText(row.source, known ? s.source : '');
  row.source.className = known ? `src src-${s.source}` : 'src';
  row.source.title = known ? SOURCE_TITLE[s.source] : '';
  row.tr.dataset.source = known ? s.source : '';
  const both = s.source === 'both' && s.formatted && s.formatted.reported_bytes !== undefined;
  row.estimate.hidden = !both;
  setText(row.estimate, both ? `est. ${s.formatted.reported_bytes} (${s.formatted.estimate_error_bytes})` : '');
  row.estimate.title = both
    ? `The game reported ${s.formatted.reported_bytes}; memscope measured ${s.formatted.current_bytes}. ` +
      `The report is off by ${s.formatted.estimate_error_bytes}.`
    : '';
}

function updateRow(row, s, threshold) {
  row.data = s;
  const cls = statusClass(s.status);
  if (row.tr.className !== cls) row.tr.className = cls;
  row.tr.dataset.status = s.status;
  row.badge.hidden = s.status !== 'over_budget';
  setText(row.badge, s.status === 'over_budget' ? 'over' : '');
  setText(row.current, s.formatted.current_bytes);
  updateSource(row, s);
  setText(row.peak, s.formatted.peak_bytes);
  updateUsage(row, s, threshold);
  setText(row.count, formatCount(s.allocation_count));
  setText(row.over, formatDuration(s.seconds_over_budget));
  row.over.title = `over budget ${formatDuration(s.seconds_over_budget)}, ` +
    `above the warning threshold ${formatDuration(s.seconds_over_threshold)}, ` +
    `${plural(s.warnings, 'warning')} fired`;
}

// What each header sorts by; unbudgeted rows sort below the budgeted ones.
const SORT_VALUE = {
  name: (s) => s.name,
  current: (s) => s.current_bytes,
  peak: (s) => s.peak_bytes,
  budget: (s) => (s.budget_bytes > 0 ? s.budget_bytes : -1),
  usage: (s) => (s.budget_bytes > 0 ? s.usage : -1),
  count: (s) => s.allocation_count,
  over: (s) => s.seconds_over_budget * 1e6 + s.seconds_over_threshold,
};

function compareRows(a, b) {
  const key = state.sort.key;
  const va = SORT_VALUE[key](a);
  const vb = SORT_VALUE[key](b);
  let c = key === 'name' ? compareNames(va, vb) : va - vb;
  if (c === 0 && key !== 'name') c = compareNames(a.name, b.name) * state.sort.dir;
  return c * state.sort.dir;
}

// "7 subsystems · 1 over budget · 2 past the threshold" above the table.
function renderCounts(subsystems, threshold) {
  const warn = subsystems.filter((s) => s.status === 'warning').length;
  const over = subsystems.filter((s) => s.status === 'over_budget').length;
  const parts = [plural(subsystems.length, 'subsystem')];
  if (over) parts.push(`${over} over budget`);
  if (warn) parts.push(`${warn} past the threshold`);
  setText($('sub-count'), parts.join(' · '));
  setText($('foot-threshold'), `rows turn red above ${Math.round(threshold * 100)}% of their budget`);
  $('no-rows').hidden = subsystems.length > 0;
  $('source-legend').hidden = !subsystems.some((s) => s.source);
}

export function renderTable(subsystems, threshold) {
  const seen = new Set();
  for (const s of subsystems) {
    seen.add(s.name);
    let row = state.rows.get(s.name);
    if (!row) {
      row = makeRow(s.name);
      state.rows.set(s.name, row);
    }
    updateRow(row, s, threshold);
  }
  for (const [name, row] of state.rows) {
    if (!seen.has(name)) {
      row.tr.remove();
      state.rows.delete(name);
    }
  }
  state.threshold = threshold;
  renderCounts(subsystems, threshold);
  placeRows();  // after the counts: with a filter, it writes "3 of 7 shown" over them
}

// Puts the rows in sorted order, hiding those the filter leaves out. insertBefore()
// moves a row that is already there, so unchanged rows keep their elements.
function placeRows() {
  const body = $('subsystem-rows');
  const rows = [...state.rows.values()].filter((r) => r.data);
  rows.sort((a, b) => compareRows(a.data, b.data));
  const filter = state.filter;
  let shown = 0;
  let previous = null;
  for (const row of rows) {
    const visible = !filter || row.data.name.toLowerCase().includes(filter);
    row.tr.hidden = !visible;
    if (visible) shown += 1;
    const expected = previous ? previous.nextSibling : body.firstChild;
    if (expected !== row.tr) body.insertBefore(row.tr, expected);
    previous = row.tr;
  }
  if (filter) setText($('sub-count'), `${shown} of ${rows.length} shown`);
}

function showSortHeader() {
  for (const th of document.querySelectorAll('#subsystems th[data-key]')) {
    if (th.dataset.key === state.sort.key)
      th.setAttribute('aria-sort', state.sort.dir > 0 ? 'ascending' : 'descending');
    else th.removeAttribute('aria-sort');
  }
}

// The order chosen last time, kept in localStorage.
function loadSort() {
  try {
    const saved = JSON.parse(localStorage.getItem('memscope.sort') || 'null');
    if (saved && saved.key in SORT_VALUE && (saved.dir === 1 || saved.dir === -1)) state.sort = saved;
  } catch (err) {
    // no saved order
  }
}

function sortBy(key) {
  if (state.sort.key === key) state.sort.dir = -state.sort.dir;
  else state.sort = { key, dir: key === 'name' ? 1 : -1 };  // figures: largest first
  try {
    localStorage.setItem('memscope.sort', JSON.stringify(state.sort));
  } catch (err) {
    // storage refused (private window): the order holds until reload
  }
  showSortHeader();
  placeRows();
}

// The header buttons and the filter box.
export function setupTable() {
  loadSort();
  for (const th of document.querySelectorAll('#subsystems th[data-key]')) {
    th.querySelector('button').addEventListener('click', () => sortBy(th.dataset.key));
  }
  showSortHeader();
  $('filter').addEventListener('input', () => {
    state.filter = $('filter').value.trim().toLowerCase();
    placeRows();
    if (!state.filter && state.snapshot) renderTable(state.snapshot.subsystems, state.threshold);
  });
}
