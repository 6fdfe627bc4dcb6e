// Shared by the dashboard's pages: local times, JSON POSTs with the CSRF token, and the live
// feed (/ws/dashboard) that reconnects by itself and catches up on what it missed.

const SIGNED_OUT = 1008;
const BAD_REQUEST = 4400;
const NOT_FOUND = 4404;
const MAX_BACKOFF_MS = 15000;

const timeFormat = new Intl.DateTimeFormat(undefined, { timeStyle: "medium" });
const shortTime = new Intl.DateTimeFormat(undefined, { timeStyle: "short" });
const dateTimeFormat = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });
const fullFormat = new Intl.DateTimeFormat(undefined, { dateStyle: "full", timeStyle: "long" });

/** Show each <time datetime="…" data-format="time|datetime"> under `root` in local time. */
export function localizeTimes(root = document) {
  for (const element of root.querySelectorAll("time[datetime][data-format]")) localizeTime(element);
}

function localizeTime(element) {
  const moment = new Date(element.getAttribute("datetime"));
  if (Number.isNaN(moment.getTime())) return;
  element.textContent = formatMoment(moment, element.dataset.format);
  element.title = fullFormat.format(moment);
}

function formatMoment(moment, style) {
  if (style === "time") return timeFormat.format(moment);
  const today = new Date();
  if (moment.toDateString() === today.toDateString()) return `Today, ${shortTime.format(moment)}`;
  return dateTimeFormat.format(moment);
}

/** A <time> element for an ISO moment (or an empty text node when there is none). */
export function timeElement(iso, style = "datetime") {
  if (!iso) return document.createTextNode("");
  const element = document.createElement("time");
  element.setAttribute("datetime", iso);
  element.dataset.format = style;
  localizeTime(element);
  return element;
}

function csrfToken() {
  return document.querySelector('meta[name="csrf-token"]')?.content ?? "";
}

/** POST JSON as the signed-in operator. Resolves to {ok, status, data, detail}; never throws. */
export async function postJSON(url, body) {
  let response;
  try {
    response = await fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrfToken() },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch {
    return { ok: false, status: 0, data: {}, detail: "carecall can't be reached. Check the connection and try again." };
  }
  let data = {};
  try {
    data = await response.json();
  } catch {
    // not JSON: keep the generic message below
  }
  let detail = typeof data.detail === "string" ? data.detail : "";
  if (response.status === 401) detail = "You have been signed out. Reload the page to sign in again.";
  if (!detail && !response.ok) detail = `Something went wrong (HTTP ${response.status}). Try again.`;
  return { ok: response.ok, status: response.status, data, detail };
}

/** End a live call; resolves to a message to show, or "" when Twilio took the request. */
export async function hangUp(callId) {
  const result = await postJSON(`/api/calls/${callId}/hangup`);
  return result.ok ? "" : result.detail;
}

/**
 * Follow /ws/dashboard. `handlers`: onSnapshot(message), onCall(call), onTurn(turn),
 * onStep(step) (a step of a hand-over to a caregiver, on a call's page),
 * onProgram(message) (a check-in or escalation changed: `{kind, data}`).
 * Reconnects with exponential backoff (with jitter) after a drop, asking for what it missed
 * (`after` + `stream`); the server answers with those events or a fresh snapshot.
 * Returns {drop(holdMs), state(), stats}: `drop` closes the socket as a network failure would,
 * and stays away at least `holdMs` (tests use it); `stats` counts snapshots and reconnects.
 */
export function followFeed({
  callId = null,
  onSnapshot,
  onCall = () => {},
  onTurn = () => {},
  onStep = () => {},
  onProgram = () => {},
}) {
  const indicator = document.getElementById("feed-state");
  let socket = null;
  let lastId = null;
  let stream = null;
  let attempt = 0;
  let retryTimer = null;
  let finished = false;
  let state = "connecting";
  let holdUntil = 0;
  const stats = { snapshots: 0, reconnects: 0 };

  function show(newState, text) {
    state = newState;
    if (!indicator) return;
    indicator.dataset.state = newState;
    indicator.replaceChildren(text);
    if (newState === "signed-out") {
      const link = document.createElement("a");
      link.href = `/login?next=${encodeURIComponent(location.pathname)}`;
      link.textContent = "Sign in again";
      indicator.append(" ", link);
    }
  }

  function url() {
    const params = new URLSearchParams();
    if (callId !== null) params.set("call_id", callId);
    if (lastId !== null && stream !== null) {
      params.set("after", lastId);
      params.set("stream", stream);
    }
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    return `${scheme}//${location.host}/ws/dashboard?${params}`;
  }

  function connect() {
    clearTimeout(retryTimer);
    retryTimer = null;
    const resuming = lastId !== null;
    const ws = new WebSocket(url());
    socket = ws;
    if (resuming) stats.reconnects += 1;
    ws.addEventListener("message", (event) => {
      if (ws !== socket) return;
      const message = JSON.parse(event.data);
      if (typeof message.id === "number") lastId = Math.max(lastId ?? 0, message.id);
      if (message.type === "snapshot") {
        stats.snapshots += 1;
        stream = message.stream;
        lastId = message.id;
        onSnapshot(message);
      } else if (message.type === "call") {
        onCall(message.call);
      } else if (message.type === "turn") {
        onTurn(message.turn);
      } else if (message.type === "step") {
        onStep(message.step);
      } else if (message.type === "program") {
        onProgram(message);
      }
      if (state !== "live") {
        attempt = 0;
        show("live", "Live");
      }
    });
    ws.addEventListener("close", (event) => {
      if (ws !== socket || finished) return;
      socket = null;
      if (event.code === SIGNED_OUT) {
        finished = true;
        show("signed-out", "Signed out.");
      } else if (event.code === NOT_FOUND || event.code === BAD_REQUEST) {
        finished = true;
        show("gone", "This call no longer exists.");
      } else {
        retry();
      }
    });
  }

  function retry() {
    const backoff = Math.min(MAX_BACKOFF_MS, 500 * 2 ** attempt) * (0.5 + Math.random() / 2);
    const delay = Math.max(backoff, holdUntil - Date.now());
    attempt += 1;
    show("reconnecting", "Reconnecting…");
    retryTimer = setTimeout(connect, delay);
  }

  // Back online or back on the tab: don't wait for the backoff timer.
  const hurry = () => {
    if (!finished && retryTimer !== null && Date.now() >= holdUntil) connect();
  };
  window.addEventListener("online", hurry);
  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "visible") hurry();
  });

  connect();
  return {
    drop(holdMs = 0) {
      holdUntil = Date.now() + holdMs;
      socket?.close();
    },
    state: () => state,
    stats,
  };
}
