// memscope dashboard page: plain JavaScript, no framework, no build step.
//
// Data flow: the live stream (/api/v1/stream, Server-Sent Events) sends a full snapshot
// when it opens, then a snapshot after every sample and each budget event the moment it
// fires. New history samples are fetched with /api/v1/history?since=. If the stream is
// refused (503: too many open), the page polls /api/v1/snapshot instead. When the game
// goes away, a banner says so and the page probes every 2 s until it is back.
//
// Everything is built with DOM calls and textContent (subsystem names are the game's
// strings, never HTML), and nothing is inline: the server's Content-Security-Policy
// forbids inline scripts and styles. Element styles set here go through the CSSOM
// (element.style.width), which that policy allows.
'use strict';

(() => {
  const $ = (id) => document.getElementById(id);

  // ---------------------------------------------------------------- formatting

  const KiB = 1024;
  const MiB = KiB * 1024;
  const GiB = MiB * 1024;

  // The digits of memscope::format_memory(): "1.00 GB", "5.0 MB", "2.0 KB", "500 B".
  function formatBytes(bytes) {
    const b = Math.abs(bytes);
    const sign = bytes < 0 ? '-' : '';
    if (b >= GiB) return `${sign}${(b / GiB).toFixed(2)} GB`;
    if (b >= MiB) return `${sign}${(b / MiB).toFixed(1)} MB`;
    if (b >= KiB) return `${sign}${(b / KiB).toFixed(1)} KB`;
    return `${sign}${Math.round(b)} B`;
  }

  function formatSigned(bytes) {
    return bytes > 0 ? `+${formatBytes(bytes)}` : bytes < 0 ? formatBytes(bytes) : '0 B';
  }

  // Axis labels: no trailing ".0", since the ticks are round numbers of their unit.
  function formatAxisBytes(bytes) {
    const units = [[GiB, 'GB'], [MiB, 'MB'], [KiB, 'KB']];
    for (const [size, name] of units) {
      if (Math.abs(bytes) >= size) {
        const v = bytes / size;
        return `${Number.isInteger(v) ? v : v.toFixed(v < 10 ? 2 : 1).replace(/\.?0+$/, '')} ${name}`;
      }
    }
    return `${bytes} B`;
  }

  const countFormat = new Intl.NumberFormat('en-US');
  const formatCount = (n) => countFormat.format(n);

  function formatPercent(usage) {
    return `${(usage * 100).toFixed(1)}%`;
  }

  function formatDuration(seconds) {
    if (!(seconds > 0)) return '—';
    if (seconds < 10) return `${seconds.toFixed(1)} s`;
    if (seconds < 60) return `${Math.round(seconds)} s`;
    const s = Math.round(seconds);
    if (s < 3600) return `${Math.floor(s / 60)} m ${String(s % 60).padStart(2, '0')} s`;
    return `${Math.floor(s / 3600)} h ${String(Math.floor((s % 3600) / 60)).padStart(2, '0')} m`;
  }

  const pad2 = (n) => String(n).padStart(2, '0');
  function clock(ms) {
    const d = new Date(ms);
    return `${pad2(d.getHours())}:${pad2(d.getMinutes())}:${pad2(d.getSeconds())}`;
  }

  function formatRate(bytesPerSecond) {
    if (!Number.isFinite(bytesPerSecond) || bytesPerSecond === 0) return '';
    return `${bytesPerSecond > 0 ? '+' : ''}${formatBytes(bytesPerSecond)}/s`;
  }

  function el(tag, className, text) {
    const e = document.createElement(tag);
    if (className) e.className = className;
    if (text !== undefined) e.textContent = text;
    return e;
  }

  function setText(node, text) {
    if (node.textContent !== text) node.textContent = text;
  }

  // ---------------------------------------------------------------- state

  const STATUS_CLASS = { warning: 'warn', over_budget: 'warn over' };
  const EVENT_LABEL = {
    warning: 'warning',
    over_budget: 'over budget',
    recovered: 'recovered',
    leak_suspect: 'leak suspect',
  };
  const MAX_EVENTS_SHOWN = 300;

  const state = {
    snapshot: null,
    rows: new Map(),          // subsystem name -> row (see makeRow)
    sort: { key: 'name', dir: 1 },
    filter: '',
    events: new Map(),        // sequence -> event
    lastEventSeq: 0,
    samples: [],              // compact history samples, oldest first
    subNames: [],             // History::subsystem_names(), indexes Sample.subs
    lastSampleSeq: 0,
    capacity: 600,
    intervalMs: 1000,
    marks: [],
    connected: false,
    mode: 'stream',           // 'stream' or 'poll'
    downSince: 0,
  };

  // ---------------------------------------------------------------- HTTP helpers

  async function getJson(path, timeoutMs = 5000) {
    const abort = new AbortController();
    const timer = setTimeout(() => abort.abort(), timeoutMs);
    try {
      const r = await fetch(path, { cache: 'no-store', signal: abort.signal });
      if (!r.ok) {
        const body = await r.json().catch(() => ({}));
        const err = new Error(body.error || `${path}: HTTP ${r.status}`);
        err.status = r.status;
        throw err;
      }
      return await r.json();
    } finally {
      clearTimeout(timer);
    }
  }

  // ---------------------------------------------------------------- global figures

  function renderGlobal(s) {
    const a = s.allocator;
    const p = s.process;
    const tracking = a.tracking_enabled;
    setText($('g-allocated'), tracking ? a.formatted.total_allocated_bytes : 'off');
    setText($('g-peak'), tracking ? a.formatted.peak_allocated_bytes : 'off');
    setText($('g-live'), tracking ? formatCount(a.net_allocations) : 'off');
    setText($('g-resident'), p.formatted.resident_bytes);

    const trend = s.trends && s.trends.global;
    let trendText = 'operator new';
    if (!tracking) trendText = 'tracking compiled out';
    else if (trend && trend.trend !== 'unknown') {
      trendText = trend.trend === 'stable' ? 'stable' : `${trend.trend}, ${formatRate(trend.bytes_per_second)}`;
    }
    setText($('g-allocated-sub'), trendText);
    setText($('g-peak-sub'), tracking ? 'highest since start or reset' : '');
    setText($('g-live-sub'), tracking
      ? `${formatCount(a.allocation_count)} allocs · ${formatCount(a.deallocation_count)} frees` : '');
    setText($('g-resident-sub'), `peak ${p.formatted.peak_resident_bytes}`);

    const info = `v${s.memscope.version} · ${s.memscope.backend}${tracking ? '' : ' · tracking off'}`;
    setText($('build'), info);
    setText($('foot-build'), `memscope ${info}`);
    setText($('updated'), `updated ${clock(s.unix_ms)}`);
  }

  function renderTotals(t) {
    const card = $('total-card');
    const foot = $('table-foot');
    const hasBudget = t.budget_bytes > 0;
    setText($('t-current'), t.formatted.current_bytes);
    setText($('t-budget'), hasBudget ? t.formatted.budget_bytes : 'N/A');
    setText($('foot-total'), t.formatted.current_bytes);
    setText($('foot-budget'), hasBudget ? t.formatted.budget_bytes : 'N/A');
    $('t-fill').style.width = `${Math.min(t.usage, 1) * 100}%`;
    $('t-tick').style.left = `${t.warning_threshold * 100}%`;
    $('t-tick').hidden = !hasBudget;
    const cls = hasBudget ? STATUS_CLASS[t.status] || '' : '';
    card.className = `stat stat-total ${cls}`;
    foot.className = `table-foot ${cls}`;
    setText($('t-sub'), hasBudget
      ? `${formatPercent(t.usage)} of the total budget · peak ${t.formatted.peak_bytes}`
      : `no total budget set · peak ${t.formatted.peak_bytes}`);
  }

  function renderReconciliation(r) {
    const f = r.formatted;
    setText($('r-reported'), f.reported_bytes);
    setText($('r-tracked'), f.tracked_bytes);
    setText($('r-committed'), f.committed_bytes);
    setText($('r-resident'), f.resident_bytes);
    setText($('r-unattributed'), f.unattributed_bytes);
    $('r-unattributed').classList.toggle('negative', r.unattributed_bytes < 0);
    setText($('r-self'), f.memscope_bytes);
    setText($('r-self-detail'),
      `server threads ${f.memscope_thread_bytes} + history ${f.history_bytes}`);
  }

  // ---------------------------------------------------------------- subsystem table

  function makeRow(name) {
    const tr = el('tr');
    tr.dataset.name = name;
    const nameCell = el('td', 'col-name');
    const nameText = el('span', 'name', name);
    const badge = el('span', 'badge');
    badge.hidden = true;
    nameCell.append(nameText, badge);
    nameCell.title = name;
    const current = el('td', 'num');
    const peak = el('td', 'num');
    const budget = el('td', 'num');
    const usageCell = el('td', 'col-usage');
    const usage = el('div', 'usage');
    const bar = el('div', 'bar');
    const fill = el('div', 'fill');
    const tick = el('div', 'tick');
    bar.append(fill, tick);
    const pct = el('span', 'pct');
    usage.append(bar, pct);
    usageCell.append(usage);
    const count = el('td', 'num');
    const over = el('td', 'num');
    tr.append(nameCell, current, peak, budget, usageCell, count, over);
    return { tr, badge, current, peak, budget, usageCell, bar, fill, tick, pct, count, over, data: null };
  }

  function updateRow(row, s, threshold) {
    row.data = s;
    const budgeted = s.budget_bytes > 0;
    const cls = STATUS_CLASS[s.status] || '';
    if (row.tr.className !== cls) row.tr.className = cls;
    row.tr.dataset.status = s.status;
    row.badge.hidden = s.status !== 'over_budget';
    setText(row.badge, s.status === 'over_budget' ? 'over' : '');
    setText(row.current, s.formatted.current_bytes);
    setText(row.peak, s.formatted.peak_bytes);
    setText(row.budget, budgeted ? s.formatted.budget_bytes : 'N/A');
    row.budget.classList.toggle('na', !budgeted);
    row.bar.classList.toggle('blank', !budgeted);
    setText(row.pct, budgeted ? formatPercent(s.usage) : 'N/A');
    row.pct.classList.toggle('muted', !budgeted);
    if (budgeted) {
      row.fill.style.width = `${Math.min(s.usage, 1) * 100}%`;
      row.tick.style.left = `${threshold * 100}%`;
    }
    setText(row.count, formatCount(s.allocation_count));
    setText(row.over, formatDuration(s.seconds_over_budget));
    row.over.title = `over budget ${formatDuration(s.seconds_over_budget)}, ` +
      `above the warning threshold ${formatDuration(s.seconds_over_threshold)}, ` +
      `${s.warnings} warning${s.warnings === 1 ? '' : 's'} fired`;
  }

  const SORT_VALUE = {
    name: (s) => s.name,
    current: (s) => s.current_bytes,
    peak: (s) => s.peak_bytes,
    budget: (s) => (s.budget_bytes > 0 ? s.budget_bytes : -1),
    usage: (s) => (s.budget_bytes > 0 ? s.usage : -1),
    count: (s) => s.allocation_count,
    over: (s) => s.seconds_over_budget * 1e6 + s.seconds_over_threshold,
  };
  const collator = new Intl.Collator('en', { numeric: true, sensitivity: 'base' });

  function compareRows(a, b) {
    const key = state.sort.key;
    const va = SORT_VALUE[key](a);
    const vb = SORT_VALUE[key](b);
    let c = key === 'name' ? collator.compare(va, vb) : va - vb;
    if (c === 0 && key !== 'name') c = collator.compare(a.name, b.name) * state.sort.dir;
    return c * state.sort.dir;
  }

  function renderTable(subsystems, threshold) {
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
    placeRows();

    const warn = subsystems.filter((s) => s.status === 'warning').length;
    const over = subsystems.filter((s) => s.status === 'over_budget').length;
    const parts = [`${subsystems.length} subsystem${subsystems.length === 1 ? '' : 's'}`];
    if (over) parts.push(`${over} over budget`);
    if (warn) parts.push(`${warn} past the threshold`);
    setText($('sub-count'), parts.join(' · '));
    setText($('foot-threshold'), `rows turn red above ${Math.round(threshold * 100)}% of their budget`);
    $('no-rows').hidden = subsystems.length > 0;
  }

  // Puts the rows in sorted order, hiding those the filter leaves out. appendChild()
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

  function setupSorting() {
    try {
      const saved = JSON.parse(localStorage.getItem('memscope.sort') || 'null');
      if (saved && saved.key in SORT_VALUE && (saved.dir === 1 || saved.dir === -1)) state.sort = saved;
    } catch (err) {
      // no saved order
    }
    for (const th of document.querySelectorAll('#subsystems th[data-key]')) {
      th.querySelector('button').addEventListener('click', () => {
        const key = th.dataset.key;
        if (state.sort.key === key) state.sort.dir = -state.sort.dir;
        else state.sort = { key, dir: key === 'name' ? 1 : -1 };  // figures: largest first
        try {
          localStorage.setItem('memscope.sort', JSON.stringify(state.sort));
        } catch (err) {
          // storage refused (private window): the order holds until reload
        }
        showSortHeader();
        placeRows();
      });
    }
    showSortHeader();
    $('filter').addEventListener('input', () => {
      state.filter = $('filter').value.trim().toLowerCase();
      placeRows();
      if (!state.filter && state.snapshot) renderTable(state.snapshot.subsystems, state.threshold);
    });
  }

  function showSortHeader() {
    for (const th of document.querySelectorAll('#subsystems th[data-key]')) {
      if (th.dataset.key === state.sort.key)
        th.setAttribute('aria-sort', state.sort.dir > 0 ? 'ascending' : 'descending');
      else th.removeAttribute('aria-sort');
    }
  }

  // ---------------------------------------------------------------- events

  function eventItem(e, fresh) {
    const li = el('li', `kind-row-${e.kind}${fresh ? ' fresh' : ''}`);
    li.dataset.sequence = e.sequence;
    li.dataset.kind = e.kind;
    const time = el('time', '', clock(e.unix_ms));
    time.dateTime = e.time;
    time.title = e.time;
    li.append(time, el('span', `kind kind-${e.kind}`, EVENT_LABEL[e.kind] || e.kind),
      el('span', 'msg', e.message));
    return li;
  }

  // Adds events (any order, duplicates ignored); the list shows the newest first.
  function mergeEvents(events, fresh) {
    const added = events.filter((e) => !state.events.has(e.sequence));
    if (!added.length) return;
    for (const e of added) {
      state.events.set(e.sequence, e);
      state.lastEventSeq = Math.max(state.lastEventSeq, e.sequence);
    }
    const list = $('events');
    const newest = list.firstElementChild ? Number(list.firstElementChild.dataset.sequence) : 0;
    added.sort((a, b) => a.sequence - b.sequence);
    if (added[0].sequence > newest) {
      const frag = document.createDocumentFragment();
      for (let i = added.length - 1; i >= 0; i -= 1) frag.append(eventItem(added[i], fresh));
      list.prepend(frag);
    } else {
      // Older events than shown (after a reconnect): rebuild the list in order.
      const all = [...state.events.values()].sort((a, b) => b.sequence - a.sequence);
      list.replaceChildren(...all.slice(0, MAX_EVENTS_SHOWN).map((e) => eventItem(e, false)));
    }
    while (list.children.length > MAX_EVENTS_SHOWN) list.lastElementChild.remove();
    while (state.events.size > MAX_EVENTS_SHOWN * 2) {
      state.events.delete(Math.min(...state.events.keys()));
    }
    renderEventCount();
    updateCharts();
  }

  function renderEventCount() {
    const counts = { warning: 0, over_budget: 0, leak_suspect: 0 };
    for (const e of state.events.values()) if (e.kind in counts) counts[e.kind] += 1;
    const parts = [];
    if (counts.over_budget) parts.push(`${counts.over_budget} over budget`);
    if (counts.warning) parts.push(`${counts.warning} warning${counts.warning === 1 ? '' : 's'}`);
    if (counts.leak_suspect) parts.push(`${counts.leak_suspect} leak suspect${counts.leak_suspect === 1 ? '' : 's'}`);
    setText($('event-count'), parts.join(' · '));
    $('no-events').hidden = state.events.size > 0;
  }

  function clearEvents() {
    state.events.clear();
    state.lastEventSeq = 0;
    $('events').replaceChildren();
    renderEventCount();
  }

  // ---------------------------------------------------------------- charts

  const hasCharts = typeof window.Chart === 'function';
  let totalChart = null;
  let subsChart = null;

  function cssVar(name) {
    return getComputedStyle(document.documentElement).getPropertyValue(name).trim();
  }

  // Distinct hues that read on both themes, given in the order of the series (the order
  // the history first saw the subsystems, or the ranking of the largest ones).
  // (Tableau 10's hues: told apart well, also by most colour-blind readers.)
  const PALETTE_LIGHT = ['#4e79a7', '#f28e2b', '#59a14f', '#e15759', '#76b7b2', '#edc948',
    '#b07aa1', '#ff9da7', '#9c755f', '#1f77b4', '#8cd17d', '#86bcb6'];
  const PALETTE_DARK = ['#6f9fd8', '#ffa54f', '#77c46b', '#ff7678', '#8fd6d0', '#f4d867',
    '#d09bc2', '#ffb3bb', '#c49a82', '#5aa9e6', '#a6e397', '#a8d8d3'];
  const darkQuery = window.matchMedia('(prefers-color-scheme: dark)');
  const palette = () => (darkQuery.matches ? PALETTE_DARK : PALETTE_LIGHT);

  function withAlpha(hex, alpha) {
    const n = parseInt(hex.slice(1), 16);
    return `rgba(${(n >> 16) & 255}, ${(n >> 8) & 255}, ${n & 255}, ${alpha})`;
  }

  // Round byte ticks in 1024-based units: 0, 256 MB, 512 MB... rather than 190.7 MB.
  function niceByteStep(max) {
    if (!(max > 0)) return 1;
    const unit = max >= 2 * GiB ? GiB : max >= 2 * MiB ? MiB : max >= 2 * KiB ? KiB : 1;
    const steps = [1, 2, 4, 5, 8, 10, 16, 20, 25, 32, 50, 64, 100, 128, 200, 250, 256, 500, 512, 1000];
    for (const s of steps) if (max / (s * unit) <= 6) return s * unit;
    return 1000 * unit;
  }

  function byteAxis(stacked) {
    return {
      type: 'linear',
      stacked,
      beginAtZero: true,
      bounds: 'data',  // keep the max set below, not Chart.js's own rounding
      afterDataLimits(scale) {
        const step = niceByteStep(scale.max);
        scale.min = 0;
        scale.max = Math.max(step, Math.ceil(scale.max / step) * step);
      },
      afterBuildTicks(scale) {
        const step = niceByteStep(scale.max);
        const ticks = [];
        for (let v = 0; v <= scale.max * (1 + 1e-9) && ticks.length < 20; v += step) ticks.push({ value: v });
        scale.ticks = ticks;
      },
      ticks: { callback: (v) => formatAxisBytes(v) },
      grid: {},
    };
  }

  // Clock times on a linear axis of Unix milliseconds, at round steps (no date adapter).
  function timeAxis() {
    return {
      type: 'linear',
      bounds: 'data',
      afterBuildTicks(scale) {
        const span = (scale.max - scale.min) / 1000;
        const steps = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200];
        const width = scale.width || 600;
        const most = Math.max(2, Math.floor(width / 90));
        let step = steps[steps.length - 1];
        for (const s of steps) if (span / s <= most) { step = s; break; }
        const ms = step * 1000;
        const ticks = [];
        for (let v = Math.ceil(scale.min / ms) * ms; v <= scale.max && ticks.length < 50; v += ms) ticks.push({ value: v });
        scale.ticks = ticks;
      },
      ticks: { callback: (v) => clock(v), maxRotation: 0, autoSkip: false },
      grid: {},
    };
  }

  // Draws vertical lines for events and marks across the chart area; the lines live on
  // the chart object ($memscopeLines), not in its options (Chart.js would call functions
  // found there as scriptable options).
  const markerPlugin = {
    id: 'memscopeMarkers',
    afterDatasetsDraw(chart) {
      const lines = chart.$memscopeLines || [];
      const x = chart.scales.x;
      const area = chart.chartArea;
      if (!x || !area) return;
      const ctx = chart.ctx;
      ctx.save();
      ctx.lineWidth = 1;
      ctx.font = `11px ${getComputedStyle(document.body).fontFamily}`;
      const rows = [];  // per label row, the right end of the last label drawn there
      for (const line of lines) {
        if (line.x < x.min || line.x > x.max) continue;
        if (line.dataset !== undefined && !chart.isDatasetVisible(line.dataset)) continue;
        const px = Math.round(x.getPixelForValue(line.x)) + 0.5;
        ctx.strokeStyle = line.color;
        ctx.setLineDash(line.dash || []);
        ctx.globalAlpha = line.alpha || 0.7;
        ctx.beginPath();
        ctx.moveTo(px, area.top);
        ctx.lineTo(px, area.bottom);
        ctx.stroke();
        if (line.label) {
          ctx.globalAlpha = 1;
          ctx.fillStyle = line.color;
          ctx.textBaseline = 'top';
          const w = ctx.measureText(line.label).width;
          const left = px + 4 + w > area.right ? px - 4 - w : px + 4;
          // Labels of close marks go on the next row down rather than over each other.
          let row = rows.findIndex((end) => end < left - 6);
          if (row < 0) row = rows.length;
          if (row < 4) {
            rows[row] = left + w;
            ctx.fillText(line.label, left, area.top + 2 + row * 13);
          }
        }
      }
      ctx.restore();
    },
  };

  const EVENT_COLOR_VAR = {
    warning: '--chart-threshold',
    over_budget: '--chart-budget',
    leak_suspect: '--leak',
    recovered: '--recovered',
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

  function createCharts() {
    if (!hasCharts) {
      for (const id of ['chart-total', 'chart-subsystems']) {
        $(id).replaceWith(el('p', 'empty', 'Chart.js did not load: charts are unavailable.'));
      }
      return;
    }
    const totalOptions = baseOptions();
    totalOptions.plugins.tooltip.filter = (item) => item.dataset.memscopeRole !== 'events';
    totalOptions.plugins.tooltip.callbacks.footer = (items) => {
      if (!items.length) return '';
      const t = items[0].parsed.x;
      const half = Math.max(state.intervalMs, 500);
      return [...state.events.values()]
        .filter((e) => Math.abs(e.unix_ms - t) <= half && e.kind !== 'recovered')
        .slice(-4).map((e) => e.message);
    };
    // Legend entries drawn as the lines they stand for (dashed for the budget lines).
    totalOptions.plugins.legend.labels.usePointStyle = true;
    totalOptions.plugins.legend.labels.generateLabels = (chart) =>
      Chart.defaults.plugins.legend.labels.generateLabels(chart).map((item) => {
        const ds = chart.data.datasets[item.datasetIndex];
        return { ...item, pointStyle: ds.memscopeRole === 'events' ? 'triangle' : 'line' };
      });
    totalChart = new Chart($('chart-total'), {
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
      options: totalOptions,
      plugins: [markerPlugin],
    });

    const subsOptions = baseOptions();
    subsOptions.plugins.legend.onClick = (e, item, legend) => {
      const ds = legend.chart.data.datasets[item.datasetIndex];
      ds.hidden = !ds.hidden;
      legend.chart.update('none');
    };
    subsChart = new Chart($('chart-subsystems'), {
      type: 'line',
      data: { datasets: [] },
      options: subsOptions,
      plugins: [markerPlugin],
    });
    $('stacked').addEventListener('change', () => {
      const stacked = $('stacked').checked;
      subsChart.options.scales.y = byteAxis(stacked);
      themeChart(subsChart);
      rebuildSubsystemSeries(true);
    });
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

  function applyTheme() {
    if (!totalChart) return;
    Chart.defaults.font.family = getComputedStyle(document.body).fontFamily;
    Chart.defaults.color = cssVar('--chart-text');
    themeChart(totalChart);
    themeChart(subsChart);
    const colors = {
      reported: cssVar('--chart-reported'),
      tracked: cssVar('--chart-tracked'),
      resident: cssVar('--chart-resident'),
      budget: cssVar('--chart-budget'),
      threshold: cssVar('--chart-threshold'),
      events: cssVar('--chart-threshold'),
    };
    for (const ds of totalChart.data.datasets) {
      const c = colors[ds.memscopeRole];
      ds.borderColor = c;
      ds.backgroundColor = ds.memscopeRole === 'reported' ? withAlpha(c, 0.12) : c;
    }
    rebuildSubsystemSeries(true);
    updateCharts();
  }

  // Which subsystems get their own line: all of them up to 12, else the 9 largest now and
  // one "Other" line with the rest summed, so that 100+ subsystems stay readable.
  const MAX_SERIES = 12;
  const TOP_SERIES = 9;
  let chosenSeries = { key: '', series: [] };

  function chooseSeries() {
    const names = state.subNames;
    const last = state.samples[state.samples.length - 1];
    if (names.length <= MAX_SERIES) {
      return names.map((name, index) => ({ name, indexes: [index] }));
    }
    const ranked = names.map((name, index) => ({ name, index, bytes: last ? last.subs[index] || 0 : 0 }));
    ranked.sort((a, b) => b.bytes - a.bytes || collator.compare(a.name, b.name));
    const top = ranked.slice(0, TOP_SERIES);
    const rest = ranked.slice(TOP_SERIES);
    const series = top.map((r) => ({ name: r.name, indexes: [r.index] }));
    series.push({ name: `Other (${rest.length})`, indexes: rest.map((r) => r.index), other: true });
    return series;
  }

  function rebuildSubsystemSeries(force) {
    if (!subsChart) return;
    const series = chooseSeries();
    const key = series.map((s) => s.name).join('\u0000');
    if (!force && key === chosenSeries.key) return;
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
    chosenSeries = { key, series };
    const note = series.some((s) => s.other)
      ? `${series.length - 1} largest of ${state.subNames.length}, the rest as Other` : '';
    setText($('chart-subs-note'), note);
  }

  let chartsPending = false;
  function updateCharts() {
    if (!totalChart || chartsPending) return;
    chartsPending = true;
    requestAnimationFrame(() => {
      chartsPending = false;
      drawCharts();
    });
  }

  function drawCharts() {
    const samples = state.samples;
    const s = state.snapshot;
    if (!samples.length) {
      setText($('chart-window'), 'waiting for the first samples…');
    } else {
      const first = samples[0].t;
      const last = samples[samples.length - 1].t;
      const seconds = Math.round((last - first) / 1000);
      setText($('chart-window'), `last ${formatDuration(seconds)} · ${samples.length} of ${state.capacity} samples kept`);
    }
    const first = samples.length ? samples[0].t : 0;
    const last = samples.length ? samples[samples.length - 1].t : 0;

    // Memory over time.
    const ds = totalChart.data.datasets;
    const byRole = Object.fromEntries(ds.map((d) => [d.memscopeRole, d]));
    byRole.reported.data = samples.map((p) => ({ x: p.t, y: p.reported }));
    byRole.tracked.data = samples.map((p) => ({ x: p.t, y: p.tracked }));
    byRole.resident.data = samples.map((p) => ({ x: p.t, y: p.resident }));
    const budget = s ? s.totals.budget_bytes : 0;
    const threshold = s ? s.totals.warning_threshold : 0.85;
    byRole.budget.data = budget > 0 && samples.length ? [{ x: first, y: budget }, { x: last, y: budget }] : [];
    byRole.threshold.data = budget > 0 && samples.length
      ? [{ x: first, y: budget * threshold }, { x: last, y: budget * threshold }] : [];

    const events = [...state.events.values()]
      .filter((e) => e.kind !== 'recovered' && e.unix_ms >= first && e.unix_ms <= last)
      .sort((a, b) => a.unix_ms - b.unix_ms);
    const eventsIndex = ds.indexOf(byRole.events);
    byRole.events.data = events.map((e) => ({ x: e.unix_ms, y: 0, message: e.message }));
    byRole.events.pointBackgroundColor = events.map((e) => cssVar(EVENT_COLOR_VAR[e.kind]));
    byRole.events.pointBorderColor = byRole.events.pointBackgroundColor;
    const markColor = cssVar('--chart-mark');
    const markLines = state.marks
      .filter((m) => m.unix_ms >= first && m.unix_ms <= last)
      .map((m) => ({ x: m.unix_ms, color: markColor, label: m.name, alpha: 0.9 }));
    // Lines across the chart for warnings and over-budget errors; every event also has
    // its triangle on the time axis (the Events series).
    totalChart.$memscopeLines = events
      .filter((e) => e.kind === 'warning' || e.kind === 'over_budget')
      .map((e) => ({ x: e.unix_ms, color: cssVar(EVENT_COLOR_VAR[e.kind]), dash: [3, 3], dataset: eventsIndex, alpha: 0.55 }))
      .concat(markLines);
    for (const chart of [totalChart, subsChart]) {
      chart.options.scales.x.min = first;
      chart.options.scales.x.max = last > first ? last : first + 1000;
    }
    totalChart.update('none');

    // Subsystems over time.
    rebuildSubsystemSeries(false);
    for (const d of subsChart.data.datasets) {
      const idx = d.memscopeIndexes;
      d.data = samples.map((p) => {
        let y = 0;
        let any = false;
        for (const i of idx) {
          if (i < p.subs.length) {
            y += p.subs[i];
            any = true;
          }
        }
        return { x: p.t, y: any ? y : null };
      });
    }
    subsChart.$memscopeLines = markLines;
    subsChart.update('none');
  }

  // ---------------------------------------------------------------- history

  let historyBusy = false;
  let historyAgain = false;

  async function fetchHistory() {
    if (historyBusy) {
      historyAgain = true;
      return;
    }
    historyBusy = true;
    try {
      do {
        historyAgain = false;
        const h = await getJson(`/api/v1/history?since=${state.lastSampleSeq}`);
        state.capacity = h.capacity;
        state.intervalMs = h.interval_ms;
        state.subNames = h.subsystem_names;
        for (const p of h.samples) {
          if (p.sequence <= state.lastSampleSeq) continue;
          state.samples.push({
            seq: p.sequence,
            t: p.unix_ms,
            reported: p.reported_bytes,
            tracked: p.allocator.total_allocated_bytes,
            resident: p.process.resident_bytes,
            subs: p.subsystem_bytes,
          });
          state.lastSampleSeq = p.sequence;
        }
        // The window follows the server's ring: what it has dropped, the page drops too.
        const oldest = state.lastSampleSeq - state.capacity;
        let cut = 0;
        while (cut < state.samples.length && state.samples[cut].seq <= oldest) cut += 1;
        if (cut) state.samples.splice(0, cut);
        updateCharts();
      } while (historyAgain);
    } catch (err) {
      // The snapshot path reports the connection state; history catches up next sample.
    } finally {
      historyBusy = false;
    }
  }

  // ---------------------------------------------------------------- snapshots

  function applySnapshot(s) {
    // A restarted game numbers its samples and events from 1 again.
    if (s.history.last_sequence < state.lastSampleSeq) {
      state.samples = [];
      state.lastSampleSeq = 0;
    }
    if (s.last_event_sequence < state.lastEventSeq) clearEvents();

    state.snapshot = s;
    state.capacity = s.history.capacity;
    state.intervalMs = s.history.interval_ms;
    renderGlobal(s);
    renderTotals(s.totals);
    renderTable(s.subsystems, s.totals.warning_threshold);
    renderReconciliation(s.reconciliation);
    if (s.events) mergeEvents(s.events, false);
    if (s.last_event_sequence > state.lastEventSeq) fetchEvents();
    if (s.history.last_sequence > state.lastSampleSeq) fetchHistory();
    else updateCharts();
    if (diffToNow()) refreshDiffSoon();
  }

  async function fetchEvents() {
    try {
      const r = await getJson(`/api/v1/events?since=${state.lastEventSeq}`);
      mergeEvents(r.events, true);
    } catch (err) {
      // next snapshot retries
    }
  }

  // After a budget event, the table is refreshed at once rather than at the next sample,
  // so a row turns red the moment its subsystem crosses.
  let refreshTimer = 0;
  function refreshSubsystemsSoon() {
    if (refreshTimer) return;
    refreshTimer = setTimeout(async () => {
      refreshTimer = 0;
      try {
        const [subs, totals] = await Promise.all([getJson('/api/v1/subsystems'), getJson('/api/v1/totals')]);
        if (state.snapshot) {
          state.snapshot.subsystems = subs.subsystems;
          state.snapshot.totals = totals;
        }
        renderTable(subs.subsystems, subs.warning_threshold);
        renderTotals(totals);
      } catch (err) {
        // the stream's next snapshot brings the same
      }
    }, 30);
  }

  // ---------------------------------------------------------------- connection

  let stream = null;
  let probeTimer = 0;
  let pollTimer = 0;
  let watchdogTimer = 0;
  let streamRetryTimer = 0;
  const PROBE_MS = 2000;

  function setConnection(kind) {
    const conn = $('conn');
    const labels = {
      live: ['live', 'Live: the stream pushes every sample and every event as it fires'],
      polling: ['polling', 'Polling /api/v1/snapshot: the live stream is unavailable'],
      down: ['disconnected', 'The game is not answering'],
      connecting: ['connecting…', ''],
    };
    conn.className = `conn conn-${kind}`;
    setText(conn, labels[kind][0]);
    conn.title = labels[kind][1];
  }

  function setConnected(kind) {
    if (!state.connected || state.mode !== kind) setConnection(kind === 'poll' ? 'polling' : 'live');
    state.connected = true;
    state.downSince = 0;
    $('banner').hidden = true;
    document.body.classList.remove('stale');
  }

  function setDisconnected(reason) {
    if (!state.downSince) state.downSince = Date.now();
    state.connected = false;
    setConnection('down');
    const where = window.location.host;
    setText($('banner-text'),
      `${reason} (${where}, since ${clock(state.downSince)}). ` +
      `The figures below are the last received; retrying every ${PROBE_MS / 1000} s.`);
    $('banner').hidden = false;
    document.body.classList.add('stale');
  }

  function closeStream() {
    if (stream) {
      stream.close();
      stream = null;
    }
    clearTimeout(watchdogTimer);
  }

  // No message for three sample intervals (at least 5 s): the game is stuck or paused in
  // a debugger, with its socket still open.
  function armWatchdog() {
    clearTimeout(watchdogTimer);
    const ms = Math.max(5000, 3 * state.intervalMs + 2000);
    if (ms > 10 * 60 * 1000) return;
    watchdogTimer = setTimeout(() => {
      closeStream();
      setDisconnected(`No data from the game for ${Math.round(ms / 1000)} s: it may be stopped or paused`);
      scheduleProbe();
    }, ms);
  }

  function startStream() {
    closeStream();
    clearTimeout(pollTimer);
    clearTimeout(probeTimer);
    state.mode = 'stream';
    if (typeof window.EventSource !== 'function') {
      startPolling();
      return;
    }
    const es = new EventSource('/api/v1/stream');
    stream = es;
    let received = false;
    es.addEventListener('snapshot', (ev) => {
      received = true;
      setConnected('stream');
      armWatchdog();
      applySnapshot(JSON.parse(ev.data));
    });
    es.addEventListener('budget_event', (ev) => {
      armWatchdog();
      mergeEvents([JSON.parse(ev.data)], true);
      refreshSubsystemsSoon();
    });
    es.addEventListener('end', () => {
      closeStream();
      setDisconnected('The game stopped its dashboard server');
      scheduleProbe();
    });
    es.addEventListener('error', () => {
      if (stream !== es) return;
      const refused = es.readyState === EventSource.CLOSED && !received;
      closeStream();
      if (refused) {
        // An HTTP error rather than a lost connection (503: too many live streams).
        startPolling();
      } else {
        setDisconnected('Disconnected from the game: it is not answering');
        scheduleProbe();
      }
    });
  }

  // While disconnected: ask for a snapshot every PROBE_MS; the first answer reconnects.
  function scheduleProbe() {
    clearTimeout(probeTimer);
    probeTimer = setTimeout(async () => {
      try {
        const s = await getJson('/api/v1/snapshot', 3000);
        applySnapshot(s);
        loadMarks();
        if (state.mode === 'poll') startPolling();
        else startStream();
      } catch (err) {
        scheduleProbe();
      }
    }, PROBE_MS);
  }

  function startPolling() {
    closeStream();
    clearTimeout(pollTimer);
    state.mode = 'poll';
    const tick = async () => {
      try {
        applySnapshot(await getJson('/api/v1/snapshot', 4000));
        setConnected('poll');
        pollTimer = setTimeout(tick, Math.min(Math.max(state.intervalMs, 1000), 5000));
      } catch (err) {
        setDisconnected('Disconnected from the game: it is not answering');
        scheduleProbe();
      }
    };
    tick();
    // Try the stream again now and then: it may have a free slot.
    clearTimeout(streamRetryTimer);
    streamRetryTimer = setTimeout(() => {
      if (state.mode === 'poll' && state.connected) startStream();
    }, 30000);
  }

  // ---------------------------------------------------------------- marks and diffs

  function markLabel(m) {
    return `${m.name} (${clock(m.unix_ms)})`;
  }

  async function loadMarks() {
    try {
      const r = await getJson('/api/v1/marks');
      state.marks = r.marks;
      renderMarks();
      updateCharts();
    } catch (err) {
      // shown when connected again
    }
  }

  function renderMarks() {
    const list = $('marks');
    const items = [...state.marks].reverse().map((m) => {
      const li = el('li');
      li.dataset.name = m.name;
      const name = el('span', 'mark-name', m.name);
      name.title = m.name;
      const time = el('time', 'muted', clock(m.unix_ms));
      time.dateTime = m.time;
      li.append(name, time, el('span', 'muted', `${m.formatted.reported_bytes} reported · ${m.formatted.tracked_bytes} allocated`));
      return li;
    });
    list.replaceChildren(...items);
    $('no-marks').hidden = state.marks.length > 0;
    $('diff-form').hidden = state.marks.length === 0;

    // The selects: marks by name (the newest of a repeated name wins, as in the API).
    const from = $('diff-from');
    const to = $('diff-to');
    const keepFrom = from.value;
    const keepTo = to.value;
    const names = [];
    for (const m of [...state.marks].reverse()) if (!names.includes(m.name)) names.push(m.name);
    const option = (value, label) => {
      const o = el('option', '', label);
      o.value = value;
      return o;
    };
    const byName = new Map(state.marks.map((m) => [m.name, m]));
    from.replaceChildren(...names.map((n) => option(n, markLabel(byName.get(n)))));
    to.replaceChildren(option('', 'now'), ...names.map((n) => option(n, markLabel(byName.get(n)))));
    if (names.includes(keepFrom)) from.value = keepFrom;
    if (keepTo === '' || names.includes(keepTo)) to.value = keepTo;
  }

  function diffToNow() {
    return !$('diff').hidden && $('diff-to').value === '';
  }

  async function setMark(event) {
    event.preventDefault();
    const input = $('mark-name');
    const name = input.value.trim() || `mark ${state.marks.length + 1} at ${clock(Date.now())}`;
    const status = $('mark-status');
    try {
      const r = await fetch('/api/v1/marks', {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ name }),
      });
      const body = await r.json().catch(() => ({}));
      if (r.status !== 201) throw new Error(body.error || `HTTP ${r.status}`);
      input.value = '';
      setText(status, `Mark “${body.name}” set at ${clock(body.unix_ms)}`);
      const previous = state.marks.length ? state.marks[state.marks.length - 1].name : null;
      await loadMarks();
      // Compare the previous mark with this one, or this one with now.
      if (previous && previous !== body.name) {
        $('diff-from').value = previous;
        $('diff-to').value = body.name;
      } else {
        $('diff-from').value = body.name;
        $('diff-to').value = '';
      }
      showDiff();
    } catch (err) {
      setText(status, `Could not set the mark: ${err.message}`);
    }
  }

  function diffRow(label, figure, isBytes, global) {
    const tr = el('tr', global ? 'global' : '');
    const fmt = (v) => (isBytes ? formatBytes(v) : formatCount(v));
    const delta = el('td', 'num', isBytes ? formatSigned(figure.delta) : `${figure.delta > 0 ? '+' : ''}${formatCount(figure.delta)}`);
    if (figure.delta > 0) delta.classList.add('up');
    if (figure.delta < 0) delta.classList.add('down');
    tr.append(el('td', '', label), el('td', 'num', fmt(figure.from)), el('td', 'num', fmt(figure.to)), delta);
    return tr;
  }

  async function showDiff(event) {
    if (event) event.preventDefault();
    const from = $('diff-from').value;
    const to = $('diff-to').value;
    if (!from) return;
    const query = `from=${encodeURIComponent(from)}${to ? `&to=${encodeURIComponent(to)}` : ''}`;
    try {
      const d = await getJson(`/api/v1/diff?${query}`);
      const g = d.global;
      const rows = [
        diffRow('Tracked total (reported)', g.reported_bytes, true, true),
        diffRow('Allocated (operator new)', g.allocator.total_allocated_bytes, true, true),
        diffRow('Live allocs', g.allocator.net_allocations, false, true),
        diffRow('Resident', g.process.resident_bytes, true, true),
        diffRow('Committed', g.process.committed_bytes, true, true),
      ];
      const subs = [...d.subsystems].sort((a, b) =>
        Math.abs(b.current_bytes.delta) - Math.abs(a.current_bytes.delta) || collator.compare(a.name, b.name));
      let unchanged = 0;
      for (const s of subs) {
        if (s.current_bytes.delta === 0 && s.in_from && s.in_to) {
          unchanged += 1;
          continue;
        }
        const note = !s.in_from ? ' (new)' : !s.in_to ? ' (gone)' : '';
        rows.push(diffRow(`${s.name}${note}`, s.current_bytes, true, false));
      }
      $('diff-rows').replaceChildren(...rows);
      const toLabel = to ? `“${d.to.name}” (${clock(d.to.unix_ms)})` : `now (${clock(d.to.unix_ms)})`;
      setText($('diff-title'),
        `“${d.from.name}” (${clock(d.from.unix_ms)}) → ${toLabel}, ${formatDuration(d.seconds)} apart` +
        (unchanged ? ` · ${unchanged} subsystem${unchanged === 1 ? '' : 's'} unchanged` : ''));
      $('diff').hidden = false;
    } catch (err) {
      setText($('mark-status'), `Could not compare: ${err.message}`);
    }
  }

  let diffTimer = 0;
  function refreshDiffSoon() {
    if (diffTimer) return;
    diffTimer = setTimeout(() => {
      diffTimer = 0;
      if (diffToNow() && state.connected) showDiff();
    }, 2000);
  }

  // ---------------------------------------------------------------- start

  function start() {
    setupSorting();
    createCharts();
    darkQuery.addEventListener('change', applyTheme);
    $('mark-form').addEventListener('submit', setMark);
    $('diff-form').addEventListener('submit', showDiff);
    renderEventCount();
    setConnection('connecting');
    loadMarks();
    fetchHistory();
    startStream();
  }

  start();
})();
