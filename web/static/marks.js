// SPDX-License-Identifier: MIT
// Marks (named moments the server records every figure at) and the diff between two of
// them, or between a mark and now.

import { updateCharts } from './charts.js';
import { $, el, setText } from './dom.js';
import {
  clock, compareNames, formatBytes, formatCount, formatDuration, formatSigned, formatSignedCount,
  plural,
} from './format.js';
import { getJson, postJson } from './http.js';
import { state } from './state.js';

const markLabel = (m) => `${m.name} (${clock(m.unix_ms)})`;

export async function loadMarks() {
  try {
    const r = await getJson('/api/v1/marks');
    if (state.recording) return;
    state.marks = r.marks;
    renderMarks();
    updateCharts();
  } catch (err) {
    // shown when connected again
  }
}

function markItem(m) {
  const li = el('li');
  li.dataset.name = m.name;
  const name = el('span', 'mark-name', m.name);
  name.title = m.name;
  const time = el('time', 'muted', m.frame === null ? clock(m.unix_ms) : `${clock(m.unix_ms)} · frame ${m.frame}`);
  time.dateTime = m.time;
  li.append(name, time, el('span', 'muted', `${m.formatted.reported_bytes} reported · ${m.formatted.tracked_bytes} allocated`));
  return li;
}

// The diff's selects: marks by name, newest first (the newest of a repeated name wins,
// as in the API); "to" also offers now. The choices made survive when still there.
function renderDiffChoices() {
  const from = $('diff-from');
  const to = $('diff-to');
  const keepFrom = from.value;
  const keepTo = to.value;
  const names = [];
  for (const m of [...state.marks].reverse()) if (!names.includes(m.name)) names.push(m.name);
  const byName = new Map(state.marks.map((m) => [m.name, m]));
  const option = (value, label) => {
    const o = el('option', '', label);
    o.value = value;
    return o;
  };
  const options = () => names.map((n) => option(n, markLabel(byName.get(n))));
  from.replaceChildren(...options());
  to.replaceChildren(option('', 'now'), ...options());
  if (names.includes(keepFrom)) from.value = keepFrom;
  if (keepTo === '' || names.includes(keepTo)) to.value = keepTo;
}

export function renderMarks() {
  $('marks').replaceChildren(...[...state.marks].reverse().map(markItem));
  $('no-marks').hidden = state.marks.length > 0;
  $('diff-form').hidden = state.marks.length === 0;
  renderDiffChoices();
}

// True when a diff against now is on show (it follows the figures).
export function diffToNow() {
  return !$('diff').hidden && $('diff-to').value === '';
}

// "Set mark": records a mark, then compares the previous mark with it, or it with now.
async function setMark(event) {
  event.preventDefault();
  const input = $('mark-name');
  const name = input.value.trim() || `mark ${state.marks.length + 1} at ${clock(Date.now())}`;
  const status = $('mark-status');
  try {
    const r = await postJson('/api/v1/marks', { name });
    if (r.status !== 201) throw new Error(r.body.error || `HTTP ${r.status}`);
    input.value = '';
    setText(status, `Mark “${r.body.name}” set at ${clock(r.body.unix_ms)}`);
    const previous = state.marks.length ? state.marks[state.marks.length - 1].name : null;
    await loadMarks();
    const [from, to] = previous && previous !== r.body.name ? [previous, r.body.name] : [r.body.name, ''];
    $('diff-from').value = from;
    $('diff-to').value = to;
    showDiff();
  } catch (err) {
    setText(status, `Could not set the mark: ${err.message}`);
  }
}

// A row of the diff: a byte figure (or a count) at both moments and the change.
function diffRow(label, figure, isBytes, global) {
  const tr = el('tr', global ? 'global' : '');
  const fmt = isBytes ? formatBytes : formatCount;
  const delta = el('td', 'num', isBytes ? formatSigned(figure.delta, true) : formatSignedCount(figure.delta));
  if (figure.delta > 0) delta.classList.add('up');
  if (figure.delta < 0) delta.classList.add('down');
  tr.append(el('td', '', label), el('td', 'num', fmt(figure.from)), el('td', 'num', fmt(figure.to)), delta);
  return tr;
}

// The global rows, then the subsystems that changed, largest change first.
function diffRows(d) {
  const g = d.global;
  const rows = [
    diffRow('Tracked total (reported)', g.reported_bytes, true, true),
    diffRow('Allocated (tracked)', g.allocator.total_allocated_bytes, true, true),
    diffRow('Live allocs', g.allocator.net_allocations, false, true),
    diffRow('Resident', g.process.resident_bytes, true, true),
    diffRow('Committed', g.process.committed_bytes, true, true),
  ];
  const subs = [...d.subsystems].sort((a, b) =>
    Math.abs(b.current_bytes.delta) - Math.abs(a.current_bytes.delta) || compareNames(a.name, b.name));
  let unchanged = 0;
  for (const s of subs) {
    if (s.current_bytes.delta === 0 && s.in_from && s.in_to) {
      unchanged += 1;
      continue;
    }
    const note = !s.in_from ? ' (new)' : !s.in_to ? ' (gone)' : '';
    rows.push(diffRow(`${s.name}${note}`, s.current_bytes, true, false));
  }
  return { rows, unchanged };
}

async function showDiff(event) {
  if (event) event.preventDefault();
  const from = $('diff-from').value;
  const to = $('diff-to').value;
  if (!from) return;
  const query = `from=${encodeURIComponent(from)}${to ? `&to=${encodeURIComponent(to)}` : ''}`;
  try {
    const d = await getJson(`/api/v1/diff?${query}`);
    const { rows, unchanged } = diffRows(d);
    $('diff-rows').replaceChildren(...rows);
    const toLabel = to ? `“${d.to.name}” (${clock(d.to.unix_ms)})` : `now (${clock(d.to.unix_ms)})`;
    setText($('diff-title'),
      `“${d.from.name}” (${clock(d.from.unix_ms)}) → ${toLabel}, ${formatDuration(d.seconds)} apart` +
      (unchanged ? ` · ${plural(unchanged, 'subsystem')} unchanged` : ''));
    $('diff').hidden = false;
  } catch (err) {
    setText($('mark-status'), `Could not compare: ${err.message}`);
  }
}

let diffTimer = 0;

// Recomputes a diff against now, at most every 2 s.
export function refreshDiffSoon() {
  if (diffTimer) return;
  diffTimer = setTimeout(() => {
    diffTimer = 0;
    if (diffToNow() && state.connected) showDiff();
  }, 2000);
}

// The "Set mark" and "Compare" forms.
export function setupMarks() {
  $('mark-form').addEventListener('submit', setMark);
  $('diff-form').addEventListener('submit', showDiff);
}
