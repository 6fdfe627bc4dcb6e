"""Turn-taking benchmark: does the bot answer like an attentive person?

    .venv/bin/python -m bench.turns [--quick | --items N] [--targets carecall reference]
        [--settings default-silence default-noise realistic] [--calls 6] [--json PATH]
        [--env KEY=VALUE ...]

It plays the corpus of ``bench/data/turns.jsonl`` (check-in answers, complete or with pauses
at natural places, backchannels and interruptions; see `bench.turn_corpus`) through simulated
Twilio callers in real time (the real Media Streams protocol, `bench.calls`' servers and
fakes) against carecall and against the plain pipecat bot (`bench/reference_bot.py`, Smart
Turn), in one run, under three settings: the default fakes with digitally silent pauses, the
same with line noise, and slower, realistic fakes. Per item it measures (`bench.turn_metrics`):

* cut-in: the bot's audio started after the caller's first voiced frame and before its last;
* answer latency: the caller's last voiced frame → the bot's first audible audio;
* backchannel false stop: a ``clear``, or the bot's answer ending, within 1 s of a backchannel,
  unless the bot took its answer up again (it paused: how long the caller heard silence is
  reported too);
* interruption time to silence: the interruption's first voiced frame → ``clear`` or the end
  of the bot's audio;

and per server: its CPU-s per call-minute and the chat requests per caller turn at the fake
(requests beyond one per turn are preemptive replies that were thrown away; ``abandoned``
counts those the client stopped reading mid-stream). It prints a table per setting, tuning and
held-out items apart, and exits 1 only on functional errors (a failed call, a caller turn the
bot never answered, errors in a server's log), never on timings. See bench/README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from bench.calls import (
    GOODBYE,
    CallContext,
    CallResult,
    bench_context,
    count_log_lines,
    kill_leftovers,
    percentile,
    prepare_speech,
    run_call,
)
from bench.compare import machine
from bench.turn_corpus import (
    ANSWER_KINDS,
    KINDS,
    SPLITS,
    Item,
    Line,
    Renderer,
    Segment,
    VoiceSpec,
    load_corpus,
    voice_for,
)
from bench.turn_metrics import (
    BotAudio,
    Spoken,
    answer_latency,
    backchannel_pause,
    cut_in,
    false_stop,
    talking_at,
    time_to_silence,
)
from carecall.bot.speech import first_clause
from tests.fakes.openai_server import echo_reply, voice_envelope
from tests.fakes.twilio_caller import FRAME_SECONDS, SimulatedCaller

ANNOUNCE_AFTER_VOICE_S = 0.05
QUIET_AFTER_ANSWER_S = 1.0
"""Before the next item, the bot has been silent this long (its answer is over)."""
QUIET_AFTER_BARGE_S = 3.5
"""After a backchannel or interruption the bot may still answer it (a second or two later)."""
ITEMS_PER_CALL = 16
"""A call takes this many items, then says goodbye (calls stay well under carecall's limit)."""
ECHO_WORDS = 5
"""The fake LLM echoes this many of the caller's words: answers of 5-6 s for every item, long
enough to talk over, short enough to keep the run short."""
TONE_SECONDS_PER_CHAR, TONE_MIN_SECONDS = 0.06, 0.5
"""The fake's tone speech (`tests.fakes.openai_server.tone_pcm`): how long an answer lasts."""


@dataclass(frozen=True)
class Setting:
    """One way to run the corpus: the line and the fake services' speeds."""

    name: str
    noisy: bool
    stt: float
    llm: float
    tts: float
    tokens_per_second: float
    kinds: tuple[str, ...]


SETTINGS: dict[str, Setting] = {
    s.name: s
    for s in (
        Setting("default-silence", False, 0.15, 0.30, 0.15, 40, KINDS),
        Setting("default-noise", True, 0.15, 0.30, 0.15, 40, KINDS),
        Setting("realistic", True, 0.30, 0.45, 0.25, 60, ("complete-short", "complete-long")),
    )
}


@dataclass
class ItemResult:
    """One item as one server answered it; times in seconds from the call's stream connect."""

    id: str
    kind: str
    split: str
    voice: str
    setting: str
    target: str
    call: int
    ok: bool = False
    error: str | None = None
    cut_in: bool | None = None
    latency_s: float | None = None
    false_stop: bool | None = None
    pause_s: float | None = None
    """A backchannel the bot paused for (held its audio) and went on after: the silence heard."""
    silence_s: float | None = None
    answered: bool | None = None
    segments_s: list[tuple[float, float]] = field(default_factory=list)
    """The caller's voice: (first, last voiced frame sent) per segment."""
    bot_s: list[tuple[float, float]] = field(default_factory=list)
    """The bot's audible audio around the item: (start, end) per stretch."""
    clears_s: list[float] = field(default_factory=list)


@dataclass
class ServerRun:
    """One server under one setting: its items and what it cost."""

    setting: str
    target: str
    items: list[ItemResult]
    calls: int = 0
    failed_calls: int = 0
    call_errors: list[str] = field(default_factory=list)
    call_minutes: float = 0.0
    server_cpu_s: float = 0.0
    caller_turns: int = 0
    chat_requests: int = 0
    chats_abandoned: int = 0
    log_errors: int = 0
    wall_s: float = 0.0

    @property
    def cpu_per_call_minute(self) -> float | None:
        return self.server_cpu_s / self.call_minutes if self.call_minutes else None

    @property
    def unanswered(self) -> int:
        return sum(r.answered is False for r in self.items)


# ---------------------------------------------------------------------------------- one caller


@dataclass
class Player:
    """One simulated call's voice and ears: plays corpus items and records what it heard."""

    ctx: CallContext
    caller: SimulatedCaller
    line: Line
    wait_s: float
    bot: BotAudio = field(default_factory=BotAudio)
    announced: list[str] = field(default_factory=list)
    """What this caller told the fake speech-to-text it said, since `withdraw_unheard`."""
    _clears_seen: int = 0

    def __post_init__(self) -> None:
        self.caller.media_listener = self._on_media
        self.caller.idle_frames = self.line.idle_frames

    def _on_media(self, at: float, ulaw: bytes) -> None:
        self.sync_clears()
        self.bot.on_media(at, ulaw)

    def sync_clears(self) -> None:
        for at in self.caller.clear_times[self._clears_seen :]:
            self.bot.on_clear(at)
        self._clears_seen = len(self.caller.clear_times)

    async def _announce(self, text: str, envelope: np.ndarray) -> None:
        """Tell the fake speech-to-text what was said, and how it sounded (the voices are not
        its own espeak-ng, and several calls' words may be pending at once)."""
        if text:
            self.announced.append(text)
            body = {"text": text, "envelope": [round(float(v), 3) for v in envelope]}
            await self.ctx.voices.openai_control.post("/control/said", json=body)

    async def withdraw_unheard(self) -> int:
        """Take back what the server never asked to have transcribed (it heard no speech),
        so that the fake's queue stays in step for everyone; returns how many."""
        withdrawn = [text for text in self.announced if await self._withdraw(text)]
        self.announced.clear()
        return len(withdrawn)

    async def _withdraw(self, text: str) -> bool:
        if not text:
            return False
        answer = await self.ctx.voices.openai_control.post("/control/unsay", json={"text": text})
        return bool(answer.json().get("removed"))

    async def speak(self, segments: Sequence[tuple[Segment, np.ndarray]]) -> Spoken:
        """Say the segments with their pauses on the real-time grid. Each segment's words are
        announced to the fake speech-to-text 50 ms after its voice ends; a segment the server
        has not transcribed by the time the next begins is taken back and announced with it."""
        speech = [self.line.speech(pcm) for _, pcm in segments]
        # Voices of different calls that end together make the fake guess which is which.
        await asyncio.sleep(self.ctx.voices.spacer.delay_before(len(speech[0]) * FRAME_SECONDS))
        sends: list[tuple[asyncio.Task[dict[int, float]], asyncio.Task[dict[int, float]] | None]]
        sends = []
        for (segment, _), frames in zip(segments, speech, strict=True):
            voice = asyncio.create_task(self.caller.send_frames(frames, watch=[0]))
            pause = None
            if segment.pause_after:
                pause = asyncio.create_task(
                    self.caller.send_frames(self.line.pause(segment.pause_after))
                )
            sends.append((voice, pause))
        spans: list[tuple[float, float]] = []
        carried, carried_envelope = "", np.zeros(0)
        try:
            for (segment, pcm), frames, (voice, pause) in zip(segments, speech, sends, strict=True):
                sent = await voice
                if len(sent) < min(2, len(frames)):
                    raise ConnectionError("the call ended while the caller was speaking")
                spans.append((sent[0], sent[len(frames) - 1]))
                text = f"{carried} {segment.transcript}".strip()
                envelope = np.concatenate(
                    [carried_envelope, voice_envelope(pcm.astype("<i2").tobytes(), 8000)]
                )
                await asyncio.sleep(ANNOUNCE_AFTER_VOICE_S)
                await self._announce(text, envelope)
                carried, carried_envelope = "", np.zeros(0)
                if pause is not None:
                    await pause
                    if await self._withdraw(text):
                        silent = np.zeros(round(segment.pause_after / FRAME_SECONDS))
                        carried, carried_envelope = text, np.concatenate([envelope, silent])
        finally:
            for voice, pause in sends:
                voice.cancel()
                if pause is not None:
                    pause.cancel()
        return Spoken(tuple(spans))

    async def wait_quiet(self, seconds: float) -> None:
        """Until the bot has been silent for ``seconds`` (or `wait_s` has passed)."""
        deadline = time.monotonic() + self.wait_s
        while time.monotonic() < deadline and not self.caller.closed:
            self.sync_clears()
            if time.monotonic() - self.bot.quiet_since() >= seconds:
                return
            await asyncio.sleep(0.05)

    async def wait_answer(self, after: float, *, playing_counts: bool = True) -> float | None:
        """When the bot's audio was first heard after ``after`` (audio already playing then
        counts if ``playing_counts``, else only a new stretch), or None if there was none
        for `wait_s`."""
        deadline = after + self.wait_s
        while time.monotonic() < deadline and not self.caller.closed:
            self.sync_clears()
            if playing_counts and talking_at(after, self.bot.spans) is not None:
                return after
            later = [s.start for s in self.bot.spans if s.start >= after]
            if later:
                return min(later)
            await asyncio.sleep(0.02)
        return None


def reply_seconds(lead: str, echo_words: int) -> float:
    """How long the fake's tone speech of the bot's answer to ``lead`` lasts, piece by piece
    (each is its own speech request: the first clause, then sentences, as
    `bot.speech.FirstClauseAggregator` gives them to the voice)."""
    reply = echo_reply(" ".join(lead.split()[:echo_words]))
    sentences = [s for s in re.split(r"(?<=[.!?])\s+", reply) if s]
    clause = first_clause(sentences[0]) if sentences else None
    if clause is not None:
        sentences[:1] = [clause, sentences[0][len(clause) :].strip()]
    return sum(max(TONE_MIN_SECONDS, TONE_SECONDS_PER_CHAR * len(s)) for s in sentences)


async def play_item(
    player: Player, item: Item, voice: VoiceSpec, renderer: Renderer, result: ItemResult
) -> None:
    """Play one item and fill in ``result`` (measures, and ``answered``)."""
    audio = [(s, renderer.pcm(voice, s.text)) for s in item.segments]
    answers_at = None
    if item.lead is not None and item.at_s is not None:
        lead_segment = Segment(item.lead, 0.0)
        lead = await player.speak([(lead_segment, renderer.pcm(voice, item.lead))])
        onset = await player.wait_answer(lead.last_voice, playing_counts=False)
        result.answered = onset is not None
        if onset is None:
            return
        answers_at = onset + reply_seconds(item.lead, ECHO_WORDS)
        await asyncio.sleep(max(0.0, onset + item.at_s - time.monotonic()))
    spoken = await player.speak(audio)
    if item.kind in ANSWER_KINDS:
        result.answered = await player.wait_answer(spoken.last_voice) is not None
        await player.wait_quiet(QUIET_AFTER_ANSWER_S)
    else:
        await player.wait_quiet(QUIET_AFTER_BARGE_S)
    await player.withdraw_unheard()
    player.sync_clears()
    spans, clears = player.bot.spans, player.bot.clears
    result.cut_in = cut_in(spoken, spans)
    if item.kind in ANSWER_KINDS:
        result.latency_s = answer_latency(spoken, spans, within=player.wait_s)
    elif item.kind == "backchannel" and answers_at is not None:
        result.false_stop = false_stop(spoken, spans, clears, answers_at)
        result.pause_s = backchannel_pause(spoken, spans, clears, answers_at)
    elif item.kind == "interruption":
        result.silence_s = time_to_silence(spoken, spans, clears)
    t0 = player.caller.connected_at
    start = spoken.first_voice - 5.0
    result.segments_s = [(round(a - t0, 3), round(b - t0, 3)) for a, b in spoken.segments]
    result.bot_s = [(round(s.start - t0, 3), round(s.end - t0, 3)) for s in spans if s.end > start]
    result.clears_s = [round(c - t0, 3) for c in clears if c > start]
    result.ok = True


# ---------------------------------------------------------------------------------- calls


@dataclass
class Plan:
    """What one server plays under one setting."""

    setting: Setting
    items: list[tuple[Item, VoiceSpec]]
    renderer: Renderer
    calls: int
    wait_s: float


async def call_slot(
    ctx: CallContext,
    plan: Plan,
    queue: asyncio.Queue[tuple[Item, VoiceSpec]],
    run: ServerRun,
    slot: int,
) -> None:
    """One concurrent caller: calls again and again, `ITEMS_PER_CALL` items a call, until the
    queue is empty."""
    line = Line(plan.setting.noisy)
    while not queue.empty():
        index = slot * 1000 + run.calls
        run.calls += 1
        call = CallResult(index)
        caller: SimulatedCaller | None = None
        try:
            caller = await ctx.target.dial(ctx, call)
            player = Player(ctx, caller, line, plan.wait_s)
            if await player.wait_answer(caller.connected_at, playing_counts=False) is None:
                raise TimeoutError("no greeting")
            await player.wait_quiet(QUIET_AFTER_ANSWER_S)
            for _ in range(ITEMS_PER_CALL):
                if queue.empty():
                    break
                item, voice = queue.get_nowait()
                result = ItemResult(
                    item.id,
                    item.kind,
                    item.split,
                    voice.name,
                    plan.setting.name,
                    ctx.target.name,
                    index,
                )
                run.items.append(result)
                run.caller_turns += 2 if item.lead else 1
                try:
                    await play_item(player, item, voice, plan.renderer, result)
                except Exception as exc:
                    result.error = f"{type(exc).__name__}: {exc}"
                    raise
                if result.answered is False:
                    result.error = "the bot never answered"
            await ctx.voices.speak(caller, GOODBYE)
            await ctx.target.finish_call(ctx, caller)
            call.duration_s = time.monotonic() - caller.connected_at
            await ctx.target.after_call(ctx, caller, call)
        except Exception as exc:
            run.failed_calls += 1
            run.call_errors.append(f"call {index}: {type(exc).__name__}: {exc}")
            if caller is not None:
                with contextlib.suppress(Exception):
                    await caller.hang_up()
        if caller is not None:
            run.call_minutes += (time.monotonic() - caller.connected_at) / 60


async def chat_counts(ctx: CallContext) -> tuple[int, int]:
    counts = (await ctx.voices.openai_control.get("/control/counts")).json()
    return int(counts["chat_requests"]), int(counts["chats_abandoned"])


async def run_server(
    args: argparse.Namespace, plan: Plan, target: str, workdir: Path, speech: dict[str, float]
) -> ServerRun:
    """Start ``target`` with the setting's fakes; a warm-up call (also: the chat requests a
    call makes besides its turns); then the items over ``plan.calls`` concurrent callers."""
    setting = plan.setting
    options = argparse.Namespace(
        target=target,
        stt_latency=setting.stt,
        llm_latency=setting.llm,
        tts_latency=setting.tts,
        tokens_per_second=setting.tokens_per_second,
        echo_words=ECHO_WORDS,
        server_env=args.server_env if target == "carecall" else {},
        speech_gap=args.speech_gap,
        wait=plan.wait_s,
    )
    run = ServerRun(setting.name, target, [])
    tag = f"{setting.name}-{target}"
    async with bench_context(options, workdir, tag, speech) as ctx:
        before_warm_up = await chat_counts(ctx)
        warm_up = await run_call(ctx, -1, 0, 0.0)
        if not warm_up.ok:
            raise RuntimeError(f"the warm-up call failed: {warm_up.error}")
        await asyncio.sleep(1.0)
        chats, abandoned = await chat_counts(ctx)
        per_call = chats - before_warm_up[0]
        queue: asyncio.Queue[tuple[Item, VoiceSpec]] = asyncio.Queue()
        for entry in plan.items:
            queue.put_nowait(entry)
        cpu_before = ctx.stack.server.cpu_seconds()
        started = time.monotonic()
        slots = [call_slot(ctx, plan, queue, run, slot) for slot in range(plan.calls)]
        await asyncio.gather(*slots)
        run.wall_s = time.monotonic() - started
        run.server_cpu_s = ctx.stack.server.cpu_seconds() - cpu_before
        await asyncio.sleep(1.0)
        after = await chat_counts(ctx)
        run.chat_requests = after[0] - chats - per_call * run.calls
        run.chats_abandoned = after[1] - abandoned
        run.log_errors = count_log_lines(ctx.stack.server)[0]
        if run.log_errors or run.failed_calls:
            print(f"\n--- last lines of the {target} log ---", file=sys.stderr)
            print(ctx.stack.server.log_tail(40), file=sys.stderr)
    return run


# ---------------------------------------------------------------------------------- report


def pct(flags: Iterable[bool | None]) -> str:
    values = [f for f in flags if f is not None]
    return f"{100 * sum(values) / len(values):.0f} %" if values else "-"


def ms_pair(values: Sequence[float]) -> str:
    p50, p95 = percentile(values, 50), percentile(values, 95)
    if p50 is None or p95 is None:
        return "-"
    return f"{p50 * 1000:.0f}/{p95 * 1000:.0f}"


def table_rows(runs: Sequence[ServerRun]) -> list[list[str]]:
    rows = []
    for run in runs:
        for split in SPLITS:
            for kind in KINDS:
                items = [r for r in run.items if r.split == split and r.kind == kind and r.ok]
                if not items:
                    continue
                latencies = [r.latency_s for r in items if r.latency_s is not None]
                silences = [r.silence_s for r in items if r.silence_s is not None]
                pauses = [r.pause_s for r in items if r.pause_s is not None]
                rows.append(
                    [
                        run.target,
                        split,
                        kind,
                        str(len(items)),
                        pct(r.cut_in for r in items),
                        ms_pair(latencies),
                        pct(r.false_stop for r in items) if kind == "backchannel" else "",
                        pct(None if r.false_stop is None else r.pause_s is not None for r in items)
                        + " "
                        + ms_pair(pauses)
                        if kind == "backchannel"
                        else "",
                        ms_pair(silences),
                        pct(s <= 0.3 for s in silences) if silences else "",
                    ]
                )
    return rows


HEADER = [
    "server",
    "split",
    "kind",
    "n",
    "cut-in",
    "latency p50/p95 ms",
    "bc false stop",
    "bc paused, p50/p95 ms",
    "to silence p50/p95 ms",
    "silent ≤300ms",
]


def markdown(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]

    def line(cells: Sequence[str]) -> str:
        return "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)) + " |"

    rule = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    return "\n".join([line(header), rule, *(line(r) for r in rows)])


def cost_rows(runs: Sequence[ServerRun]) -> list[list[str]]:
    rows = []
    for run in runs:
        cpu = run.cpu_per_call_minute
        turns = run.caller_turns or 1
        rows.append(
            [
                run.target,
                f"{run.calls}/{run.failed_calls}",
                str(run.unanswered),
                "-" if cpu is None else f"{cpu:.2f}",
                f"{run.chat_requests / turns:.2f}",
                f"{run.chats_abandoned / turns:.2f}",
                str(run.log_errors),
                f"{run.wall_s:.0f}",
            ]
        )
    return rows


COST_HEADER = [
    "server",
    "calls/failed",
    "unanswered",
    "CPU-s/call-min",
    "chats/turn",
    "abandoned/turn",
    "log errors",
    "wall s",
]


def print_setting(setting: Setting, runs: Sequence[ServerRun]) -> None:
    print(
        f"\n== {setting.name}: pauses {'with line noise' if setting.noisy else 'digitally silent'}"
        f"; STT {setting.stt * 1000:.0f} ms, first token {setting.llm * 1000:.0f} ms at "
        f"{setting.tokens_per_second:.0f} tokens/s, TTS first byte {setting.tts * 1000:.0f} ms\n"
    )
    print(markdown(HEADER, table_rows(runs)))
    print()
    print(markdown(COST_HEADER, cost_rows(runs)))
    for run in runs:
        for error in run.call_errors:
            print(f"  {run.target} FAILED {error}")


def _held_out(run: ServerRun, kinds: Sequence[str]) -> list[ItemResult]:
    return [r for r in run.items if r.ok and r.split == "held-out" and r.kind in kinds]


def _share(flags: Iterable[bool | None]) -> float | None:
    values = [f for f in flags if f is not None]
    return sum(values) / len(values) if values else None


def _figure(run: ServerRun | None, kinds: Sequence[str], measure: str) -> float | None:
    """One server's figure on its held-out items of ``kinds``: "cut-in" or "false-stop" (a
    share), "latency50"/"latency95" or "silence95" (seconds)."""
    if run is None:
        return None
    items = _held_out(run, kinds)
    if measure == "cut-in":
        return _share(r.cut_in for r in items)
    if measure == "false-stop":
        return _share(r.false_stop for r in items)
    values = [r.latency_s if measure.startswith("latency") else r.silence_s for r in items]
    return percentile([v for v in values if v is not None], 95 if measure.endswith("95") else 50)


_COMPLETE = ("complete-short", "complete-long")
_TARGETS: dict[str, tuple[tuple[str, Sequence[str], str, float | None, str], ...]] = {
    "default": (
        ("cut-in, paused ≤ 5 %", ["paused"], "cut-in", 0.05, "%"),
        ("cut-in, complete = 0", _COMPLETE, "cut-in", 0.0, "%"),
        ("latency p50 ≤ 1.0 s", _COMPLETE, "latency50", 1.0, "ms"),
        ("latency p95 ≤ 1.4 s", _COMPLETE, "latency95", 1.4, "ms"),
        ("latency p50 ≤ reference's", _COMPLETE, "latency50", None, "ms"),
        ("backchannel stops ≤ 5 %", ["backchannel"], "false-stop", 0.05, "%"),
        ("interruption silent p95 ≤ 300 ms", ["interruption"], "silence95", 0.3, "ms"),
    ),
    "realistic": (("latency p50 ≤ 1.4 s", _COMPLETE, "latency50", 1.4, "ms"),),
}


def target_rows(runs: Sequence[ServerRun]) -> list[list[str]]:
    """Issue 16's targets, on the held-out items, carecall's figure with the reference's
    beside it (a limit of None: the reference's own figure): what to look at, not what fails
    the run."""
    rows: list[list[str]] = []
    for setting in dict.fromkeys(run.setting for run in runs):
        by_target = {run.target: run for run in runs if run.setting == setting}
        targets = _TARGETS["realistic" if setting == "realistic" else "default"]
        for name, kinds, measure, limit, unit in targets:
            ours = _figure(by_target.get("carecall"), kinds, measure)
            theirs = _figure(by_target.get("reference"), kinds, measure)
            bound = theirs if limit is None else limit
            scale, suffix = (100, " %") if unit == "%" else (1000, " ms")
            shown = ["-" if v is None else f"{v * scale:.0f}{suffix}" for v in (ours, theirs)]
            verdict = "-" if ours is None or bound is None else "PASS" if ours <= bound else "FAIL"
            rows.append([setting, name, *shown, verdict])
    return rows


TARGET_HEADER = ["setting", "target (held-out items)", "carecall", "reference", "carecall meets it"]


def functional_errors(run: ServerRun) -> int:
    """carecall's failed calls and turns never answered, and errors in a server's log: what
    fails the benchmark. Timings never do; nor does the reference's turn-taking, which is a
    figure (Smart Turn may wait for more, even after a goodbye: its calls are then counted
    failed, and printed)."""
    if run.target != "carecall":
        return run.log_errors
    return run.failed_calls + run.unanswered + run.log_errors


# ---------------------------------------------------------------------------------- main


def pick_items(corpus: list[Item], kinds: Sequence[str], count: int | None) -> list[Item]:
    """The items of ``kinds``, or ``count`` of them taken evenly across kinds and splits (so a
    short run still sees every kind)."""
    chosen = [item for item in corpus if item.kind in kinds]
    if count is None or count >= len(chosen):
        return chosen
    groups = [[i for i in chosen if i.kind == k] for k in kinds]
    picked: list[Item] = []
    while len(picked) < count:
        for group in groups:
            if group and len(picked) < count:
                picked.append(group.pop(0 if len(picked) % 2 else len(group) // 2))
    return picked


def interleave(items: list[tuple[Item, VoiceSpec]]) -> list[tuple[Item, VoiceSpec]]:
    """Mix the kinds, so that every call hears some of each and no server gets the easy ones
    at the end (a fixed order: the same for every server)."""
    order = np.random.default_rng(16).permutation(len(items))
    return [items[i] for i in order]


def parse_env(values: Sequence[str]) -> dict[str, str]:
    env = {}
    for value in values:
        key, sep, setting = value.partition("=")
        if not sep or not key:
            raise argparse.ArgumentTypeError(f"--env takes KEY=VALUE, not {value!r}")
        env[key] = setting
    return env


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.turns",
        description="Turn-taking benchmark: cut-ins, answer latency, backchannels, interruptions.",
    )
    parser.add_argument(
        "--targets",
        nargs="+",
        choices=("carecall", "reference"),
        default=["reference", "carecall"],
    )
    parser.add_argument("--settings", nargs="+", choices=sorted(SETTINGS), default=list(SETTINGS))
    parser.add_argument("--items", type=int, metavar="N", help="only N items per setting")
    parser.add_argument("--quick", action="store_true", help="= --items 20")
    parser.add_argument("--ids", nargs="+", metavar="ID", help="only these items")
    parser.add_argument("--calls", type=int, default=8, metavar="N", help="concurrent calls")
    parser.add_argument("--wait", type=float, default=20.0, metavar="S", help="longest wait")
    parser.add_argument("--speech-gap", type=float, default=0.25, metavar="S")
    parser.add_argument(
        "--env",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a setting for the carecall server (repeatable)",
    )
    parser.add_argument("--corpus", type=Path, default=None, help="another corpus file")
    parser.add_argument("--json", type=Path, metavar="PATH", help="write every item's result")
    parser.add_argument("--keep-logs", action="store_true")
    parser.add_argument(
        "--report", type=Path, metavar="PATH", help="print the tables of a --json file, run nothing"
    )
    args = parser.parse_args(argv)
    try:
        args.server_env = parse_env(args.env)
    except argparse.ArgumentTypeError as exc:
        parser.error(str(exc))
    if args.quick and args.items is None:
        args.items = 20
    if args.calls < 1 or (args.items is not None and args.items < 1):
        parser.error("--calls and --items must be ≥ 1")
    return args


async def bench(args: argparse.Namespace, workdir: Path) -> list[ServerRun]:
    task = asyncio.current_task()
    assert task is not None
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, task.cancel)
    corpus = load_corpus(args.corpus) if args.corpus else load_corpus()
    voices = {item.id: voice_for(index) for index, item in enumerate(corpus)}
    renderer = Renderer()
    speech = await asyncio.to_thread(prepare_speech)
    runs: list[ServerRun] = []
    for name in args.settings:
        setting = SETTINGS[name]
        chosen = [i for i in corpus if i.id in args.ids] if args.ids else corpus
        items = pick_items(chosen, setting.kinds, args.items)
        entries = interleave([(item, voices[item.id]) for item in items])
        print(f"\n… {name}: rendering {len(entries)} items", flush=True)
        await asyncio.to_thread(render_all, renderer, entries)
        plan = Plan(setting, entries, renderer, min(args.calls, len(entries)), args.wait)
        setting_runs = []
        for target in args.targets:
            print(
                f"… {name}: {target}, {len(entries)} items, {plan.calls} calls at once", flush=True
            )
            setting_runs.append(await run_server(args, plan, target, workdir, speech))
        print_setting(setting, setting_runs)
        runs += setting_runs
    return runs


def render_all(renderer: Renderer, entries: Sequence[tuple[Item, VoiceSpec]]) -> None:
    for item, voice in entries:
        for text in [s.text for s in item.segments] + ([item.lead] if item.lead else []):
            renderer.pcm(voice, text)


def write_json(path: Path, args: argparse.Namespace, runs: Sequence[ServerRun]) -> None:
    document: dict[str, Any] = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": " ".join(["python -m bench.turns", *sys.argv[1:]]),
        "machine": machine(),
        "settings": {name: asdict(SETTINGS[name]) for name in args.settings},
        "runs": [{**asdict(run), "cpu_s_per_call_minute": run.cpu_per_call_minute} for run in runs],
    }
    path.write_text(json.dumps(document, indent=2))


