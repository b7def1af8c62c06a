// prodml dashboard: charts from the JSON a page carries, and the review page's keys.
// No inline script anywhere (the pages' Content-Security-Policy allows this file only).
"use strict";

const COLOURS = ["#0969da", "#cf222e", "#1a7f37", "#9a6700", "#8250df", "#bf3989"];

function drawCharts(root) {
  for (const data of root.querySelectorAll("script.chart-data")) {
    const box = data.nextElementSibling;
    if (!box || !box.classList.contains("chart") || typeof uPlot === "undefined") continue;
    const found = JSON.parse(data.textContent);
    const names = Object.keys(found.series);
    box.replaceChildren();
    if (!found.x.length || !names.length) continue;
    const marks = found.marks || [];
    const options = {
      width: Math.max(240, box.clientWidth),
      height: 220,
      series: [{}, ...names.map((name, i) => ({ label: name, stroke: COLOURS[i % COLOURS.length], width: 2, spanGaps: true }))],
      axes: [{}, {}],
      hooks: { draw: [(u) => {
        const ctx = u.ctx;
        ctx.save();
        ctx.strokeStyle = "#9a6700";
        ctx.setLineDash([4, 3]);
        for (const at of marks) {
          const x = u.valToPos(at, "x", true);
          ctx.beginPath(); ctx.moveTo(x, u.bbox.top); ctx.lineTo(x, u.bbox.top + u.bbox.height); ctx.stroke();
        }
        ctx.restore();
      }] },
    };
    new uPlot(options, [found.x, ...names.map((name) => found.series[name])], box);
  }
}

function reviewKeys(event) {
  const form = document.getElementById("answer");
  if (!form || event.target.closest("input, textarea, select")) return;
  let button = null;
  if (/^[1-9]$/.test(event.key)) button = form.querySelector(`button[data-key="${event.key}"]`);
  else if (event.key === "Enter") button = form.querySelector("button.suggested");
  if (button) { event.preventDefault(); button.click(); }
}

document.addEventListener("DOMContentLoaded", () => drawCharts(document));
document.addEventListener("htmx:after:swap", (event) => drawCharts(event.target));
document.addEventListener("keydown", reviewKeys);
let resizing = null;
window.addEventListener("resize", () => {
  clearTimeout(resizing);
  resizing = setTimeout(() => drawCharts(document), 100);  // redrawn at the new width
});
