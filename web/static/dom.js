// SPDX-License-Identifier: MIT
// DOM helpers. Text goes in through textContent only (subsystem and mark names are the
// game's strings, never HTML), and styles through the CSSOM: the server's
// Content-Security-Policy forbids inline scripts and styles.

export const $ = (id) => document.getElementById(id);

// A new element with an optional class and text.
export function el(tag, className, text) {
  const e = document.createElement(tag);
  if (className) e.className = className;
  if (text !== undefined) e.textContent = text;
  return e;
}

// Writes only when the text changed, so that an unchanged figure causes no layout.
export function setText(node, text) {
  if (node.textContent !== text) node.textContent = text;
}

// The class of a row or card for a budget status: red past the threshold, "over" past
// the budget.
const STATUS_CLASS = { warning: 'warn', over_budget: 'warn over' };
export const statusClass = (status) => STATUS_CLASS[status] || '';
