// The outcomes report's charts (uPlot), from the report the server put in the page
// (#report-data, as GET /api/reports/outcomes gives it, plus each bucket's start in `times`).
// Along the bottom, each week or month by its first day in the agency's zone; a bucket with
// nothing to measure (no escalation acknowledged, no answer) is a gap.
import uPlot from "/vendor/uplot/uPlot.esm.js";

const CHART_HEIGHT = 220;
const DAY = 86400;
const data = JSON.parse(document.getElementById("report-data").textContent);
const buckets = data.buckets;

const minutes = (seconds) => (seconds === null ? null : Math.round((seconds / 60) * 10) / 10);
const inSeconds = (ms) => (ms === null ? null : ms / 1000);

const CHARTS = {
  checkins: {
    unit: "",
    series: [
      ["Due", "#6c757d", (b) => b.checkins.due],
      ["Reached", "#198754", (b) => b.checkins.reached],
      ["Not reached", "#dc3545", (b) => b.checkins.not_reached_total],
    ],
  },
  acknowledge: {
    unit: " min",
    series: [
      ["Escalations p50", "#0a58ca", (b) => minutes(b.escalations.ack_p50_seconds)],
      ["Escalations p90", "#6ea8fe", (b) => minutes(b.escalations.ack_p90_seconds)],
      ["Red flags p50", "#dc3545", (b) => minutes(b.alerts.red_flag.ack_p50_seconds)],
      ["Trends p50", "#fd7e14", (b) => minutes(b.alerts.trend.ack_p50_seconds)],
    ],
  },
  latency: {
    unit: " s",
    series: [
      ["p50", "#0a58ca", (b) => inSeconds(b.calls.latency_p50_ms)],
      ["p95", "#6f42c1", (b) => inSeconds(b.calls.latency_p95_ms)],
    ],
  },
};

function chart(spec, target) {
  const zone = data.timezone;
  const series = spec.series.map(([label, colour]) => ({
    label,
    stroke: colour,
    width: 2,
    spanGaps: false,
    points: { show: true, size: 7, fill: colour },
    value: (_u, value) => (value === null || value === undefined ? "–" : `${value}${spec.unit}`),
  }));
  return new uPlot(
    {
      width: target.clientWidth || 320,
      height: CHART_HEIGHT,
      cursor: { drag: { x: false, y: false } },
      tzDate: (ts) => uPlot.tzDate(new Date(ts * 1e3), zone),
      scales: {
        x: { time: true, range: (_u, min, max) => (min === max ? [min - 4 * DAY, max + 4 * DAY] : [min, max]) },
        y: { range: (_u, _min, max) => [0, Math.max(1, (max ?? 0) * 1.15)] },
      },
      axes: [{ space: 70 }, { size: 50 }],
      series: [{ label: data.group === "week" ? "Week of" : "Month of" }, ...series],
    },
    [data.times, ...spec.series.map(([, , pick]) => buckets.map(pick))],
    target,
  );
}

const plots = [];
for (const figure of document.querySelectorAll(".report-chart")) {
  const box = figure.querySelector(".report-plot");
  plots.push([chart(CHARTS[figure.dataset.chart], box), box]);
}
new ResizeObserver(() => {
  for (const [plot, box] of plots) plot.setSize({ width: box.clientWidth, height: CHART_HEIGHT });
}).observe(document.getElementById("report-charts"));
