// SPDX-License-Identifier: MIT
// What arrives from the game, put on the page: snapshots (from the stream or a poll),
// the history samples behind the charts, the events, and the table's quick refresh after
// a budget event.

import { updateCharts } from './charts.js';
import { clearEvents, mergeEvents } from './events.js';
import { fetchFrames } from './frames.js';
import { getJson } from './http.js';
import { diffToNow, loadMarks, refreshDiffSoon } from './marks.js';
import { state } from './state.js';
import { renderGlobal, renderReconciliation, renderTotals } from './summary.js';
import { renderTable } from './table.js';

export function applySnapshot(s) {
  if (state.recording) return;  // a request answered after a recording was loaded
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
  renderReconciliation(s.reconciliation, s.allocator.sources);
  if (s.events) mergeEvents(s.events, false);
  if (s.last_event_sequence > state.lastEventSeq) fetchEvents();
  // A mark set by the game (Server::mark) or another page: the list is loaded again.
  if (s.last_mark_id !== state.lastMarkId) {
    state.lastMarkId = s.last_mark_id;
    loadMarks();
  }
  if (s.history.last_sequence > state.lastSampleSeq) fetchHistory();
  else updateCharts();
  fetchFrames();
  if (diffToNow()) refreshDiffSoon();
}

// Appends the samples of one /api/v1/history answer that the page does not have, and
// drops those the server's ring has dropped: the window follows the ring.
function addSamples(h) {
  if (state.recording) return;
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
  const oldest = state.lastSampleSeq - state.capacity;
  let cut = 0;
  while (cut < state.samples.length && state.samples[cut].seq <= oldest) cut += 1;
  if (cut) state.samples.splice(0, cut);
}

let historyBusy = false;
let historyAgain = false;

// Fetches the samples newer than the last one; one request at a time, and once more
// when asked meanwhile.
export async function fetchHistory() {
  if (historyBusy) {
    historyAgain = true;
    return;
  }
  historyBusy = true;
  try {
    do {
      historyAgain = false;
      addSamples(await getJson(`/api/v1/history?since=${state.lastSampleSeq}`));
      updateCharts();
    } while (historyAgain);
  } catch (err) {
    // The snapshot path reports the connection state; history catches up next sample.
  } finally {
    historyBusy = false;
  }
}

async function fetchEvents() {
  try {
    const r = await getJson(`/api/v1/events?since=${state.lastEventSeq}`);
    if (state.recording) return;
    mergeEvents(r.events, true);
  } catch (err) {
    // next snapshot retries
  }
}

let refreshTimer = 0;

// After a budget event, the table is refreshed at once rather than at the next sample,
// so a row turns red the moment its subsystem crosses.
export function refreshSubsystemsSoon() {
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
