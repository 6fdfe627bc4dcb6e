// One call's page: its facts, its transcript as it is spoken, and how long each answer took.
import uPlot from "/vendor/uplot/uPlot.esm.js";
import { followFeed, hangUp, localizeTimes, timeElement } from "./live.js";

const header = document.getElementById("call");
const callId = Number(header.dataset.callId);
const transcript = document.getElementById("transcript");
const template = document.getElementById("turn-template");
const noTurns = document.getElementById("no-turns");
const hangupButton = document.getElementById("hangup");
const message = document.getElementById("call-message");
const chartBox = document.getElementById("latency-chart");
const chartSummary = document.getElementById("latency-summary");
const reducedMotion = window.matchMedia("(prefers-reduced-motion: reduce)").matches;

const CHART_HEIGHT = 190;
const latencies = new Map(); // turn sequence → answer time in ms
let call = null;
let plot = null;
let ticker = null;

function setText(element, text) {
  if (element.textContent !== text) element.textContent = text;
}

function setTime(element, iso) {
  if (!iso) return setText(element, "—");
  if (element.querySelector("time")?.getAttribute("datetime") !== iso) {
    element.replaceChildren(timeElement(iso));
  }
}

// --- the transcript -----------------------------------------------------------------------

function addTurn(turn) {
  // Each turn is shown once, in sequence order, whichever way it arrives (page, snapshot,
  // live event, replay after a reconnect).
  if (transcript.querySelector(`.turn[data-sequence="${turn.sequence}"]`)) return;
  const item = template.content.querySelector(".turn").cloneNode(true);
  item.className = `turn turn-${turn.role}`;
  item.dataset.sequence = turn.sequence;
  item.querySelector(".turn-speaker").textContent = turn.speaker;
  item.querySelector(".turn-time").replaceChildren(timeElement(turn.started_at, "time"));
  const latency = item.querySelector(".turn-latency");
  latency.hidden = turn.latency_ms === null || turn.latency_ms === undefined;
  if (!latency.hidden) {
    latency.dataset.ms = turn.latency_ms;
    latency.title = `${turn.latency_ms} ms after the caller stopped speaking`;
    item.querySelector(".turn-latency-seconds").textContent = seconds(turn.latency_ms);
  }
  item.querySelector(".turn-interrupted").hidden = !turn.interrupted;
  item.querySelector(".turn-text").textContent = turn.text;
  item.querySelector(".turn-backchannels").hidden = !turn.backchannels;
  item.querySelector(".turn-backchannels-text").textContent = turn.backchannels || "";

  const atBottom = window.innerHeight + window.scrollY >= document.body.scrollHeight - 120;
  const next = [...transcript.children].find((row) => Number(row.dataset.sequence) > turn.sequence);
  transcript.insertBefore(item, next ?? null);
  noTurns.hidden = true;
  if (atBottom && !next) item.scrollIntoView({ block: "nearest", behavior: reducedMotion ? "auto" : "smooth" });
  if (!latency.hidden) {
    latencies.set(turn.sequence, turn.latency_ms);
    drawChart();
  }
}

// --- the hand-over to a caregiver, step by step --------------------------------------------

const stepsBox = document.getElementById("call-steps");
const stepList = document.getElementById("steps");
const stepTemplate = document.getElementById("step-template");

function addStep(step) {
  // Each step once, in sequence order, however it arrives (page, snapshot, live event).
  if (stepList.querySelector(`.call-step[data-sequence="${step.sequence}"]`)) return;
  const item = stepTemplate.content.querySelector(".call-step").cloneNode(true);
  item.dataset.sequence = step.sequence;
  item.dataset.kind = step.kind;
  item.querySelector(".call-step-time").replaceChildren(timeElement(step.at, "time"));
  const label = item.querySelector(".call-step-label");
  label.className = `call-step-label badge rounded-pill text-bg-${step.tone}`;
  label.textContent = step.label;
  item.querySelector(".call-step-text").textContent = step.text;
  const next = [...stepList.children].find((row) => Number(row.dataset.sequence) > step.sequence);
  stepList.insertBefore(item, next ?? null);
  stepsBox.hidden = false;
}

// --- the call's facts ---------------------------------------------------------------------

function showCall(view) {
  call = view;
  const badge = document.getElementById("call-status");
  badge.className = `badge rounded-pill badge-status text-bg-${view.status_tone}${view.live ? " is-live" : ""}`;
  badge.dataset.status = view.status;
  setText(badge, view.status_label);
  setText(document.getElementById("fact-status"), view.status_label);
  setTime(document.getElementById("fact-answered"), view.answered_at);
  setTime(document.getElementById("fact-ended"), view.ended_at);
  setText(document.getElementById("fact-end-reason"), view.end_reason_label || "—");
  const errorBox = document.getElementById("fact-error");
  errorBox.hidden = !view.error;
  setText(errorBox.querySelector(".error-text"), view.error ?? "");
  hangupButton.hidden = !view.live;
  if (!view.live) noTurns.textContent = "Nothing was said on this call.";
  if (!latencies.size) drawChart();
  showDuration();
  clearInterval(ticker);
  ticker = view.live && view.answered_at ? setInterval(showDuration, 1000) : null;
}

