// A person's page: one small chart per wellbeing measure over their calls (uPlot), from the
// data the server put in the page (#trend-data, as /people/{id}/trends.json gives it). Levels
// 0-3 (good … concerning) up the side, the call's date in the person's zone along the bottom;
// a call where the measure didn't come up is a gap.
import uPlot from "/vendor/uplot/uPlot.esm.js";

const CHART_HEIGHT = 130;
const DAY = 86400;
const data = JSON.parse(document.getElementById("trend-data").textContent);
const box = document.getElementById("trend-charts");

function latest(levels) {
  for (let i = levels.length - 1; i >= 0; i -= 1) if (levels[i] !== null) return i;
  return -1;
}

function chart(measure, target) {
  const zone = data.zone;
  return new uPlot(
    {
      width: target.clientWidth || 300,
      height: CHART_HEIGHT,
      legend: { show: false },
      cursor: { drag: { x: false, y: false } },
      tzDate: (ts) => uPlot.tzDate(new Date(ts * 1e3), zone),
      scales: {
        x: { time: true, range: (_u, min, max) => (min === max ? [min - DAY, max + DAY] : [min, max]) },
        y: { range: [-0.3, 3.3] },
      },
      axes: [
        { space: 60 },
        {
          size: 82,
          splits: () => [0, 1, 2, 3],
          values: (_u, ticks) => ticks.map((tick) => data.scale[tick] ?? ""),
        },
      ],
      series: [
        {},
        {
          label: measure.name,
          stroke: "#0a58ca",
          width: 2,
          spanGaps: false,
          points: { show: true, size: 8, fill: "#0a58ca" },
        },
      ],
    },
    [data.times, measure.levels],
    target,
  );
}

function draw() {
  const quiet = [];
  const plots = [];
  for (const measure of data.measures) {
    const last = latest(measure.levels);
    if (last < 0) {
      quiet.push(measure.name);
      continue;
    }
    const figure = document.createElement("figure");
    figure.className = "trend-chart mb-3";
    figure.dataset.measure = measure.key;
    const caption = document.createElement("figcaption");
    caption.className = "small fw-semibold mb-1";
    const level = measure.levels[last];
    caption.textContent = `${measure.name}: ${measure.words[level]} (latest, ${data.dates[last]})`;
    const plotBox = document.createElement("div");
    plotBox.className = "trend-plot";
    plotBox.setAttribute("role", "img");
    const said = measure.levels.filter((value) => value !== null).length;
    plotBox.setAttribute(
      "aria-label",
      `${measure.name} over ${said} call${said === 1 ? "" : "s"}; latest: ${measure.words[level]}.`,
    );
    figure.append(caption, plotBox);
    box.append(figure);
    plots.push([chart(measure, plotBox), plotBox]);
  }
  if (quiet.length && plots.length) {
    const note = document.createElement("p");
    note.className = "small text-body-secondary mb-0";
    note.id = "trends-not-discussed";
    note.textContent = `Not discussed yet: ${quiet.join(", ")}.`;
    box.append(note);
  }
  new ResizeObserver(() => {
    for (const [plot, plotBox] of plots) plot.setSize({ width: plotBox.clientWidth, height: CHART_HEIGHT });
  }).observe(box);
}

if (data.times.length) draw();
