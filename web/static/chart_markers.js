// SPDX-License-Identifier: MIT
// A Chart.js plugin that draws vertical lines across the chart area, for events and
// marks. The lines live on the chart object (chart.$memscopeLines: {x, color, dash,
// alpha, label, dataset}), not in its options: Chart.js would call functions found there
// as scriptable options.

const LABEL_ROWS = 4;
const LABEL_ROW_PX = 13;

function strokeLine(ctx, line, px, area) {
  ctx.strokeStyle = line.color;
  ctx.setLineDash(line.dash || []);
  ctx.globalAlpha = line.alpha || 0.7;
  ctx.beginPath();
  ctx.moveTo(px, area.top);
  ctx.lineTo(px, area.bottom);
  ctx.stroke();
}

// Writes the label beside its line, on the first row down where it overlaps no other
// (rows[i]: the right end of the last label written on row i).
function writeLabel(ctx, line, px, area, rows) {
  ctx.globalAlpha = 1;
  ctx.fillStyle = line.color;
  ctx.textBaseline = 'top';
  const w = ctx.measureText(line.label).width;
  const left = px + 4 + w > area.right ? px - 4 - w : px + 4;
  let row = rows.findIndex((end) => end < left - 6);
  if (row < 0) row = rows.length;
  if (row < LABEL_ROWS) {
    rows[row] = left + w;
    ctx.fillText(line.label, left, area.top + 2 + row * LABEL_ROW_PX);
  }
}

export const markerPlugin = {
  id: 'memscopeMarkers',
  afterDatasetsDraw(chart) {
    const x = chart.scales.x;
    const area = chart.chartArea;
    if (!x || !area) return;
    const ctx = chart.ctx;
    ctx.save();
    ctx.lineWidth = 1;
    ctx.font = `11px ${getComputedStyle(document.body).fontFamily}`;
    const rows = [];
    for (const line of chart.$memscopeLines || []) {
      if (line.x < x.min || line.x > x.max) continue;
      if (line.dataset !== undefined && !chart.isDatasetVisible(line.dataset)) continue;
      const px = Math.round(x.getPixelForValue(line.x)) + 0.5;
      strokeLine(ctx, line, px, area);
      if (line.label) writeLabel(ctx, line, px, area, rows);
    }
    ctx.restore();
  },
};
