// "Talk to it": the browser's microphone and speaker over WebRTC to carecall's bot, and the
// talk's transcript as it is said (the same live feed as a call's page).
import { followFeed, postJSON, timeElement } from "./live.js";

const startButton = document.getElementById("talk-start");
const hangupButton = document.getElementById("talk-hangup");
const stateBadge = document.getElementById("talk-state");
const errorBox = document.getElementById("talk-error");
const audio = document.getElementById("talk-audio");
const callLink = document.getElementById("talk-call-link");
const feedBox = document.getElementById("talk-feed");
const transcript = document.getElementById("transcript");
const template = document.getElementById("turn-template");
const noTurns = document.getElementById("no-turns");

const GATHERING_TIMEOUT_MS = 3000;
const STATES = {
  idle: ["Not connected", "secondary"],
  asking: ["Waiting for the microphone…", "info"],
  connecting: ["Connecting…", "info"],
  talking: ["Talking", "primary"],
  ended: ["Ended", "success"],
  failed: ["Not connected", "danger"],
};

let talk = null; // {pc, microphone, callId, feed}

function show(state) {
  const [label, tone] = STATES[state];
  stateBadge.dataset.state = state;
  stateBadge.className = `badge rounded-pill badge-status text-bg-${tone}${state === "talking" ? " is-live" : ""}`;
  stateBadge.textContent = label;
  const busy = state === "asking" || state === "connecting" || state === "talking";
  startButton.hidden = busy;
  startButton.textContent = state === "idle" ? "Talk to it" : "Talk again";
  hangupButton.hidden = !busy || state === "asking";
  // Keep the keyboard's place: the button pressed may just have been hidden.
  if (state === "connecting") hangupButton.focus();
}

function fail(message) {
  errorBox.textContent = message;
  errorBox.hidden = false;
  end("failed");
}

function end(state = "ended") {
  if (talk) {
    talk.pc?.close();
    for (const track of talk.microphone?.getTracks() ?? []) track.stop();
    talk.pc = null;
  }
  show(state);
  startButton.focus();
}

function addTurn(turn) {
  if (transcript.querySelector(`.turn[data-sequence="${turn.sequence}"]`)) return;
  const item = template.content.querySelector(".turn").cloneNode(true);
  item.className = `turn turn-${turn.role}`;
  item.dataset.sequence = turn.sequence;
  item.querySelector(".turn-speaker").textContent = turn.role === "user" ? "You" : turn.speaker;
  item.querySelector(".turn-time").replaceChildren(timeElement(turn.started_at, "time"));
  const latency = item.querySelector(".turn-latency");
  latency.hidden = turn.latency_ms === null || turn.latency_ms === undefined;
  if (!latency.hidden) {
    latency.dataset.ms = turn.latency_ms;
    latency.title = `${turn.latency_ms} ms after you stopped speaking`;
    item.querySelector(".turn-latency-seconds").textContent = `${(turn.latency_ms / 1000).toFixed(1)} s`;
  }
  item.querySelector(".turn-interrupted").hidden = !turn.interrupted;
  item.querySelector(".turn-text").textContent = turn.text;
  item.querySelector(".turn-backchannels").hidden = !turn.backchannels;
  item.querySelector(".turn-backchannels-text").textContent = turn.backchannels || "";
  const next = [...transcript.children].find((row) => Number(row.dataset.sequence) > turn.sequence);
  transcript.insertBefore(item, next ?? null);
  noTurns.hidden = true;
}

async function askForMicrophone() {
  if (!navigator.mediaDevices?.getUserMedia) {
    throw new Error("This browser can't use a microphone here (it needs https or localhost).");
  }
  try {
    return await navigator.mediaDevices.getUserMedia({
      audio: { echoCancellation: true, noiseSuppression: true, autoGainControl: true },
    });
  } catch (error) {
    if (error.name === "NotAllowedError" || error.name === "SecurityError") {
      throw new Error("Carecall may not use the microphone. Allow it for this site (the icon in the address bar) and press “Talk to it” again.");
    }
    if (error.name === "NotFoundError" || error.name === "OverconstrainedError") {
      throw new Error("No microphone was found. Connect one and press “Talk to it” again.");
    }
    if (error.name === "NotReadableError") {
      throw new Error("The microphone is busy in another program. Close it there and try again.");
    }
    throw new Error(`The microphone could not be opened (${error.name}).`);
  }
}

function gatheringDone(pc) {
  // No STUN server: host candidates only, gathered at once; the offer carries them all.
  if (pc.iceGatheringState === "complete") return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, GATHERING_TIMEOUT_MS);
    pc.addEventListener("icegatheringstatechange", () => {
      if (pc.iceGatheringState === "complete") {
        clearTimeout(timer);
        resolve();
      }
    });
  });
}

function followCall(callId) {
  callLink.href = `/calls/${callId}`;
  callLink.hidden = false;
  feedBox.hidden = false;
  transcript.replaceChildren();
  noTurns.hidden = false;
  return followFeed({
    callId,
    onSnapshot(snapshot) {
      for (const turn of snapshot.turns) addTurn(turn);
    },
    onCall(call) {
      if (talk?.callId === callId && !call.live && stateBadge.dataset.state === "talking") end();
    },
    onTurn: addTurn,
  });
}

async function start() {
  errorBox.hidden = true;
  talk = { pc: null, microphone: null, callId: null };
  const mine = talk;
  show("asking");
  try {
    mine.microphone = await askForMicrophone();
  } catch (error) {
    return fail(error.message);
  }
  show("connecting");
  const pc = new RTCPeerConnection({ iceServers: [] });
  mine.pc = pc;
  window.carecallTalk = mine; // tests read the connection's statistics
  pc.addTransceiver(mine.microphone.getAudioTracks()[0], {
    direction: "sendrecv",
    streams: [mine.microphone],
  });
  // carecall says on this channel when it ends the talk (after the bot's goodbye).
  const channel = pc.createDataChannel("carecall");
  channel.addEventListener("message", (event) => {
    let message = null;
    try {
      message = JSON.parse(event.data);
    } catch {
      return;
    }
    if (mine === talk && message?.type === "signalling" && message.message?.type === "peerLeft") end();
  });
  pc.addEventListener("track", (event) => {
    audio.srcObject = event.streams[0] ?? new MediaStream([event.track]);
    audio.play().catch(() => {}); // the click allowed playback; autoplay covers the rest
  });
  pc.addEventListener("connectionstatechange", () => {
    if (mine !== talk) return;
    if (pc.connectionState === "connected") show("talking");
    if (pc.connectionState === "failed") {
      fail("The audio connection failed: this browser could not reach carecall directly (no relay server is used). Try from the same network as carecall.");
    }
    if (pc.connectionState === "closed" && stateBadge.dataset.state === "talking") end();
  });
  try {
    await pc.setLocalDescription(await pc.createOffer());
    await gatheringDone(pc);
  } catch (error) {
    return fail(`The browser could not prepare the audio connection (${error.message}).`);
  }
  const result = await postJSON("/api/webrtc/offer", { sdp: pc.localDescription.sdp, type: "offer" });
  if (mine !== talk || !mine.pc) return;
  if (!result.ok) return fail(result.detail);
  mine.callId = result.data.call_id;
  talk.feed = followCall(mine.callId);
  try {
    await pc.setRemoteDescription({ type: "answer", sdp: result.data.sdp });
  } catch (error) {
    fail(`carecall's answer could not be used (${error.message}).`);
  }
}

startButton.addEventListener("click", start);
hangupButton.addEventListener("click", () => end());
window.addEventListener("pagehide", () => talk?.pc?.close());
show("idle");
