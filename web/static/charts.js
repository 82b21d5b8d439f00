// SPDX-License-Identifier: MIT
// The two charts (Chart.js 3, the UMD build loaded before the modules as window.Chart):
// memory over time with the budget lines and event triangles, and the subsystems over
// time. Both are redrawn at most once per animation frame (updateCharts()).

import { byteAxis, timeAxis } from './chart_axes.js';
import { markerPlugin } from './chart_markers.js';
import { chooseSeries, palette } from './chart_series.js';
import { $, el, setText } from './dom.js';
import { clock, formatBytes, formatDuration } from './format.js';
import { state } from './state.js';

const Chart = window.Chart;
let totalChart = null;
let subsChart = null;
let seriesKey = '';  // the names of the subsystem series shown, joined

const cssVar = (name) => getComputedStyle(document.documentElement).getPropertyValue(name).trim();

function withAlpha(hex, alpha) {
  const n = parseInt(hex.slice(1), 16);
  return `rgba(${(n >> 16) & 255}, ${(n >> 8) & 255}, ${n & 255}, ${alpha})`;
}

const EVENT_COLOR_VAR = {
  warning: '--chart-threshold',
  over_budget: '--chart-budget',
  leak_suspect: '--leak',
  recovered: '--recovered',
  forecast: '--amber',
  frame_over_budget: '--leak',
};

function baseOptions() {
  return {
    animation: false,
    responsive: true,
    maintainAspectRatio: false,
    parsing: false,
    normalized: true,
    spanGaps: true,
    interaction: { mode: 'index', intersect: false },
    elements: { point: { radius: 0, hoverRadius: 3 }, line: { borderWidth: 2, tension: 0 } },
    plugins: {
      legend: {
        position: 'bottom',
        labels: { boxWidth: 12, boxHeight: 12, padding: 12 },
      },
      tooltip: {
        itemSort: (a, b) => b.parsed.y - a.parsed.y,
        callbacks: {
          title: (items) => (items.length ? clock(items[0].parsed.x) : ''),
          label: (item) => `${item.dataset.label}: ${formatBytes(item.parsed.y)}`,
        },
      },
    },
    scales: { x: timeAxis(), y: byteAxis(false) },
  };
}

// The tooltip's footer on the total chart: the messages of the events at that time.
function eventsNear(items) {
  if (!items.length) return '';
  const t = items[0].parsed.x;
  const half = Math.max(state.intervalMs, 500);
  return [...state.events.values()]
    .filter((e) => Math.abs(e.unix_ms - t) <= half && e.kind !== 'recovered')
    .slice(-4).map((e) => e.message);
}

function totalChartOptions() {
  const options = baseOptions();
  options.plugins.tooltip.filter = (item) => item.dataset.memscopeRole !== 'events';
  options.plugins.tooltip.callbacks.footer = eventsNear;
  // Legend entries drawn as the lines they stand for (dashed for the budget lines).
  options.plugins.legend.labels.usePointStyle = true;
  options.plugins.legend.labels.generateLabels = (chart) =>
    Chart.defaults.plugins.legend.labels.generateLabels(chart).map((item) => {
      const ds = chart.data.datasets[item.datasetIndex];
      return { ...item, pointStyle: ds.memscopeRole === 'events' ? 'triangle' : 'line' };
    });
  return options;
}

function createTotalChart() {
  return new Chart($('chart-total'), {
    type: 'line',
    data: {
      datasets: [
        { label: 'Tracked total', memscopeRole: 'reported', data: [], fill: 'origin' },
        { label: 'Allocated', memscopeRole: 'tracked', data: [] },
        { label: 'Resident', memscopeRole: 'resident', data: [] },
        { label: 'Total budget', memscopeRole: 'budget', data: [], borderDash: [6, 4], borderWidth: 1.5 },
        { label: 'Warning threshold', memscopeRole: 'threshold', data: [], borderDash: [2, 3], borderWidth: 1.5 },
        {
          label: 'Events', memscopeRole: 'events', type: 'scatter', data: [], clip: false,
          pointStyle: 'triangle', pointRadius: 6, pointHoverRadius: 7, showLine: false,
        },
      ],
    },
    options: totalChartOptions(),
    plugins: [markerPlugin],
  });
}