def load_runs(path: Path) -> list[ServerRun]:
    """The runs a ``--json`` file holds."""
    runs = []
    for raw in json.loads(path.read_text())["runs"]:
        fields = {k: v for k, v in raw.items() if k not in ("items", "cpu_s_per_call_minute")}
        items = [ItemResult(**item) for item in raw["items"]]
        runs.append(ServerRun(items=items, **fields))
    return runs


def print_report(runs: Sequence[ServerRun]) -> None:
    for name in dict.fromkeys(run.setting for run in runs):
        print_setting(SETTINGS[name], [run for run in runs if run.setting == name])
    print("\nIssue 16's targets:\n")
    print(markdown(TARGET_HEADER, target_rows(runs)))


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.report:
        print_report(load_runs(args.report))
        return 0
    workdir = Path(tempfile.mkdtemp(prefix="carecall-turns-"))
    try:
        runs = asyncio.run(bench(args, workdir))
    except (KeyboardInterrupt, asyncio.CancelledError):
        print(f"\ninterrupted; servers stopped; logs in {workdir}", file=sys.stderr)
        return 130
    except Exception as exc:
        print(f"\nbenchmark error: {type(exc).__name__}: {exc}\nlogs in {workdir}", file=sys.stderr)
        return 1
    finally:
        kill_leftovers()
    if args.json:
        write_json(args.json, args, runs)
    print("\nIssue 16's targets (figures, not failures):\n")
    print(markdown(TARGET_HEADER, target_rows(runs)))
    print(f"\n({os.cpu_count()} CPUs; {machine()})")
    failed = sum(functional_errors(run) for run in runs)
    if failed:
        print(f"\n{failed} functional error(s) (see above); logs in {workdir}", file=sys.stderr)
    elif args.keep_logs:
        print(f"\nlogs in {workdir}", file=sys.stderr)
    else:
        shutil.rmtree(workdir, ignore_errors=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
