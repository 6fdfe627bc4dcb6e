// The calls page: start a call, and watch recent calls change state live.
import { followFeed, hangUp, localizeTimes, postJSON, timeElement } from "./live.js";

const MAX_ROWS = 20;
const list = document.getElementById("call-list");
const noCalls = document.getElementById("no-calls");
const template = document.getElementById("call-item-template");
const form = document.getElementById("start-call");
const input = document.getElementById("to");
const inputError = document.getElementById("to-error");
const submit = form.querySelector('button[type="submit"]');
const result = document.getElementById("start-result");

function setText(element, text) {
  if (element.textContent !== text) element.textContent = text;
}

function fill(item, call) {
  item.dataset.callId = call.id;
  item.querySelector(".call-link").href = call.url;
  item.dataset.theCall = call.the_call;
  item.querySelector(".call-to").hidden = !call.number;  // a demo call or a talk in the browser
  const name = item.querySelector(".call-number");
  name.classList.toggle("font-monospace", Boolean(call.number));
  setText(name, call.label);
  const when = item.querySelector(".call-when");
  if (when.querySelector("time")?.getAttribute("datetime") !== call.created_at) {
    when.replaceChildren(timeElement(call.created_at));
  }
  setText(item.querySelector(".call-duration"), call.duration_label ? ` · ${call.duration_label}` : "");
  const badge = item.querySelector(".badge-status");
  badge.className = `badge rounded-pill badge-status text-bg-${call.status_tone}${call.live ? " is-live" : ""}`;
  badge.dataset.status = call.status;
  setText(badge, call.status_label);
  const button = item.querySelector(".hangup");
  button.hidden = !call.live;
  setText(button.querySelector(".visually-hidden"), ` ${call.the_call}`);
}

function upsert(call) {
  let item = list.querySelector(`.call-item[data-call-id="${call.id}"]`);
  if (!item) {
    item = template.content.querySelector(".call-item").cloneNode(true);
    const after = [...list.children].find((row) => Number(row.dataset.callId) < call.id);
    list.insertBefore(item, after ?? null);
  }
  fill(item, call);
  while (list.children.length > MAX_ROWS) list.lastElementChild.remove();
  noCalls.hidden = list.children.length > 0;
}

function showResult(kind, ...content) {
  const alert = document.createElement("div");
  alert.className = `alert alert-${kind} mb-0`;
  alert.setAttribute("role", kind === "success" ? "status" : "alert");
  alert.append(...content);
  result.replaceChildren(alert);
}

function setInputError(message) {
  input.classList.toggle("is-invalid", Boolean(message));
  if (message) input.setAttribute("aria-invalid", "true");
  else input.removeAttribute("aria-invalid");
  inputError.textContent = message;
}

input.addEventListener("input", () => setInputError(""));

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  setInputError("");
  result.replaceChildren();
  submit.disabled = true;
  submit.textContent = "Calling…";
  const response = await postJSON("/api/calls", { to: input.value });
  submit.disabled = false;
  submit.textContent = "Call now";
  if (response.ok) {
    const link = document.createElement("a");
    link.href = `/calls/${response.data.id}`;
    link.className = "alert-link";
    link.textContent = "Follow the call";
    showResult("success", "Calling now. ", link, " to see the conversation live.");
    input.value = "";
  } else if (response.status === 422) {
    setInputError(response.detail);
    input.focus();
  } else if (response.status === 503) {
    showResult("warning", response.detail);
  } else {
    showResult("danger", response.detail);
  }
});

const demoButton = document.getElementById("run-demo");
const demoResult = document.getElementById("demo-result");

demoButton.addEventListener("click", async () => {
  demoButton.disabled = true;
  demoButton.textContent = "Starting the demo call…";
  demoResult.replaceChildren();
  const response = await postJSON("/api/demo-calls", {});
  if (response.ok) {
    window.location.assign(`/calls/${response.data.id}`); // its live transcript
    return;
  }
  demoButton.disabled = false;
  demoButton.textContent = "Run a demo call";
  const alert = document.createElement("div");
  alert.className = `alert alert-${response.status === 429 ? "warning" : "danger"} mb-0`;
  alert.setAttribute("role", "alert");
  alert.textContent = response.detail;
  demoResult.replaceChildren(alert);
});

list.addEventListener("click", async (event) => {
  const button = event.target.closest(".hangup");
  if (!button) return;
  const item = button.closest(".call-item");
  if (!window.confirm(`Hang up ${item.dataset.theCall}?`)) return;
  button.disabled = true;
  const problem = await hangUp(item.dataset.callId);
  button.disabled = false;
  if (problem) showResult("danger", problem);
});

localizeTimes();
window.carecallFeed = followFeed({
  onSnapshot(message) {
    const ids = new Set(message.calls.map((call) => String(call.id)));
    for (const row of [...list.children]) if (!ids.has(row.dataset.callId)) row.remove();
    for (const call of message.calls) upsert(call);
    noCalls.hidden = list.children.length > 0;
  },
  onCall: upsert,
});
