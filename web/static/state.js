// SPDX-License-Identifier: MIT
// What the page knows, shared by its modules: the last snapshot, the rows, the events,
// the history samples and marks, and how it is connected.

export const state = {
  snapshot: null,           // the last /api/v1/snapshot or stream snapshot
  rows: new Map(),          // subsystem name -> row of the table (table.js)
  threshold: 0.85,          // the warning threshold of the last snapshot
  sort: { key: 'name', dir: 1 },
  filter: '',               // lower case; '' shows every row
  events: new Map(),        // sequence -> event
  lastEventSeq: 0,
  samples: [],              // compact history samples, oldest first
  subNames: [],             // History::subsystem_names(), indexes Sample.subs
  lastSampleSeq: 0,
  capacity: 600,            // samples the server's history ring keeps
  intervalMs: 1000,         // between samples
  marks: [],
  lastMarkId: 0,            // the snapshot's last_mark_id when the marks were last loaded
  connected: false,
  mode: 'stream',           // 'stream' or 'poll'
  downSince: 0,             // Date.now() when the game stopped answering, else 0
  recording: false,         // a recording file is on show (recording.js), not the game
};
