// SPDX-License-Identifier: MIT
// The page's byte formatter (web/static/format.js) against the C++ ones: every row that
// tests/format_table.cpp prints must read the same in JavaScript.
//
//   MEMSCOPE_FORMAT_TABLE=<build>/tests/memscope_format_table node --test format.test.mjs

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { test } from 'node:test';
import {
  formatAxisBytes, formatBytes, formatRate, formatSigned,
} from '../../web/static/format.js';

const program = process.env.MEMSCOPE_FORMAT_TABLE;
assert.ok(program, 'MEMSCOPE_FORMAT_TABLE names the format_table program');
const rows = JSON.parse(execFileSync(program, { encoding: 'utf8' }));

// The page gets figures from JSON.parse, which rounds a decimal integer to the nearest
// double, as the C++ formatter's conversion to double does.
const figure = (row) => JSON.parse(row.bytes);

test('the table covers the cases it is for', () => {
  assert.ok(rows.length >= 60, `${rows.length} rows`);
  const naive = (b) => (b >= 2 ** 30 ? `${(b / 2 ** 30).toFixed(2)} GB` : null);
  assert.ok(rows.some((r) => r.text && naive(figure(r)) && naive(figure(r)) !== r.text),
    'a tie that toFixed() would round up');
  assert.ok(rows.some((r) => BigInt(r.bytes) > 2n ** 53n), 'a figure past 2^53');
  assert.ok(rows.some((r) => r.text === null), 'negative figures');
});

test('formatBytes() writes what format_memory() writes', () => {
  for (const row of rows.filter((r) => r.text !== null)) {
    assert.equal(formatBytes(figure(row)), row.text, `${row.bytes} bytes`);
  }
});

test('formatSigned() writes what format_signed_memory() writes', () => {
  for (const row of rows.filter((r) => r.signed !== null)) {
    assert.equal(formatSigned(figure(row)), row.signed, `${row.bytes} bytes`);
    assert.equal(formatSigned(figure(row), true), row.plus, `${row.bytes} bytes, plus`);
    if (figure(row) < 0) assert.equal(formatBytes(figure(row)), row.signed, `${row.bytes} bytes`);
  }
});

test('rates and axis labels are built on the byte formatter', () => {
  assert.equal(formatRate(1536), '+1.5 KB/s');
  assert.equal(formatRate(-1280.9), '-1.2 KB/s');  // a fraction of a byte is dropped
  assert.equal(formatRate(0), '');
  assert.equal(formatAxisBytes(0), '0 B');
  assert.equal(formatAxisBytes(256 * 2 ** 20), '256 MB');
  assert.equal(formatAxisBytes(1.5 * 2 ** 30), '1.5 GB');
  assert.equal(formatAxisBytes(1.25 * 2 ** 20), '1.25 MB');
  assert.equal(formatAxisBytes(1500 * 1024), '1.46 MB');
});