function createSubsystemChart() {
  const options = baseOptions();
  options.plugins.legend.onClick = (e, item, legend) => {
    const ds = legend.chart.data.datasets[item.datasetIndex];
    ds.hidden = !ds.hidden;
    legend.chart.update('none');
  };
  return new Chart($('chart-subsystems'), {
    type: 'line',
    data: { datasets: [] },
    options,
    plugins: [markerPlugin],
  });
}

// Makes both charts, and follows the "Stacked" box and the system's light or dark theme.
export function setupCharts() {
  if (typeof Chart !== 'function') {
    for (const id of ['chart-total', 'chart-subsystems']) {
      $(id).replaceWith(el('p', 'empty', 'Chart.js did not load: charts are unavailable.'));
    }
    return;
  }
  totalChart = createTotalChart();
  subsChart = createSubsystemChart();
  $('stacked').addEventListener('change', () => {
    subsChart.options.scales.y = byteAxis($('stacked').checked);
    themeChart(subsChart);
    rebuildSubsystemSeries(true);
  });
  window.matchMedia('(prefers-color-scheme: dark)').addEventListener('change', applyTheme);
  applyTheme();
}

function themeChart(chart) {
  const grid = cssVar('--chart-grid');
  const text = cssVar('--chart-text');
  chart.options.color = text;
  for (const axis of Object.values(chart.options.scales)) {
    axis.grid = { color: grid, drawBorder: false };
    axis.ticks = { ...axis.ticks, color: text };
  }
  chart.options.plugins.legend.labels.color = text;
}

// The colours of the theme in force (the CSS variables of style.css).
function applyTheme() {
  Chart.defaults.font.family = getComputedStyle(document.body).fontFamily;
  Chart.defaults.color = cssVar('--chart-text');
  themeChart(totalChart);
  themeChart(subsChart);
  for (const ds of totalChart.data.datasets) {
    const c = cssVar(ds.memscopeRole === 'events' ? '--chart-threshold' : `--chart-${ds.memscopeRole}`);
    ds.borderColor = c;
    ds.backgroundColor = ds.memscopeRole === 'reported' ? withAlpha(c, 0.12) : c;
  }
  rebuildSubsystemSeries(true);
  updateCharts();
}

// One dataset per series of chooseSeries(); unless `force`, only when the series changed.
function rebuildSubsystemSeries(force) {
  if (!subsChart) return;
  const series = chooseSeries(state.subNames, state.samples[state.samples.length - 1]);
  const key = series.map((s) => s.name).join('\u0000');
  if (!force && key === seriesKey) return;
  const hidden = new Map(subsChart.data.datasets.map((d) => [d.label, d.hidden]));
  const stacked = $('stacked').checked;
  const colors = palette();
  subsChart.data.datasets = series.map((s, i) => {
    const c = s.other ? cssVar('--chart-resident') : colors[i % colors.length];
    return {
      label: s.name,
      memscopeIndexes: s.indexes,
      data: [],
      hidden: hidden.get(s.name) || false,
      borderColor: c,
      backgroundColor: stacked ? withAlpha(c, 0.35) : c,
      borderWidth: stacked ? 1 : 2,
      fill: stacked ? (i === 0 ? 'origin' : '-1') : false,
    };
  });
  seriesKey = key;
  const note = series.some((s) => s.other)
    ? `${series.length - 1} largest of ${state.subNames.length}, the rest as Other` : '';
  setText($('chart-subs-note'), note);
}

let chartsPending = false;

// Redraws both charts at the next animation frame, once however often it is called.
export function updateCharts() {
  if (!totalChart || chartsPending) return;
  chartsPending = true;
  requestAnimationFrame(() => {
    chartsPending = false;
    drawCharts();
  });
}