function showDuration() {
  const element = document.getElementById("fact-duration");
  if (call.duration_label) return setText(element, call.duration_label);
  if (call.live && call.answered_at) {
    const seconds = Math.max(0, Math.round((Date.now() - Date.parse(call.answered_at)) / 1000));
    const minutes = Math.floor(seconds / 60);
    const rest = seconds % 60;
    return setText(element, `${minutes ? `${minutes} min ${String(rest).padStart(2, "0")} s` : `${rest} s`} so far`);
  }
  setText(element, "—");
}

hangupButton.addEventListener("click", async () => {
  if (!window.confirm("Hang up this call now?")) return;
  hangupButton.disabled = true;
  const problem = await hangUp(callId);
  hangupButton.disabled = false;
  const alert = document.createElement("div");
  alert.className = `alert ${problem ? "alert-danger" : "alert-info"}`;
  alert.textContent = problem || "Hanging up…";
  message.replaceChildren(alert);
});

// --- answer times -------------------------------------------------------------------------

function seconds(ms) {
  return `${(ms / 1000).toFixed(1)} s`; // as the page says it (web/templating.py)
}

function drawChart() {
  const values = [...latencies.entries()].sort((a, b) => a[0] - b[0]).map(([, ms]) => ms);
  if (!values.length) {
    chartSummary.textContent = call && !call.live ? "There were no answers on this call." : "No answers yet.";
    chartBox.hidden = true;
    return;
  }
  const sorted = [...values].sort((a, b) => a - b);
  const median = sorted[Math.floor((sorted.length - 1) / 2)];
  chartSummary.textContent =
    `${values.length} answer${values.length === 1 ? "" : "s"}: typically ${seconds(median)}, ` +
    `slowest ${seconds(sorted[sorted.length - 1])}.`;
  chartBox.hidden = false;
  const data = [values.map((_, index) => index + 1), values.map((ms) => ms / 1000)];
  if (plot) {
    plot.setData(data);
    return;
  }
  plot = new uPlot(
    {
      width: chartBox.clientWidth || 300,
      height: CHART_HEIGHT,
      legend: { show: false },
      cursor: { drag: { x: false, y: false } },
      scales: {
        x: { time: false, range: (_u, _min, max) => [0.4, Math.max(max, 3) + 0.6] },
        y: { range: (_u, _min, max) => [0, Math.max(1, max * 1.25)] },
      },
      axes: [
        {
          label: "Answer",
          labelSize: 22,
          incrs: [1, 2, 5, 10, 20, 50, 100],
          values: (_u, ticks) => ticks.map((tick) => (Number.isInteger(tick) ? tick : "")),
        },
        {
          size: 52,
          space: 24,
          incrs: [0.25, 0.5, 1, 2, 5, 10],
          values: (_u, ticks) => ticks.map((tick) => `${tick} s`),
        },
      ],
      series: [
        {},
        {
          label: "Answer time (s)",
          stroke: "#0a58ca",
          fill: "rgba(13, 110, 253, 0.25)",
          width: 1.5,
          paths: uPlot.paths.bars({ size: [0.5, 36] }),
          points: { show: false },
        },
      ],
    },
    data,
    chartBox,
  );
  new ResizeObserver(() => plot.setSize({ width: chartBox.clientWidth, height: CHART_HEIGHT })).observe(chartBox);
}

// --- start --------------------------------------------------------------------------------

for (const item of transcript.querySelectorAll(".turn")) {
  const latency = item.querySelector(".turn-latency");
  if (!latency.hidden) {
    latencies.set(Number(item.dataset.sequence), Number(latency.dataset.ms));
  }
}
localizeTimes();
drawChart();
// --- the call's alerts ---------------------------------------------------------------------

const alertsBox = document.getElementById("call-alerts-box");
let alertsFetch = Promise.resolve();

// A red flag raised (or an alert acknowledged) while the page is open: the server renders the
// call's alerts again (/calls/{id}/alerts), one fetch after another.
function refreshAlerts() {
  alertsFetch = alertsFetch.then(async () => {
    try {
      const response = await fetch(`/calls/${callId}/alerts`, { credentials: "same-origin" });
      if (response.ok && !response.redirected) alertsBox.innerHTML = await response.text();
    } catch {
      // Offline: the feed's indicator says so; the reconnect's snapshot refreshes them.
    }
  });
}

let snapshots = 0;
window.carecallFeed = followFeed({
  callId,
  onSnapshot(snapshot) {
    showCall(snapshot.call);
    for (const turn of snapshot.turns) addTurn(turn);
    for (const step of snapshot.steps ?? []) addStep(step);
    snapshots += 1;
    // A live call may have raised one since the page was made; any call, after a feed gap.
    if (snapshot.call.live || snapshots > 1) refreshAlerts();
  },
  onCall: showCall,
  onTurn: addTurn,
  onStep: addStep,
  onProgram(message) {
    if (message.kind === "alert.updated") refreshAlerts();
  },
});
