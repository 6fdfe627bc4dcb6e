// The Today view: when a check-in, an escalation or a call changes, fetch the board again from
// the server (/today/fragment) and swap it in. One renderer (the server's template) for the
// first paint and every update; a burst of events costs one fetch.
import { followFeed } from "./live.js";

const DEBOUNCE_MS = 250;
const board = document.getElementById("today-board");
let timer = null;
let inFlight = false;
let again = false;

async function refresh() {
  if (inFlight) {
    again = true;
    return;
  }
  inFlight = true;
  try {
    const response = await fetch("/today/fragment", { credentials: "same-origin" });
    if (response.ok && !response.redirected) {
      const html = await response.text();
      // Keep the keyboard where it was when the board is replaced under it.
      const focused = document.activeElement?.closest("[data-escalation-id]")?.dataset.escalationId;
      board.innerHTML = html;
      board.dataset.refreshed = String(Number(board.dataset.refreshed ?? 0) + 1);
      if (focused) board.querySelector(`[data-escalation-id="${focused}"] button`)?.focus();
    }
  } catch {
    // Offline: the feed's indicator says so, and the next event or reconnect refreshes.
  } finally {
    inFlight = false;
    if (again) {
      again = false;
      soon();
    }
  }
}

function soon() {
  clearTimeout(timer);
  timer = setTimeout(refresh, DEBOUNCE_MS);
}

let snapshots = 0;
followFeed({
  // The first snapshot is the page as rendered; a later one follows a gap in the feed.
  onSnapshot: () => {
    snapshots += 1;
    if (snapshots > 1) soon();
  },
  onCall: soon,
  onProgram: soon,
});
