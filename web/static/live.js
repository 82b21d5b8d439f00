// SPDX-License-Identifier: MIT
// How the page stays live: the stream (/api/v1/stream, Server-Sent Events) sends a full
// snapshot when it opens, then one after every sample and each budget event the moment
// it fires. A refused stream (503: too many open) makes the page poll /api/v1/snapshot
// instead. When the game goes away, a banner says so, the figures are shown as stale, and
// the page asks again every 2 s until the game answers.

import { $, setText } from './dom.js';
import { mergeEvents } from './events.js';
import { clock } from './format.js';
import { fetchFrames } from './frames.js';
import { getJson } from './http.js';
import { loadMarks } from './marks.js';
import { applySnapshot, refreshSubsystemsSoon } from './snapshot.js';
import { state } from './state.js';

const PROBE_MS = 2000;
let stream = null;
let probeTimer = 0;
let pollTimer = 0;
let watchdogTimer = 0;
let streamRetryTimer = 0;

const CONNECTION_LABEL = {
  live: ['live', 'Live: the stream pushes every sample and every event as it fires'],
  polling: ['polling', 'Polling /api/v1/snapshot: the live stream is unavailable'],
  down: ['disconnected', 'The game is not answering'],
  connecting: ['connecting…', ''],
};

// The status pill in the top bar.
export function setConnection(kind) {
  const conn = $('conn');
  conn.className = `conn conn-${kind}`;
  setText(conn, CONNECTION_LABEL[kind][0]);
  conn.title = CONNECTION_LABEL[kind][1];
}

function setConnected(mode) {
  if (!state.connected || state.mode !== mode) setConnection(mode === 'poll' ? 'polling' : 'live');
  state.connected = true;
  state.downSince = 0;
  $('banner').hidden = true;
  document.body.classList.remove('stale');
}

function setDisconnected(reason) {
  if (!state.downSince) state.downSince = Date.now();
  state.connected = false;
  setConnection('down');
  setText($('banner-text'),
    `${reason} (${window.location.host}, since ${clock(state.downSince)}). ` +
    `The figures below are the last received; retrying every ${PROBE_MS / 1000} s.`);
  $('banner').hidden = false;
  document.body.classList.add('stale');
}

function lost(reason) {
  closeStream();
  setDisconnected(reason);
  scheduleProbe();
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
  watchdogTimer = setTimeout(
    () => lost(`No data from the game for ${Math.round(ms / 1000)} s: it may be stopped or paused`), ms);
}

function listen(es) {
  let received = false;
  es.addEventListener('snapshot', (ev) => {
    received = true;
    setConnected('stream');
    armWatchdog();
    applySnapshot(JSON.parse(ev.data));
  });
  es.addEventListener('budget_event', (ev) => {
    armWatchdog();
    const event = JSON.parse(ev.data);
    mergeEvents([event], true);
    if (event.kind === 'frame_over_budget') fetchFrames();
    else refreshSubsystemsSoon();
  });
  es.addEventListener('end', () => lost('The game stopped its dashboard server'));
  es.addEventListener('error', () => {
    if (stream !== es) return;
    // Closed before any message: an HTTP error (503: too many live streams), not a
    // lost connection.
    if (es.readyState === EventSource.CLOSED && !received) {
      closeStream();
      startPolling();
    } else {
      lost('Disconnected from the game: it is not answering');
    }
  });
}

// Stops the stream, the polling and the probes (the page then shows a recording).
export function stopLive() {
  closeStream();
  clearTimeout(pollTimer);
  clearTimeout(probeTimer);
  clearTimeout(streamRetryTimer);
  state.connected = false;
  $('banner').hidden = true;
  document.body.classList.remove('stale');
}

// Opens the live stream (or polls, in a browser without EventSource).
export function startStream() {
  if (state.recording) return;  // a recording is on show: no live figures
  closeStream();
  clearTimeout(pollTimer);
  clearTimeout(probeTimer);
  state.mode = 'stream';
  if (typeof window.EventSource !== 'function') {
    startPolling();
    return;
  }
  stream = new EventSource('/api/v1/stream');
  listen(stream);
}

// While disconnected: ask for a snapshot every PROBE_MS; the first answer reconnects.
function scheduleProbe() {
  if (state.recording) return;  // a recording is on show: no live figures
  clearTimeout(probeTimer);
  probeTimer = setTimeout(async () => {
    try {
      applySnapshot(await getJson('/api/v1/snapshot', 3000));
      loadMarks();
      if (state.mode === 'poll') startPolling();
      else startStream();
    } catch (err) {
      scheduleProbe();
    }
  }, PROBE_MS);
}

function startPolling() {
  if (state.recording) return;  // a recording is on show: no live figures
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
