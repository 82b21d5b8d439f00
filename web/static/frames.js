// SPDX-License-Identifier: MIT
// The "Allocations per frame" chart: one bar per frame the game ended with
// MemoryBudget::end_frame(), red when the frame broke a frame budget (its total's or a
// subsystem's), and the total frame budget as a dashed line. Fed by /api/v1/frames?since=
// after every snapshot, so only the new frames travel.

import { $, el, setText } from './dom.js';
import { formatCount, plural } from './format.js';
import { getJson } from './http.js';
import { state } from './state.js';

const Chart = window.Chart;
const MAX_FRAMES_SHOWN = 600;  // the server's ring keeps as many by default
let chart = null;
let frames = [];  // {seq, frame, allocations, bytes, over, broke: [names]}, oldest first
let lastSeq = 0;
let budgets = [];  // the frame budgets of the last answer
let busy = false;
let tracking = true;  // false: the build counts nothing, so end_frame() records nothing

const cssVar = (name) => getComputedStyle(document.documentElement).getPropertyValue(name).trim();

// The names whose frame budget the frame broke: "(total)" and the subsystems.
function brokenBudgets(f) {
  const names = f.subsystems.filter((s) => s.over_budget).map((s) => s.name);
  return f.over_budget ? ['(total)', ...names] : names;
}

// The ticks of each axis, as plain objects: theme() sets them whole, since spreading the
// options Chart.js hands back (proxies) would copy its internals into them.
const X_TICKS = { precision: 0, maxRotation: 0, callback: (v) => (Number.isInteger(v) ? String(v) : '') };
const Y_TICKS = { callback: (v) => formatCount(v) };

function countAxis() {
  return {
    type: 'linear',
    beginAtZero: true,
    ticks: { ...Y_TICKS },
    grid: {},
  };
}

function createChart() {
  return new Chart($('chart-frames'), {
    type: 'bar',
    data: {
      datasets: [
        {
          label: 'Allocations', memscopeRole: 'allocations', data: [], pointStyle: 'rect',
          barPercentage: 1, categoryPercentage: 1, grouped: false,
        },
        {
          label: 'Total frame budget', memscopeRole: 'budget', type: 'line', data: [],
          borderDash: [6, 4], borderWidth: 1.5, pointRadius: 0, pointStyle: 'line',
        },
      ],
    },
    options: {
      animation: false,
      responsive: true,
      maintainAspectRatio: false,
      parsing: false,
      normalized: true,
      interaction: { mode: 'nearest', axis: 'x', intersect: false },
      plugins: {
        legend: { position: 'bottom', labels: { boxWidth: 12, boxHeight: 12, padding: 12, usePointStyle: true } },
        tooltip: {
          filter: (item) => item.dataset.memscopeRole === 'allocations',
          callbacks: {
            title: (items) => (items.length ? `frame ${items[0].raw.frame}` : ''),
            label: (item) => `${formatCount(item.raw.y)} allocations`,
            footer: (items) => (items.length && items[0].raw.broke.length
              ? `over the frame budget of ${items[0].raw.broke.join(', ')}` : ''),
          },
        },
      },
      scales: {
        x: {
          type: 'linear', offset: true, title: { display: true, text: 'frame' },
          ticks: { ...X_TICKS },
          grid: {},
        },
        y: countAxis(),
      },
    },
  });
}

function theme() {
  const grid = cssVar('--chart-grid');
  const text = cssVar('--chart-text');
  const { x, y } = chart.options.scales;
  x.grid = { color: grid, drawBorder: false };
  y.grid = { color: grid, drawBorder: false };
  x.ticks = { ...X_TICKS, color: text };
  y.ticks = { ...Y_TICKS, color: text };
  x.title = { display: true, text: 'frame', color: text };
  chart.options.plugins.legend.labels.color = text;
  const budget = chart.data.datasets[1];
  budget.borderColor = cssVar('--chart-budget');
  budget.backgroundColor = budget.borderColor;
}

// The page's frames and the chart, redrawn.
function draw() {
  const shown = frames.length > 0;
  $('frames-box').hidden = !shown;
  $('no-frames').hidden = shown;
  setText($('no-frames'), tracking
    ? 'No frames recorded: the game does not call MemoryBudget::end_frame(), or has not yet.'
    : 'No frames recorded: this build has allocation tracking compiled out, so frames count nothing.');
  const spikes = frames.filter((f) => f.over).length;
  setText($('frames-note'), shown
    ? `last ${plural(frames.length, 'frame')}${spikes ? ` · ${plural(spikes, 'frame')} over budget` : ''}`
    : '');
  if (!chart || !shown) return;
  const [bars, line] = chart.data.datasets;
  const normal = cssVar('--chart-tracked');
  const over = cssVar('--chart-budget');
  bars.data = frames.map((f) => ({ x: f.frame, y: f.allocations, frame: f.frame, broke: f.broke }));
  bars.backgroundColor = frames.map((f) => (f.over ? over : normal));
  const total = budgets.find((b) => b.name === '(total)');
  const first = frames[0].frame;
  const last = frames[frames.length - 1].frame;
  line.data = total && total.max_allocations > 0
    ? [{ x: first, y: total.max_allocations }, { x: last, y: total.max_allocations }] : [];
  line.hidden = line.data.length === 0;
  chart.options.scales.x.min = first;
  chart.options.scales.x.max = last;
  chart.update('none');
  // Bars for the test and for scripts reading the page: which frames are marked.
  $('chart-frames').dataset.spikes = frames.filter((f) => f.over).map((f) => f.frame).join(',');
}

function addFrames(r) {
  if (r.last_sequence < lastSeq) {  // a restarted game numbers its frames from 1 again
    frames = [];
    lastSeq = 0;
  }
  for (const f of r.frames) {
    if (f.sequence <= lastSeq) continue;
    const broke = brokenBudgets(f);
    frames.push({ seq: f.sequence, frame: f.frame, allocations: f.allocations, over: broke.length > 0, broke });
    lastSeq = f.sequence;
  }
  if (frames.length > MAX_FRAMES_SHOWN) frames.splice(0, frames.length - MAX_FRAMES_SHOWN);
  budgets = r.budgets;
  tracking = r.tracking_enabled !== false;
}

// Fetches the frames newer than the last one (one request at a time); the page calls it
// after every snapshot and frame_over_budget event.
export async function fetchFrames() {
  if (busy || state.recording) return;
  busy = true;
  try {
    const r = await getJson(`/api/v1/frames?since=${lastSeq}`);
    if (state.recording) return;
    addFrames(r);
    draw();
  } catch (err) {
    // the next snapshot asks again
  } finally {
    busy = false;
  }
}

// Forgets the frames (a recording on show has none).
export function clearFrames() {
  frames = [];
  lastSeq = 0;
  budgets = [];
  draw();
}

export function setupFrames() {
  if (typeof Chart !== 'function') {
    $('chart-frames').replaceWith(el('p', 'empty', 'Chart.js did not load: charts are unavailable.'));
    return;
  }
  chart = createChart();
  theme();
  window.matchMedia('(prefers-color-scheme: dark)').addEventListener('change', () => {
    theme();
    draw();
  });
  draw();
}
