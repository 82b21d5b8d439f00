// SPDX-License-Identifier: MIT
// memscope dashboard page: plain JavaScript modules, no framework, no build step. This
// entry wires them together; each file of web/static/ is one concern:
//   live.js      the stream, polling and the disconnected banner
//   snapshot.js  snapshots, history samples and events put on the page
//   summary.js   the global cards, the tracked total, the reconciliation
//   table.js     the subsystem table, its sorting and filter
//   events.js    the events panel
//   charts.js    the two Chart.js charts (chart_axes.js, chart_markers.js, chart_series.js)
//   frames.js    the allocations-per-frame chart
//   marks.js     marks and their diff
//   recording.js a recording file shown like a live session (recording_file.js reads it)
//   format.js    every figure's text (bytes as memscope::format_memory() writes them)
//   dom.js, http.js, state.js: element helpers, JSON requests, the shared state
// Chart.js is the UMD build loaded by index.html before this module runs (window.Chart).

import { setupCharts } from './charts.js';
import { renderEventCount } from './events.js';
import { setupFrames } from './frames.js';
import { setConnection, startStream } from './live.js';
import { loadMarks, setupMarks } from './marks.js';
import { setupRecording } from './recording.js';
import { fetchHistory } from './snapshot.js';
import { setupTable } from './table.js';

setupTable();
setupCharts();
setupFrames();
setupMarks();
setupRecording();
renderEventCount();
setConnection('connecting');
loadMarks();
fetchHistory();
startStream();
