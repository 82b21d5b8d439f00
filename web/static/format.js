// SPDX-License-Identifier: MIT
// How the page writes figures: bytes with the digits of memscope::format_memory() and
// format_signed_memory(), and the percentages, durations, rates, clock times and chart
// labels. tests/e2e/format.test.mjs checks the byte formatter against the C++ one.

export const KiB = 1024;
export const MiB = KiB * 1024;
export const GiB = MiB * 1024;

// The unit format_memory() writes `bytes` (>= 0) in: 1024-based, 2 decimals for GB,
// 1 for MB and KB, whole bytes below.
function unitOf(bytes) {
  if (bytes >= GiB) return { name: 'GB', shift: 30n, decimals: 2 };
  if (bytes >= MiB) return { name: 'MB', shift: 20n, decimals: 1 };
  if (bytes >= KiB) return { name: 'KB', shift: 10n, decimals: 1 };
  return { name: 'B', shift: 0n, decimals: 0 };
}

// bytes / 2^shift with `decimals` digits, rounded as std::to_chars rounds: the exact
// binary value to nearest, ties to even. Number.prototype.toFixed() breaks ties upward
// ("1.3 KB" for 1280 B where C++ writes "1.2 KB"), hence integer arithmetic on BigInt,
// which also holds every double exactly (figures above 2^53 included).
function scaled(bytes, { shift, decimals }) {
  const numerator = BigInt(bytes) * 10n ** BigInt(decimals);
  let digits = numerator >> shift;
  const twiceRest = (numerator - (digits << shift)) << 1n;
  const unit = 1n << shift;
  if (twiceRest > unit || (twiceRest === unit && (digits & 1n) === 1n)) digits += 1n;
  if (decimals === 0) return digits.toString();
  const text = digits.toString().padStart(decimals + 1, '0');
  return `${text.slice(0, -decimals)}.${text.slice(-decimals)}`;
}

// format_signed_memory(): "-" before a negative figure, "+" before a positive one when
// `plus` is asked (zero is "0 B" either way). A fraction of a byte is dropped, as the
// C++ callers' conversion to an integer drops it.
export function formatSigned(bytes, plus = false) {
  if (!Number.isFinite(bytes)) return '—';
  const whole = Math.trunc(bytes);
  const size = Math.abs(whole);
  const sign = whole < 0 ? '-' : plus && whole > 0 ? '+' : '';
  const unit = unitOf(size);
  return `${sign}${scaled(size, unit)} ${unit.name}`;
}

// format_memory(): "1.00 GB", "5.0 MB", "2.0 KB", "500 B" (a negative figure gets "-").
export function formatBytes(bytes) {
  return formatSigned(bytes, false);
}

// Axis labels: the byte formatter's unit with up to 2 decimals (1 from 10 up) and no
// trailing zeros, since the ticks are round numbers of their unit: "256 MB", "1.5 GB".
export function formatAxisBytes(bytes) {
  if (!Number.isFinite(bytes)) return '';
  const whole = Math.trunc(bytes);
  const size = Math.abs(whole);
  const unit = unitOf(size);
  let text = scaled(size, { ...unit, decimals: unit.decimals && 2 });
  if (unit.decimals && Number.parseFloat(text) >= 10) text = scaled(size, { ...unit, decimals: 1 });
  if (text.includes('.')) text = text.replace(/\.?0+$/, '');
  return `${whole < 0 ? '-' : ''}${text} ${unit.name}`;
}

// A growth rate: "+1.5 MB/s", "-200 B/s"; empty when there is none.
export function formatRate(bytesPerSecond) {
  if (!Number.isFinite(bytesPerSecond) || bytesPerSecond === 0) return '';
  return `${formatSigned(bytesPerSecond, bytesPerSecond > 0)}/s`;
}

const countFormat = new Intl.NumberFormat('en-US');

// A count with thousands separators: "12,345".
export const formatCount = (n) => countFormat.format(n);

// A count with its sign: "+12", "-3", "0".
export const formatSignedCount = (n) => `${n > 0 ? '+' : ''}${formatCount(n)}`;

// A budget usage (1 = 100%) with one decimal: "87.5%".
export function formatPercent(usage) {
  return `${(usage * 100).toFixed(1)}%`;
}

// Seconds as "4.2 s", "42 s", "3 m 05 s", "2 h 07 m"; "—" for none.
export function formatDuration(seconds) {
  if (!(seconds > 0)) return '—';
  if (seconds < 10) return `${seconds.toFixed(1)} s`;
  if (seconds < 60) return `${Math.round(seconds)} s`;
  const s = Math.round(seconds);
  if (s < 3600) return `${Math.floor(s / 60)} m ${pad2(s % 60)} s`;
  return `${Math.floor(s / 3600)} h ${pad2(Math.floor((s % 3600) / 60))} m`;
}

const pad2 = (n) => String(n).padStart(2, '0');

// Local clock time of Unix milliseconds: "14:03:27".
export function clock(ms) {
  const d = new Date(ms);
  return `${pad2(d.getHours())}:${pad2(d.getMinutes())}:${pad2(d.getSeconds())}`;
}

// "1 subsystem", "3 subsystems".
export const plural = (n, word) => `${n} ${word}${n === 1 ? '' : 's'}`;

const collator = new Intl.Collator('en', { numeric: true, sensitivity: 'base' });

// The order of subsystem and mark names: "Chunk 2" before "Chunk 10", case aside.
export const compareNames = (a, b) => collator.compare(a, b);
