// SPDX-License-Identifier: MIT
// Which subsystems get a line of their own on the subsystem chart, and in which colours.

import { compareNames } from './format.js';

// All of them up to 12, else the 9 largest now and one "Other" line with the rest
// summed, so that 100+ subsystems stay readable.
const MAX_SERIES = 12;
const TOP_SERIES = 9;

// Distinct hues that read on both themes, given in the order of the series (the order
// the history first saw the subsystems, or the ranking of the largest ones). Tableau 10's
// hues: told apart well, also by most colour-blind readers.
const PALETTE_LIGHT = ['#4e79a7', '#f28e2b', '#59a14f', '#e15759', '#76b7b2', '#edc948',
  '#b07aa1', '#ff9da7', '#9c755f', '#1f77b4', '#8cd17d', '#86bcb6'];
const PALETTE_DARK = ['#6f9fd8', '#ffa54f', '#77c46b', '#ff7678', '#8fd6d0', '#f4d867',
  '#d09bc2', '#ffb3bb', '#c49a82', '#5aa9e6', '#a6e397', '#a8d8d3'];
const darkQuery = window.matchMedia('(prefers-color-scheme: dark)');

// The palette of the theme in force.
export const palette = () => (darkQuery.matches ? PALETTE_DARK : PALETTE_LIGHT);

// The series for the history's subsystem `names` (indexes of a sample's `subs`), ranked
// by `last`, the newest sample: [{name, indexes, other}].
export function chooseSeries(names, last) {
  if (names.length <= MAX_SERIES) {
    return names.map((name, index) => ({ name, indexes: [index] }));
  }
  const ranked = names.map((name, index) => ({ name, index, bytes: last ? last.subs[index] || 0 : 0 }));
  ranked.sort((a, b) => b.bytes - a.bytes || compareNames(a.name, b.name));
  const top = ranked.slice(0, TOP_SERIES);
  const rest = ranked.slice(TOP_SERIES);
  const series = top.map((r) => ({ name: r.name, indexes: [r.index] }));
  series.push({ name: `Other (${rest.length})`, indexes: rest.map((r) => r.index), other: true });
  return series;
}
