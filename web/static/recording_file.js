// SPDX-License-Identifier: MIT
// Reads a memscope recording (NDJSON, docs/recordings.md) into what the page shows: the
// samples, the subsystems in first-seen order, the events, the marks and the budgets.
// A line that is not JSON, or a line of a kind the page does not know, is skipped and
// counted. No DOM here, so that node can run it too.

const FORMAT = 'memscope-recording';
const VERSION = 1;

// The files of one recording (the rotated ones too, in any order) as one: headers order
// them by the start of their run and their part number.
export function readRecording(texts) {
  const files = texts.map(readFile).sort((a, b) =>
    (a.header ? a.header.start_unix_ms : 0) - (b.header ? b.header.start_unix_ms : 0) ||
    (a.header ? a.header.part : 0) - (b.header ? b.header.part : 0));
  const rec = {
    header: null, samples: [], names: [], events: [], marks: [], budgets: [], skipped: 0,
  };
  const index = new Map();
  for (const f of files) {
    if (!rec.header) rec.header = f.header;
    rec.skipped += f.skipped;
    rec.events.push(...f.events);
    rec.marks.push(...f.marks);
    rec.budgets.push(...f.budgets);
    for (const s of f.samples) {
      // Sample.subs is indexed like the names, as the live history is.
      const subs = [];
      for (const [name, bytes] of Object.entries(s.subsystems || {})) {
        if (!index.has(name)) {
          index.set(name, rec.names.length);
          rec.names.push(name);
        }
        subs[index.get(name)] = bytes;
      }
      rec.samples.push({
        seq: s.sequence,
        t: s.unix_ms,
        reported: s.reported_bytes,
        tracked: s.allocator.total_allocated_bytes,
        resident: s.process.resident_bytes,
        subs: Array.from(subs, (v) => v ?? 0),
        allocator: s.allocator,
        process: s.process,
      });
    }
  }
  rec.samples.sort((a, b) => a.t - b.t);
  rec.events.sort((a, b) => a.sequence - b.sequence);
  rec.marks.sort((a, b) => a.unix_ms - b.unix_ms);
  rec.budgets.sort((a, b) => a.unix_ms - b.unix_ms);
  if (!rec.header) throw new Error('not a memscope recording: no header line');
  return rec;
}

function readFile(text) {
  const f = { header: null, samples: [], events: [], marks: [], budgets: [], skipped: 0 };
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    let v;
    try {
      v = JSON.parse(line);
    } catch (err) {
      f.skipped += 1;  // a malformed line, or the last one cut short by a crash
      continue;
    }
    if (v.type === 'header') {
      if (v.format !== FORMAT) throw new Error(`not a memscope recording (format "${v.format}")`);
      if (v.version > VERSION) throw new Error(`recording version ${v.version} is newer than this page reads`);
      if (!f.header) f.header = v;
    } else if (v.type === 'sample' && v.allocator && v.process) f.samples.push(v);
    else if (v.type === 'event') f.events.push(v);
    else if (v.type === 'mark') f.marks.push(v);
    else if (v.type === 'budgets') f.budgets.push(v);
    else f.skipped += 1;
  }
  return f;
}

// The budgets line in force at `unix_ms` (the first one before any).
export function budgetsAt(rec, unixMs) {
  let found = rec.budgets[0] || { warning_threshold: 0.85, total_budget_bytes: 0, budgets: {} };
  for (const b of rec.budgets) if (b.unix_ms <= unixMs) found = b;
  return found;
}