// "last 2 m 30 s · 600 of 600 samples kept" above the total chart.
function renderWindowNote(samples) {
  if (!samples.length) {
    setText($('chart-window'), 'waiting for the first samples…');
    return;
  }
  const seconds = Math.round((samples[samples.length - 1].t - samples[0].t) / 1000);
  setText($('chart-window'), `last ${formatDuration(seconds)} · ${samples.length} of ${state.capacity} samples kept`);
}

// The total chart's budget line and warning threshold line, flat across the window.
function budgetLines(byRole, first, last, count) {
  const s = state.snapshot;
  const budget = s ? s.totals.budget_bytes : 0;
  const threshold = s ? s.totals.warning_threshold : 0.85;
  const flat = (y) => (budget > 0 && count ? [{ x: first, y }, { x: last, y }] : []);
  byRole.budget.data = flat(budget);
  byRole.threshold.data = flat(budget * threshold);
}

// Every event but recoveries gets its triangle on the time axis (the Events series);
// warnings and over-budget errors also a dashed line across the chart.
function eventMarkers(byRole, first, last) {
  const events = [...state.events.values()]
    .filter((e) => e.kind !== 'recovered' && e.unix_ms >= first && e.unix_ms <= last)
    .sort((a, b) => a.unix_ms - b.unix_ms);
  const eventsIndex = totalChart.data.datasets.indexOf(byRole.events);
  byRole.events.data = events.map((e) => ({ x: e.unix_ms, y: 0, message: e.message }));
  byRole.events.pointBackgroundColor = events.map((e) => cssVar(EVENT_COLOR_VAR[e.kind]));
  byRole.events.pointBorderColor = byRole.events.pointBackgroundColor;
  return events
    .filter((e) => e.kind === 'warning' || e.kind === 'over_budget')
    .map((e) => ({ x: e.unix_ms, color: cssVar(EVENT_COLOR_VAR[e.kind]), dash: [3, 3], dataset: eventsIndex, alpha: 0.55 }));
}

function drawTotalChart(samples, first, last, markLines) {
  const byRole = Object.fromEntries(totalChart.data.datasets.map((d) => [d.memscopeRole, d]));
  byRole.reported.data = samples.map((p) => ({ x: p.t, y: p.reported }));
  byRole.tracked.data = samples.map((p) => ({ x: p.t, y: p.tracked }));
  byRole.resident.data = samples.map((p) => ({ x: p.t, y: p.resident }));
  budgetLines(byRole, first, last, samples.length);
  totalChart.$memscopeLines = eventMarkers(byRole, first, last).concat(markLines);
  totalChart.update('none');
}

// One point per sample and series: the sum of the series' subsystems, or none while
// none of them existed yet.
function seriesPoints(samples, indexes) {
  return samples.map((p) => {
    let y = 0;
    let any = false;
    for (const i of indexes) {
      if (i < p.subs.length) {
        y += p.subs[i];
        any = true;
      }
    }
    return { x: p.t, y: any ? y : null };
  });
}

function drawSubsystemChart(samples, markLines) {
  rebuildSubsystemSeries(false);
  for (const d of subsChart.data.datasets) d.data = seriesPoints(samples, d.memscopeIndexes);
  subsChart.$memscopeLines = markLines;
  subsChart.update('none');
}

function drawCharts() {
  const samples = state.samples;
  renderWindowNote(samples);
  const first = samples.length ? samples[0].t : 0;
  const last = samples.length ? samples[samples.length - 1].t : 0;
  for (const chart of [totalChart, subsChart]) {
    chart.options.scales.x.min = first;
    chart.options.scales.x.max = last > first ? last : first + 1000;
  }
  const markColor = cssVar('--chart-mark');
  const markLines = state.marks
    .filter((m) => m.unix_ms >= first && m.unix_ms <= last)
    .map((m) => ({ x: m.unix_ms, color: markColor, label: m.name, alpha: 0.9 }));
  drawTotalChart(samples, first, last, markLines);
  drawSubsystemChart(samples, markLines);
}
