// SPDX-License-Identifier: MIT
// The events panel: budget warnings, over-budget errors, recoveries, leak suspects,
// forecasts and frames over their frame budget, newest first, each once however often it arrives (stream, snapshot, /events).

import { updateCharts } from './charts.js';
import { $, el, setText } from './dom.js';
import { clock, plural } from './format.js';
import { state } from './state.js';

const EVENT_LABEL = {
  warning: 'warning',
  over_budget: 'over budget',
  recovered: 'recovered',
  leak_suspect: 'leak suspect',
  forecast: 'forecast',
  frame_over_budget: 'frame over budget',
};
const MAX_EVENTS_SHOWN = 300;

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

// Shows `added` (sorted, oldest first): on top when all are newer than the list, else
// the whole list again in order (older events arrive after a reconnect).
function showEvents(added, fresh) {
  const list = $('events');
  const newest = list.firstElementChild ? Number(list.firstElementChild.dataset.sequence) : 0;
  if (added[0].sequence > newest) {
    const frag = document.createDocumentFragment();
    for (let i = added.length - 1; i >= 0; i -= 1) frag.append(eventItem(added[i], fresh));
    list.prepend(frag);
  } else {
    const all = [...state.events.values()].sort((a, b) => b.sequence - a.sequence);
    list.replaceChildren(...all.slice(0, MAX_EVENTS_SHOWN).map((e) => eventItem(e, false)));
  }
  while (list.children.length > MAX_EVENTS_SHOWN) list.lastElementChild.remove();
}

// Adds events (any order, duplicates ignored); `fresh` ones are highlighted as new.
export function mergeEvents(events, fresh) {
  const added = events.filter((e) => !state.events.has(e.sequence));
  if (!added.length) return;
  for (const e of added) {
    state.events.set(e.sequence, e);
    state.lastEventSeq = Math.max(state.lastEventSeq, e.sequence);
  }
  added.sort((a, b) => a.sequence - b.sequence);
  showEvents(added, fresh);
  while (state.events.size > MAX_EVENTS_SHOWN * 2) {
    state.events.delete(Math.min(...state.events.keys()));
  }
  renderEventCount();
  updateCharts();
}

// "1 over budget · 2 warnings" in the panel's head.
export function renderEventCount() {
  const counts = { warning: 0, over_budget: 0, leak_suspect: 0, forecast: 0, frame_over_budget: 0 };
  for (const e of state.events.values()) if (e.kind in counts) counts[e.kind] += 1;
  const parts = [];
  if (counts.over_budget) parts.push(`${counts.over_budget} over budget`);
  if (counts.warning) parts.push(plural(counts.warning, 'warning'));
  if (counts.leak_suspect) parts.push(plural(counts.leak_suspect, 'leak suspect'));
  if (counts.forecast) parts.push(plural(counts.forecast, 'forecast'));
  if (counts.frame_over_budget) parts.push(`${plural(counts.frame_over_budget, 'frame')} over budget`);
  setText($('event-count'), parts.join(' · '));
  $('no-events').hidden = state.events.size > 0;
}

// Forgets every event (a restarted game numbers them from 1 again).
export function clearEvents() {
  state.events.clear();
  state.lastEventSeq = 0;
  $('events').replaceChildren();
  renderEventCount();
}
