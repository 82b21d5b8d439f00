// SPDX-License-Identifier: MIT
// The charts' axes: bytes at round 1024-based steps, clock times at round seconds. Both
// are linear Chart.js axes (a time axis would need a date adapter).

import { GiB, KiB, MiB, clock, formatAxisBytes } from './format.js';

// Round byte ticks in 1024-based units: 0, 256 MB, 512 MB... rather than 190.7 MB.
function niceByteStep(max) {
  if (!(max > 0)) return 1;
  const unit = max >= 2 * GiB ? GiB : max >= 2 * MiB ? MiB : max >= 2 * KiB ? KiB : 1;
  const steps = [1, 2, 4, 5, 8, 10, 16, 20, 25, 32, 50, 64, 100, 128, 200, 250, 256, 500, 512, 1000];
  for (const s of steps) if (max / (s * unit) <= 6) return s * unit;
  return 1000 * unit;
}

// The y axis of bytes, from 0 to a whole number of steps.
export function byteAxis(stacked) {
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

const TIME_STEPS_S = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200];

// The x axis of Unix milliseconds, labelled with clock times at round steps, about one
// label per 90 px.
export function timeAxis() {
  return {
    type: 'linear',
    bounds: 'data',
    afterBuildTicks(scale) {
      const span = (scale.max - scale.min) / 1000;
      const most = Math.max(2, Math.floor((scale.width || 600) / 90));
      const step = TIME_STEPS_S.find((s) => span / s <= most) || TIME_STEPS_S[TIME_STEPS_S.length - 1];
      const ms = step * 1000;
      const ticks = [];
      for (let v = Math.ceil(scale.min / ms) * ms; v <= scale.max && ticks.length < 50; v += ms) ticks.push({ value: v });
      scale.ticks = ticks;
    },
    ticks: { callback: (v) => clock(v), maxRotation: 0, autoSkip: false },
    grid: {},
  };
}
