"""Concurrent-call benchmark: N simulated phone calls against a real server process.

    .venv/bin/python -m bench.calls --calls 1 8 20 --turns 3 [--target reference]

For each N, one after another, it starts the fake OpenAI server (STT, LLM, TTS with set
latencies, TTS tone mode) and the server under test (``--target``):

* carecall (``uvicorn server:app``), with the fake Twilio REST server, pointed at both with
  OPENAI_BASE_URL and TWILIO_API_BASE_URL. The benchmark places each call through carecall's
  API and plays Twilio: signed status callbacks and voice webhook, then a simulated caller on
  the media stream the TwiML names; carecall hangs up after the caller's goodbye.
* reference (``uvicorn bench.reference_bot:app``): a plain pipecat Twilio bot. The simulated
  caller connects straight to its ``/ws`` and hangs up itself after the bot's answer to its
  goodbye.

After one warm-up call it runs N concurrent calls, the callers talking in real time, and
measures what callers hear (turn latency, greeting time, audio gaps) and what the server costs
(CPU per call-minute, memory per call). See bench/README.md for what each figure means.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import functools
import json
import math
import os
import re
import secrets
import shutil
import signal
import socket
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar

import httpx
import numpy as np
import psutil
from twilio.request_validator import RequestValidator

from carecall.cli import standalone_auth
from tests.fakes.openai_server import echo_reply, first_sentence_seconds
from tests.fakes.speech import ulaw_to_pcm16
from tests.fakes.twilio_caller import (
    FRAME_SECONDS,
    SimulatedCaller,
    _speech_frames,  # the callers' shared speech cache, filled before the clock starts
)

PYTHON = sys.executable
REPO_ROOT = Path(__file__).resolve().parent.parent
TO_NUMBER = "+14155550100"
FROM_NUMBER = "+15005550006"
GOODBYE = "Okay, goodbye"
SENTENCES = (
    "I slept well last night",
    "I had porridge for breakfast",
    "My knee is a little sore today",
    "My daughter visited on Sunday",
    "I took my pills this morning",
    "I went for a short walk",
    "The weather is lovely here",
    "I am watching the birds outside",
    "I feel a bit tired today",
    "I made soup for lunch",
    "My neighbour brought me flowers",
    "I read the newspaper after tea",
)
VOICE_RMS = 300
"""A 20 ms frame of the caller's speech louder than this (16-bit RMS) is voice; espeak-ng's
voice peaks at 7000-9000, its silence is near 0."""
ANNOUNCE_AFTER_VOICE_SECONDS = 0.05
RSS_SAMPLE_SECONDS = 0.25
STOP_GRACE_SECONDS = 10.0
MB = 1024 * 1024

_running: list[asyncio.subprocess.Process] = []
"""Every child process still running: killed on the way out, whatever happened."""


# ---------------------------------------------------------------------------------- results


@dataclass
class HeardSpeech:
    """One stretch of bot audio as the caller heard it (times from stream connect)."""

    start_s: float
    end_s: float
    audio_s: float
    underruns: int
    interrupted: bool


@dataclass
class CallResult:
    """One simulated call, as its caller experienced it."""

    index: int
    ok: bool = False
    error: str | None = None
    call_id: int | None = None
    said: list[str] = field(default_factory=list)
    said_end_s: list[float] = field(default_factory=list)
    """When the caller finished saying each sentence (s from stream connect)."""
    greeting_s: float | None = None
    """First bot audio − stream connect."""
    turn_latencies_s: list[float] = field(default_factory=list)
    """Per answer: first audio of the reply − the moment the caller finished speaking."""
    reply_at: list[float] = field(default_factory=list)
    """Per answer: monotonic time its first audio reached the caller."""
    overheads_s: list[float] = field(default_factory=list)
    """Per answer (carecall): first audio − (end-of-turn decision + the fake's LLM time to the
    end of the first sentence + its TTS first byte): what the pipeline itself added."""
    goodbye_latency_s: float | None = None
    """Same, for the goodbye (the end_call tool round trip, then the closing line)."""
    underruns: int = 0
    protocol_errors: int = 0
    clears: int = 0
    """Twilio `clear` messages: the bot stopped its own audio (it heard a barge-in)."""
    duration_s: float = 0.0
    """Stream connect → the socket closed: the bot hung up (carecall), the caller hung up
    after the bot's answer to its goodbye (reference), or the failure."""
    heard: list[HeardSpeech] = field(default_factory=list)
    stored_turns: list[str] = field(default_factory=list)
    """The call's turns as carecall stored them: "role: text" (+ " [interrupted]")."""
    end_reason: str | None = None
    transcript_ok: bool | None = None


@dataclass
class RunResult:
    """The figures for one N."""

    calls: int
    ok: int
    failed: int
    wall_s: float
    call_minutes: float
    turn_ms_p50: float | None
    turn_ms_p95: float | None
    turn_ms_max: float | None
    overhead_ms_p50: float | None
    overhead_ms_p95: float | None
    overhead_ms_max: float | None
    greeting_ms_p50: float | None
    greeting_ms_p95: float | None
    goodbye_ms_p50: float | None
    underruns: int
    protocol_errors: int
    transcript_mismatches: int
    """Finished calls whose stored user turns differ from the sentences said (0 for a target
    that stores nothing)."""
    wrong_end_reasons: int
    """Finished calls stored with an end reason other than the bot's hang-up (likewise)."""
    server_cpu_s: float
    server_cpu_s_per_call_minute: float | None
    server_cpu_pct_of_one_core: float
    server_rss_baseline_mb: float
    server_rss_peak_mb: float
    server_mb_per_call: float
    caller_cpu_s: float
    fake_openai_cpu_s: float
    fake_twilio_cpu_s: float
    """0 for the reference bot, which runs without the fake Twilio."""
    server_log_errors: int
    server_log_warnings: int
    errors: list[str]
    call_results: list[CallResult]


# ---------------------------------------------------------------------------------- processes


@dataclass
class Service:
    """A child process we started: its handle, psutil view and log file."""

    name: str
    process: asyncio.subprocess.Process
    log_path: Path
    url: str

    def __post_init__(self) -> None:
        self.ps = psutil.Process(self.process.pid)

    def cpu_seconds(self) -> float:
        times = self.ps.cpu_times()
        return float(times.user + times.system)

    def rss(self) -> int:
        return int(self.ps.memory_info().rss)

    def log_tail(self, lines: int = 40) -> str:
        text = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        return "\n".join(text.splitlines()[-lines:])

    async def stop(self) -> None:
        """SIGTERM, then SIGKILL after a grace period; bounded in time."""
        process = self.process
        if process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                process.terminate()
            try:
                await asyncio.wait_for(process.wait(), STOP_GRACE_SECONDS)
            except TimeoutError:
                with contextlib.suppress(ProcessLookupError):
                    process.kill()
                await asyncio.wait_for(process.wait(), STOP_GRACE_SECONDS)
        if process in _running:
            _running.remove(process)


async def _spawn(
    argv: list[str],
    log_path: Path,
    *,
    ready_line: bool,
    env: dict[str, str] | None = None,
    cwd: Path = REPO_ROOT,
) -> asyncio.subprocess.Process:
    """Start a child in its own session (Ctrl-C reaches only us; we stop the children in
    order). Its stderr, and its stdout unless we read a READY line from it, go to ``log_path``."""
    with log_path.open("ab") as log:
        process = await asyncio.create_subprocess_exec(
            *argv,
            cwd=cwd,
            env=env,
            stdout=asyncio.subprocess.PIPE if ready_line else log,
            stderr=log,
            start_new_session=True,
        )
    _running.append(process)
    return process


async def start_fake(name: str, module: str, args: list[str], workdir: Path) -> Service:
    """Start a fake server module and wait for its ``READY <url>`` line."""
    log_path = workdir / f"{name}.log"
    argv = [PYTHON, "-m", module, "--port", "0", *args]
    process = await _spawn(argv, log_path, ready_line=True)
    assert process.stdout is not None
    try:
        line = await asyncio.wait_for(process.stdout.readline(), timeout=60)
    except TimeoutError:
        line = b""
    ready, _, url = line.decode().strip().partition(" ")
    service = Service(name, process, log_path, url)
    if ready != "READY":
        await service.stop()
        raise RuntimeError(f"{name} did not start:\n{service.log_tail()}")
    return service


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def server_env(openai_url: str, **extra: str) -> dict[str, str]:
    """The environment of a server under test: ours, the repository on the import path, the
    fake OpenAI, and ``extra``."""
    env = dict(os.environ)
    env.update(
        PYTHONPATH=str(REPO_ROOT), OPENAI_API_KEY="sk-bench", OPENAI_BASE_URL=openai_url, **extra
    )
    return env


async def start_server(
    name: str, app: str, port: int, env: dict[str, str], workdir: Path, tag: str
) -> Service:
    """``uvicorn APP`` on ``port``; returns once its ``/healthz`` answers 200."""
    base = f"http://127.0.0.1:{port}"
    argv = [PYTHON, "-m", "uvicorn", app, "--host", "127.0.0.1", "--port", str(port)]
    log_path = workdir / f"{name}-{tag}.log"
    # Run in the work folder, so that a developer's .env does not change what is measured.
    process = await _spawn(
        [*argv, "--log-level", "warning"], log_path, ready_line=False, env=env, cwd=workdir
    )
    service = Service(name, process, log_path, base)
    deadline = time.monotonic() + 60
    async with httpx.AsyncClient(base_url=base, timeout=2) as http:
        while True:
            with contextlib.suppress(httpx.HTTPError):
                if (await http.get("/healthz")).status_code == 200:
                    return service
            if process.returncode is not None or time.monotonic() > deadline:
                await service.stop()
                raise RuntimeError(f"{name} did not start:\n{service.log_tail()}")
            await asyncio.sleep(0.1)


@dataclass(frozen=True)
class Secrets:
    account_sid: str
    auth_token: str


@dataclass
class Stack:
    """The processes for one N: the fake OpenAI, the server under test and what it needs."""

    openai: Service
    server: Service
    twilio: Service | None = None
    """The fake Twilio REST server (carecall only)."""
    keys: Secrets | None = None
    """The Twilio credentials the server checks signatures with (carecall only)."""
    api_key: str | None = None
    """The benchmark's key for the server's API (carecall only)."""

    @property
    def services(self) -> tuple[Service, ...]:
        return tuple(s for s in (self.openai, self.twilio, self.server) if s is not None)


@contextlib.asynccontextmanager
async def running_stack(
    args: argparse.Namespace, target: Target, workdir: Path, tag: str
) -> AsyncIterator[Stack]:
    """The processes for one N, stopped (server first) however the block ends."""
    async with contextlib.AsyncExitStack() as exits:
        openai = await start_fake(
            f"fake-openai-{tag}", "tests.fakes.openai_server", fake_openai_args(args), workdir
        )
        exits.push_async_callback(openai.stop)
        env = dict(getattr(args, "server_env", None) or {})
        yield await target.start(exits, workdir, tag, openai, env=env)


# ---------------------------------------------------------------------------------- one call


class SpeechEndSpacer:
    """Keeps the moments callers' voices end at least ``gap`` seconds apart.

    The fake STT answers each transcription request with the sentence announced for it: the
    oldest pending one, or, when several callers' voices ended at almost the same moment, the
    one the audio sounds most like. Spacing the ends keeps that guess rarely needed. A caller
    may wait a moment before it speaks, as people do; latency is measured from the end of its
    speech.
    """

    def __init__(self, gap: float) -> None:
        self._gap = gap
        self._ends: list[float] = []

    def delay_before(self, speech_seconds: float) -> float:
        """How long to wait before speaking for ``speech_seconds`` (until the voice ends)."""
        now = time.monotonic()
        self._ends = sorted(end for end in self._ends if end > now - self._gap)
        end = now + speech_seconds
        for other in self._ends:
            if abs(end - other) < self._gap:
                end = other + self._gap
        self._ends.append(end)
        return end - speech_seconds - now


@dataclass
class Voices:
    """How the simulated callers speak: each sentence's length, the spacing of their ends, and
    the fake OpenAI's control API (told what was said, for its speech-to-text)."""

    seconds: dict[str, float]
    spacer: SpeechEndSpacer
    openai_control: httpx.AsyncClient

    async def speak(self, caller: SimulatedCaller, text: str) -> float:
        """Say ``text``; return the moment its last frame went out.

        The fake STT is told what was said 50 ms after the voice ends, while the sentence's
        trailing silence (≈ 0.35 s) is still being sent: pipecat's default VAD stops after
        0.2 s of silence, so a server may ask for the transcript before the last frame has
        gone out.
        """
        speech_seconds = self.seconds[text]
        await asyncio.sleep(self.spacer.delay_before(speech_seconds))
        saying = asyncio.create_task(_say(caller, text))
        try:
            await asyncio.sleep(speech_seconds + ANNOUNCE_AFTER_VOICE_SECONDS)
            await self.openai_control.post("/control/said", json={"text": text})
            return await saying
        finally:
            saying.cancel()  # only when something failed: it is done otherwise


@dataclass
class CallContext:
    """What every simulated call of one N shares: the target, its processes, clients, settings."""

    target: Target
    stack: Stack
    server: httpx.AsyncClient
    voices: Voices
    ws_url: str
    wait_s: float
    llm_latency: float
    tts_latency: float


def sentence(call_index: int, turn: int) -> str:
    return SENTENCES[(call_index * 5 + turn) % len(SENTENCES)]


async def _say(caller: SimulatedCaller, text: str) -> float:
    await caller.say(text)
    return time.monotonic()


async def run_call(ctx: CallContext, index: int, turns: int, start_delay: float) -> CallResult:
    """One whole call: greeting, ``turns`` answers, goodbye, then the call ends (how: the
    target's ``finish_call``)."""
    await asyncio.sleep(start_delay)
    result = CallResult(index)
    caller: SimulatedCaller | None = None
    began = time.monotonic()
    try:
        caller = await ctx.target.dial(ctx, result)
        greeting = await caller.wait_for_bot_utterance(timeout=ctx.wait_s)
        result.greeting_s = greeting.started_at - caller.connected_at
        for turn in range(turns):
            text = sentence(index, turn)
            result.said.append(text)
            finished_at = await ctx.voices.speak(caller, text)
            result.said_end_s.append(round(finished_at - caller.connected_at, 3))
            reply = await caller.wait_for_bot_utterance(timeout=ctx.wait_s)
            result.turn_latencies_s.append(reply.started_at - finished_at)
            result.reply_at.append(reply.started_at)
        result.said.append(GOODBYE)
        finished_at = await ctx.voices.speak(caller, GOODBYE)
        result.said_end_s.append(round(finished_at - caller.connected_at, 3))
        await ctx.target.finish_call(ctx, caller)
        result.duration_s = time.monotonic() - caller.connected_at
        goodbye = [u for u in caller.utterances if u.started_at > finished_at]
        if goodbye:
            result.goodbye_latency_s = goodbye[0].started_at - finished_at
        await ctx.target.after_call(ctx, caller, result)
        result.ok = True
    except Exception as exc:
        result.error = f"call {index}: {type(exc).__name__}: {exc}"
    finally:
        if caller is not None:
            if not result.ok:
                result.duration_s = time.monotonic() - (caller.connected_at or began)
                with contextlib.suppress(Exception):
                    await caller.hang_up()
            result.underruns = sum(u.underruns for u in caller.utterances)
            result.protocol_errors = len(caller.protocol_errors)
            result.clears = caller.clears_received
            result.heard = [
                HeardSpeech(
                    round(u.started_at - caller.connected_at, 3),
                    round(u.ended_at - caller.connected_at, 3),
                    u.audio_seconds,
                    u.underruns,
                    u.interrupted,
                )
                for u in caller.utterances
            ]
    return result


def _media_caller(ws_url: str, **kwargs: Any) -> SimulatedCaller:
    # Like a person, wait for a real pause (utterance_gap, 0.8 s) before answering. With
    # end_on_mark a reply "ends" at any sentence mark whose next sentence is late, and the
    # caller would talk over the rest of it; here such a late sentence is an underrun.
    return SimulatedCaller(ws_url, end_on_mark=False, **kwargs)


async def connect_caller(caller: SimulatedCaller) -> SimulatedCaller:
    """Open the caller's media stream; raises if the server refused it."""
    await caller.connect()
    if caller.rejected_status is not None:
        raise RuntimeError(f"the media websocket was refused (HTTP {caller.rejected_status})")
    return caller


# ---------------------------------------------------------------------------------- targets


class Target(ABC):
    """A server the benchmark can call: how it starts, how a call is placed and how it ends,
    and what can be checked afterwards. Everything else is the same for every target."""

    name: ClassVar[str]
    stores_records: ClassVar[bool]
    """Whether :meth:`check_records` compares what the server stored with what was said."""

    @abstractmethod
    async def start(
        self,
        exits: contextlib.AsyncExitStack,
        workdir: Path,
        tag: str,
        openai: Service,
        *,
        env: dict[str, str] | None = None,
    ) -> Stack:
        """Start the server (and what it needs besides the fake OpenAI); register each
        process's ``stop`` on ``exits``. ``env``: settings to try on the server (carecall's;
        the reference bot has none)."""

    @abstractmethod
    async def dial(self, ctx: CallContext, result: CallResult) -> SimulatedCaller:
        """Place one call and return its connected media stream."""

    @abstractmethod
    async def finish_call(self, ctx: CallContext, caller: SimulatedCaller) -> None:
        """After the caller's goodbye: return once the call is over (the socket closed)."""

    async def after_call(
        self, ctx: CallContext, caller: SimulatedCaller, result: CallResult
    ) -> None:
        """Once the call is over (``result.duration_s`` is known); nothing by default."""
        return None

    async def check_records(self, ctx: CallContext, results: Sequence[CallResult]) -> None:
        """After all calls of one N: check what the server stored (nothing stored: nothing)."""
        return None

    def turn_decisions(self, stack: Stack) -> dict[int, list[float]]:
        """Per call id, the monotonic times the server decided the caller's turns were over,
        in order, if the server reports them ({} if not)."""
        return {}


class Carecall(Target):
    """carecall itself: places the call through the fake Twilio REST API, gets Twilio's signed
    callbacks and voice webhook, and hangs up itself after the goodbye (``end_call``)."""

    name = "carecall"
    stores_records = True

    async def start(
        self,
        exits: contextlib.AsyncExitStack,
        workdir: Path,
        tag: str,
        openai: Service,
        *,
        env: dict[str, str] | None = None,
    ) -> Stack:
        keys = Secrets("AC" + secrets.token_hex(16), secrets.token_hex(16))
        twilio = await start_fake(
            f"fake-twilio-{tag}", "tests.fakes.twilio_rest_server", [], workdir
        )
        exits.push_async_callback(twilio.stop)
        database_url = f"sqlite+aiosqlite:///{workdir / f'bench-{tag}.db'}"
        api_key = await create_api_key(database_url)
        port = free_port()
        settings = server_env(
            openai.url,
            CARECALL_ENV="development",
            TWILIO_ACCOUNT_SID=keys.account_sid,
            TWILIO_AUTH_TOKEN=keys.auth_token,
            TWILIO_PHONE_NUMBER=FROM_NUMBER,
            TWILIO_API_BASE_URL=twilio.url,
            WEBHOOK_URL=f"http://127.0.0.1:{port}",
            DATABASE_URL=database_url,
            SESSION_SECRET=secrets.token_urlsafe(36),  # 48 characters
            LOG_LEVEL="INFO",  # as in production; the answers' timing lines are INFO
        )
        settings.update(env or {})
        server = await start_server(self.name, "server:app", port, settings, workdir, tag)
        exits.push_async_callback(server.stop)
        return Stack(openai, server, twilio=twilio, keys=keys, api_key=api_key)

    async def dial(self, ctx: CallContext, result: CallResult) -> SimulatedCaller:
        result.call_id, call_sid = await place_call(ctx)
        return await answer(ctx, result.call_id, call_sid)

    async def finish_call(self, ctx: CallContext, caller: SimulatedCaller) -> None:
        await caller.wait_until_closed(timeout=ctx.wait_s)  # the bot hangs up

    async def after_call(
        self, ctx: CallContext, caller: SimulatedCaller, result: CallResult
    ) -> None:
        await twilio_webhook(  # Twilio reports the end of the call the bot hung up
            ctx,
            f"/twilio/status?call_id={result.call_id}",
            {
                "CallSid": caller.call_sid,
                "CallStatus": "completed",
                "SequenceNumber": "3",
                "CallDuration": str(round(result.duration_s)),
            },
        )

    async def check_records(self, ctx: CallContext, results: Sequence[CallResult]) -> None:
        await check_records(ctx, results)

    def turn_decisions(self, stack: Stack) -> dict[int, list[float]]:
        """From carecall's INFO line per answer ("Answered … decided_at=<monotonic>")."""
        decisions: dict[int, list[float]] = {}
        log = stack.server.log_path.read_text(errors="replace")
        for match in _DECISION.finditer(log):
            decisions.setdefault(int(match["call"]), []).append(float(match["at"]))
        return decisions


class Reference(Target):
    """The plain pipecat bot (``bench.reference_bot``): the caller connects straight to its
    ``/ws``, and hangs up itself after the bot's answer to its goodbye (no ``end_call``)."""

    name = "reference"
    stores_records = False

    async def start(
        self,
        exits: contextlib.AsyncExitStack,
        workdir: Path,
        tag: str,
        openai: Service,
        *,
        env: dict[str, str] | None = None,
    ) -> Stack:
        app = "bench.reference_bot:app"
        server = await start_server(
            self.name, app, free_port(), server_env(openai.url), workdir, tag
        )
        exits.push_async_callback(server.stop)
        return Stack(openai, server)

    async def dial(self, ctx: CallContext, result: CallResult) -> SimulatedCaller:
        return await connect_caller(_media_caller(ctx.ws_url, custom_parameters={}))

    async def finish_call(self, ctx: CallContext, caller: SimulatedCaller) -> None:
        await caller.wait_for_bot_utterance(timeout=ctx.wait_s)  # its answer to the goodbye
        await caller.hang_up()


TARGETS: dict[str, Target] = {target.name: target for target in (Carecall(), Reference())}


# ---------------------------------------------------------------------------------- carecall


async def create_api_key(database_url: str) -> str:
    """An API key for the benchmark's API client, made in the server's database before the
    server starts (as `carecall create-api-key` would); returns the secret to send."""
    async with standalone_auth(database_url) as auth:
        return (await auth.create_api_key("bench")).secret


def _twilio_keys(ctx: CallContext) -> Secrets:
    if ctx.stack.keys is None:
        raise RuntimeError(f"{ctx.target.name} has no Twilio credentials")
    return ctx.stack.keys


async def twilio_webhook(ctx: CallContext, path: str, params: dict[str, str]) -> httpx.Response:
    """POST ``params`` to ``path`` signed as Twilio signs them (``X-Twilio-Signature`` over
    ``WEBHOOK_URL`` + path + query)."""
    validator = RequestValidator(_twilio_keys(ctx).auth_token)
    signature = validator.compute_signature(ctx.stack.server.url + path, params)
    response = await ctx.server.post(path, data=params, headers={"X-Twilio-Signature": signature})
    if response.status_code >= 300:
        raise RuntimeError(f"{path} answered {response.status_code}: {response.text[:200]}")
    return response


async def place_call(ctx: CallContext) -> tuple[int, str]:
    response = await ctx.server.post("/api/calls", json={"to": TO_NUMBER})
    if response.status_code != 201:
        raise RuntimeError(f"POST /api/calls answered {response.status_code}: {response.text}")
    body = response.json()
    return int(body["id"]), str(body["twilio_sid"])


TwilioPost = Callable[[str, dict[str, str]], Awaitable[httpx.Response]]
"""Sends a request as Twilio does (signed), to the instance Twilio reached; raises on failure."""


async def pick_up(
    post: TwilioPost,
    ws_url: str,
    call_id: int,
    call_sid: str,
    keys: Secrets,
    *,
    end_on_mark: bool = False,
) -> SimulatedCaller:
    """What Twilio does when the callee picks up: the status callbacks and the voice webhook
    through ``post``, then a caller for the media stream the TwiML names, at ``ws_url`` (the
    instance's own address; the stream is signed for the TwiML's). Not connected yet. The
    benchmark's callers end an utterance only after a real pause (see `_media_caller`); tests
    may end it at its last mark (``end_on_mark``)."""
    for sequence, status in enumerate(("initiated", "ringing", "in-progress")):
        await post(
            f"/twilio/status?call_id={call_id}",
            {"CallSid": call_sid, "CallStatus": status, "SequenceNumber": str(sequence)},
        )
    twiml = await post(
        f"/twilio/voice?call_id={call_id}", {"CallSid": call_sid, "CallStatus": "in-progress"}
    )
    stream = ET.fromstring(twiml.text).find("./Connect/Stream")
    if stream is None:
        raise RuntimeError(f"the TwiML has no <Connect><Stream>: {twiml.text[:200]}")
    return SimulatedCaller(
        ws_url,
        end_on_mark=end_on_mark,
        custom_parameters={
            p.get("name", ""): p.get("value", "") for p in stream.findall("Parameter")
        },
        call_sid=call_sid,
        account_sid=keys.account_sid,
        auth_token=keys.auth_token,
        signed_url=stream.get("url", ""),
    )


async def answer(ctx: CallContext, call_id: int, call_sid: str) -> SimulatedCaller:
    """What Twilio does when the callee picks up: callbacks, TwiML, then the media stream."""
    post = functools.partial(twilio_webhook, ctx)
    return await connect_caller(
        await pick_up(post, ctx.ws_url, call_id, call_sid, _twilio_keys(ctx))
    )


async def check_records(ctx: CallContext, results: Sequence[CallResult]) -> None:
    """Compare what carecall stored for each finished call with what happened: each sentence
    its own user turn (also a check that the fake STT's FIFO stayed in step) and a bot
    hang-up as the end reason. Sets ``transcript_ok`` and ``end_reason``."""
    for result in results:
        if not result.ok or result.call_id is None:
            continue
        deadline = time.monotonic() + 10
        while True:  # records are written in the background: they land a moment later
            call = (await ctx.server.get(f"/api/calls/{result.call_id}")).json()
            heard = [t["text"] for t in call["turns"] if t["role"] == "user"]
            result.transcript_ok = heard == result.said
            result.end_reason = call["end_reason"]
            if (result.transcript_ok and _bot_hung_up(result)) or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.2)
        result.stored_turns = [
            f"{t['role']}: {t['text']}" + (" [interrupted]" if t["interrupted"] else "")
            for t in call["turns"]
        ]
        if not _bot_hung_up(result):
            print(f"  call {result.index} (id {result.call_id}): end_reason={result.end_reason!r}")
        if not result.transcript_ok:
            _print_transcript_mismatch(result)


def _bot_hung_up(result: CallResult) -> bool:
    return (result.end_reason or "").startswith("bot-hangup")


def _checked(result: CallResult) -> bool:
    """Whether :func:`check_records` compared the call with what the server stored."""
    return result.transcript_ok is not None


def _print_transcript_mismatch(result: CallResult) -> None:
    print(f"  call {result.index} (id {result.call_id}) was stored differently:")
    print(f"    said:    {result.said}, ending at {result.said_end_s} s")
    print("    stored:")
    for turn in result.stored_turns:
        print(f"             {turn[:110]}")
    print(f"    heard:   {result.clears} clear(s); bot audio (s from connect):")
    for h in result.heard:
        flags = " interrupted" if h.interrupted else ""
        print(
            f"             {h.start_s:6.2f}-{h.end_s:6.2f} {h.audio_s:5.2f} s audio, "
            f"{h.underruns} underruns{flags}"
        )


# ---------------------------------------------------------------------------------- one N


class PeakRss:
    """Samples a process's RSS every 0.25 s in the background; ``peak`` is the largest seen."""

    def __init__(self, service: Service) -> None:
        self._service = service
        self.peak = service.rss()
        self._task = asyncio.create_task(self._sample())

    async def _sample(self) -> None:
        with contextlib.suppress(psutil.Error):
            while True:
                self.peak = max(self.peak, self._service.rss())
                await asyncio.sleep(RSS_SAMPLE_SECONDS)

    async def stop(self) -> int:
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        with contextlib.suppress(psutil.Error):
            self.peak = max(self.peak, self._service.rss())
        return self.peak


def own_cpu_seconds() -> float:
    times = psutil.Process().cpu_times()
    return float(times.user + times.system)


def percentile(values: Sequence[float], q: float) -> float | None:
    """Linear-interpolated percentile (q in 0..100), None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    k = (len(ordered) - 1) * q / 100
    lo, hi = math.floor(k), math.ceil(k)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def ms(value: float | None) -> float | None:
    return None if value is None else value * 1000


_DECISION = re.compile(r"Answered .* call_id=(?P<call>\d+).* decided_at=(?P<at>[\d.]+)")
_LOG_ERROR = re.compile(r"\| (ERROR|CRITICAL) +\||Traceback|^ERROR:")
_LOG_WARNING = re.compile(r"\| WARNING +\||^WARNING:")


def count_log_lines(service: Service) -> tuple[int, int]:
    text = service.log_path.read_text(errors="replace") if service.log_path.exists() else ""
    lines = text.splitlines()
    return (
        sum(1 for line in lines if _LOG_ERROR.search(line)),
        sum(1 for line in lines if _LOG_WARNING.search(line)),
    )


async def run_n(
    args: argparse.Namespace, n: int, workdir: Path, speech_seconds: dict[str, float]
) -> RunResult:
    """Start ``args.target``'s processes, make one warm-up call, then ``n`` concurrent calls
    (``args.turns`` answers each); measure them and stop the processes."""
    async with bench_context(args, workdir, f"n{n}", speech_seconds) as ctx:
        return await measure(ctx, n, args.turns, args.stagger)


@contextlib.asynccontextmanager
async def bench_context(
    args: argparse.Namespace, workdir: Path, tag: str, speech_seconds: dict[str, float]
) -> AsyncIterator[CallContext]:
    """``args.target``'s processes and the clients to call them, stopped on the way out."""
    target = TARGETS[args.target]
    async with running_stack(args, target, workdir, tag) as stack:
        api_auth = {"Authorization": f"Bearer {stack.api_key}"} if stack.api_key else {}
        async with (
            httpx.AsyncClient(base_url=stack.server.url, timeout=30, headers=api_auth) as server,
            httpx.AsyncClient(base_url=stack.openai.url.removesuffix("/v1"), timeout=30) as control,
        ):
            yield CallContext(
                target=target,
                stack=stack,
                server=server,
                voices=Voices(speech_seconds, SpeechEndSpacer(args.speech_gap), control),
                ws_url=stack.server.url.replace("http://", "ws://") + "/ws",
                wait_s=args.wait,
                llm_latency=args.llm_latency,
                tts_latency=args.tts_latency,
            )


async def measure(ctx: CallContext, n: int, turns: int, stagger: float) -> RunResult:
    """One warm-up call, then ``n`` concurrent calls started over ``stagger`` seconds, with
    the server's CPU and memory and the callers' CPU measured while they run."""
    stack = ctx.stack
    warm_up = await run_call(ctx, -1, 0, 0.0)  # greeting, goodbye: loads everything
    if not warm_up.ok:
        raise RuntimeError(
            f"the warm-up call failed ({warm_up.error}); server log:\n{stack.server.log_tail()}"
        )
    await asyncio.sleep(1.0)  # let the warm-up call's records and sockets settle

    rss_baseline = stack.server.rss()
    cpu_before = {s.name: s.cpu_seconds() for s in stack.services}
    own_before = own_cpu_seconds()
    started = time.monotonic()
    sampler = PeakRss(stack.server)
    try:
        results = list(
            await asyncio.gather(*(run_call(ctx, i, turns, i * stagger / n) for i in range(n)))
        )
    finally:
        rss_peak = await sampler.stop()
    wall = time.monotonic() - started
    own_cpu = own_cpu_seconds() - own_before
    cpu = {s.name: s.cpu_seconds() - cpu_before[s.name] for s in stack.services}

    await ctx.target.check_records(ctx, results)
    add_overheads(ctx, results)
    return summarize(
        n,
        results,
        wall=wall,
        server_cpu=cpu[stack.server.name],
        caller_cpu=own_cpu,
        openai_cpu=cpu[stack.openai.name],
        twilio_cpu=cpu[stack.twilio.name] if stack.twilio else 0.0,
        rss_baseline=rss_baseline,
        rss_peak=rss_peak,
        log_counts=count_log_lines(stack.server),
        server=stack.server,
    )


def add_overheads(ctx: CallContext, results: Sequence[CallResult]) -> None:
    """Each answer's pipeline overhead, where the server reports its end-of-turn decisions:
    first audio heard − decision − the fake LLM's time to the end of the reply's first sentence
    (first chunk + chunks) − the fake TTS's first byte. The speech-to-text request runs during
    the turn-taking pause (it starts when the VAD hears silence), so it is not on this path."""
    decisions = ctx.target.turn_decisions(ctx.stack)
    for result in results:
        decided = decisions.get(result.call_id or -1, [])
        for decided_at, reply_at, said in zip(decided, result.reply_at, result.said, strict=False):
            llm = ctx.llm_latency + first_sentence_seconds(echo_reply(said))
            result.overheads_s.append(reply_at - decided_at - llm - ctx.tts_latency)


def summarize(
    n: int,
    results: list[CallResult],
    *,
    wall: float,
    server_cpu: float,
    caller_cpu: float,
    openai_cpu: float,
    twilio_cpu: float,
    rss_baseline: int,
    rss_peak: int,
    log_counts: tuple[int, int],
    server: Service,
) -> RunResult:
    turns = [t for r in results for t in r.turn_latencies_s]
    overheads = [t for r in results for t in r.overheads_s]
    greetings = [r.greeting_s for r in results if r.greeting_s is not None]
    goodbyes = [r.goodbye_latency_s for r in results if r.goodbye_latency_s is not None]
    call_minutes = sum(r.duration_s for r in results) / 60
    errors = [r.error for r in results if r.error]
    if errors or log_counts[0]:
        print(f"\n--- last lines of the {server.name} log ({server.log_path}) ---", file=sys.stderr)
        print(server.log_tail(60), file=sys.stderr)
    return RunResult(
        calls=n,
        ok=sum(r.ok for r in results),
        failed=sum(not r.ok for r in results),
        wall_s=wall,
        call_minutes=call_minutes,
        turn_ms_p50=ms(percentile(turns, 50)),
        turn_ms_p95=ms(percentile(turns, 95)),
        turn_ms_max=ms(max(turns, default=None)),
        overhead_ms_p50=ms(percentile(overheads, 50)),
        overhead_ms_p95=ms(percentile(overheads, 95)),
        overhead_ms_max=ms(max(overheads, default=None)),
        greeting_ms_p50=ms(percentile(greetings, 50)),
        greeting_ms_p95=ms(percentile(greetings, 95)),
        goodbye_ms_p50=ms(percentile(goodbyes, 50)),
        underruns=sum(r.underruns for r in results),
        protocol_errors=sum(r.protocol_errors for r in results),
        transcript_mismatches=sum(r.transcript_ok is False for r in results),
        wrong_end_reasons=sum(r.ok and _checked(r) and not _bot_hung_up(r) for r in results),
        server_cpu_s=server_cpu,
        server_cpu_s_per_call_minute=server_cpu / call_minutes if call_minutes else None,
        server_cpu_pct_of_one_core=100 * server_cpu / wall,
        server_rss_baseline_mb=rss_baseline / MB,
        server_rss_peak_mb=rss_peak / MB,
        server_mb_per_call=(rss_peak - rss_baseline) / MB / n,
        caller_cpu_s=caller_cpu,
        fake_openai_cpu_s=openai_cpu,
        fake_twilio_cpu_s=twilio_cpu,
        server_log_errors=log_counts[0],
        server_log_warnings=log_counts[1],
        errors=errors,
        call_results=results,
    )


# ---------------------------------------------------------------------------------- report


def fmt(value: float | None, digits: int = 0) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def print_run(run: RunResult, target: Target) -> None:
    print(
        f"\n== {target.name}, N = {run.calls}: {run.ok} ok, {run.failed} failed, "
        f"{run.wall_s:.1f} s wall, {run.call_minutes:.2f} call-minutes"
    )
    print(
        f"  turn latency   p50 {fmt(run.turn_ms_p50)} ms, p95 {fmt(run.turn_ms_p95)} ms, "
        f"max {fmt(run.turn_ms_max)} ms   (goodbye p50 {fmt(run.goodbye_ms_p50)} ms)"
    )
    if run.overhead_ms_p50 is not None:
        print(
            f"  overhead       p50 {fmt(run.overhead_ms_p50)} ms, p95 {fmt(run.overhead_ms_p95)} "
            f"ms, max {fmt(run.overhead_ms_max)} ms   (first audio − end of turn − services)"
        )
    print(f"  greeting       p50 {fmt(run.greeting_ms_p50)} ms, p95 {fmt(run.greeting_ms_p95)} ms")
    print(f"  audio          {run.underruns} underruns, {run.protocol_errors} protocol errors")
    if target.stores_records:
        print(
            f"  records        {run.transcript_mismatches} transcript mismatches, "
            f"{run.wrong_end_reasons} calls stored with a wrong end reason"
        )
    else:
        print(f"  records        not checked ({target.name} has no store)")
    print(
        f"  server CPU     {run.server_cpu_s:.1f} s = {fmt(run.server_cpu_s_per_call_minute, 2)} "
        f"CPU-s per call-minute, {run.server_cpu_pct_of_one_core:.0f} % of one core"
    )
    print(
        f"  server RSS     baseline {run.server_rss_baseline_mb:.0f} MB, peak "
        f"{run.server_rss_peak_mb:.0f} MB, {run.server_mb_per_call:.1f} MB per call"
    )
    print(
        f"  other CPU      callers (this process) {run.caller_cpu_s:.1f} s, fake OpenAI "
        f"{run.fake_openai_cpu_s:.1f} s, fake Twilio {run.fake_twilio_cpu_s:.1f} s"
    )
    print(f"  server log     {run.server_log_errors} errors, {run.server_log_warnings} warnings")
    for error in run.errors:
        print(f"  FAILED {error}")


SUMMARY_COLUMNS: tuple[tuple[str, Callable[[RunResult], str]], ...] = (
    ("N", lambda r: str(r.calls)),
    ("ok/failed", lambda r: f"{r.ok}/{r.failed}"),
    (
        "turn p50/p95/max ms",
        lambda r: "/".join(fmt(v) for v in (r.turn_ms_p50, r.turn_ms_p95, r.turn_ms_max)),
    ),
    ("overhead p50/p95 ms", lambda r: f"{fmt(r.overhead_ms_p50)}/{fmt(r.overhead_ms_p95)}"),
    ("greeting p50/p95 ms", lambda r: f"{fmt(r.greeting_ms_p50)}/{fmt(r.greeting_ms_p95)}"),
    ("underruns", lambda r: str(r.underruns)),
    ("CPU-s/call-min", lambda r: fmt(r.server_cpu_s_per_call_minute, 2)),
    ("server CPU %", lambda r: fmt(r.server_cpu_pct_of_one_core)),
    ("RSS base/peak MB", lambda r: f"{r.server_rss_baseline_mb:.0f}/{r.server_rss_peak_mb:.0f}"),
    ("MB/call", lambda r: fmt(r.server_mb_per_call, 1)),
    ("callers CPU-s", lambda r: fmt(r.caller_cpu_s, 1)),
    ("fake-OpenAI CPU-s", lambda r: fmt(r.fake_openai_cpu_s, 1)),
)


def summary_table(runs: Sequence[RunResult]) -> str:
    header = [name for name, _ in SUMMARY_COLUMNS]
    rows = [[cell(run) for _, cell in SUMMARY_COLUMNS] for run in runs]
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]

    def line(cells: Sequence[str]) -> str:
        return "| " + " | ".join(c.rjust(w) for c, w in zip(cells, widths, strict=True)) + " |"

    rule = "|" + "|".join("-" * (w + 1) + ":" for w in widths) + "|"
    return "\n".join([line(header), rule, *(line(row) for row in rows)])


# ---------------------------------------------------------------------------------- main


def add_simulation_options(parser: argparse.ArgumentParser) -> None:
    """The fake services' latencies and the simulated callers' manners (also `bench.load`)."""
    parser.add_argument("--stt-latency", type=float, default=0.15, metavar="S")
    parser.add_argument("--llm-latency", type=float, default=0.3, metavar="S")
    parser.add_argument("--tts-latency", type=float, default=0.15, metavar="S")
    parser.add_argument(
        "--speech-gap",
        type=float,
        default=0.2,
        metavar="S",
        help="keep callers' ends of speech this far apart",
    )
    parser.add_argument(
        "--wait", type=float, default=30.0, metavar="S", help="longest wait for the bot"
    )


def fake_openai_args(args: argparse.Namespace) -> list[str]:
    """The fake OpenAI server's command line for ``args`` (tone speech: cheap to make; a
    token rate and a cap on the echoed words where ``args`` has them, as `bench.turns` does)."""
    options = [
        *("--stt-latency", str(args.stt_latency)),
        *("--llm-latency", str(args.llm_latency)),
        *("--tts-latency", str(args.tts_latency)),
        *("--tts-mode", "tone"),
    ]
    if getattr(args, "tokens_per_second", None):
        options += ["--tokens-per-second", str(args.tokens_per_second)]
    if getattr(args, "echo_words", None):
        options += ["--echo-words", str(args.echo_words)]
    return options


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.calls",
        description="Concurrent simulated calls against carecall or a plain pipecat bot.",
    )
    parser.add_argument(
        "--target",
        choices=sorted(TARGETS),
        default="carecall",
        help="the server to call: carecall, or the plain pipecat bot bench.reference_bot",
    )
    parser.add_argument("--calls", type=int, nargs="+", default=[1, 8, 20], metavar="N")
    parser.add_argument("--turns", type=int, default=3, help="answers per call before goodbye")
    parser.add_argument(
        "--stagger", type=float, default=1.0, metavar="S", help="spread call starts over S"
    )
    add_simulation_options(parser)
    parser.add_argument("--json", type=Path, metavar="PATH", help="also write the figures here")
    parser.add_argument(
        "--keep-logs", action="store_true", help="keep the work folder (logs, databases)"
    )
    args = parser.parse_args(argv)
    if any(n < 1 for n in args.calls) or args.turns < 0:
        parser.error("--calls must be ≥ 1 and --turns ≥ 0")
    return args


def prepare_speech() -> dict[str, float]:
    """Synthesize every sentence once (espeak-ng), so no caller does it while measured;
    return how long each is spoken (until its voice ends, without the trailing silence)."""
    return {text: voice_seconds(_speech_frames(text)) for text in (*SENTENCES, GOODBYE)}


def voice_seconds(frames: Sequence[str]) -> float:
    """Seconds from the start of base64 μ-law ``frames`` to the end of the last voiced one."""
    pcm = b"".join(ulaw_to_pcm16(base64.b64decode(frame)) for frame in frames)
    samples = np.frombuffer(pcm, dtype="<i2").astype(np.float64).reshape(len(frames), -1)
    voiced = np.flatnonzero(np.sqrt((samples**2).mean(axis=1)) > VOICE_RMS)
    return (int(voiced[-1]) + 1 if voiced.size else len(frames)) * FRAME_SECONDS


async def bench(args: argparse.Namespace, workdir: Path) -> list[RunResult]:
    # SIGTERM stops the benchmark the way Ctrl-C does: cancelled, so every server is stopped.
    task = asyncio.current_task()
    assert task is not None
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, task.cancel)
    speech_seconds = await asyncio.to_thread(prepare_speech)
    runs: list[RunResult] = []
    for n in args.calls:
        print(f"\n… {args.target}: {n} concurrent call(s), {args.turns} turns each", flush=True)
        run = await run_n(args, n, workdir, speech_seconds)
        print_run(run, TARGETS[args.target])
        runs.append(run)
    return runs


def write_json(path: Path, args: argparse.Namespace, runs: Sequence[RunResult]) -> None:
    document = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": " ".join(["python -m bench.calls", *sys.argv[1:]]),
        "target": args.target,
        "cpu_count": os.cpu_count(),
        "latencies_s": {"stt": args.stt_latency, "llm": args.llm_latency, "tts": args.tts_latency},
        "runs": [asdict(run) for run in runs],
    }
    path.write_text(json.dumps(document, indent=2))


def kill_leftovers() -> None:
    for process in list(_running):
        with contextlib.suppress(ProcessLookupError):
            os.kill(process.pid, signal.SIGKILL)


def functional_errors(run: RunResult) -> int:
    """What makes the benchmark fail (exit 1): failed calls, turns stored wrongly or lost,
    errors in the server's log. Slow answers and audio gaps are figures, not failures."""
    return run.failed + run.transcript_mismatches + run.wrong_end_reasons + run.server_log_errors


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    workdir = Path(tempfile.mkdtemp(prefix="carecall-bench-"))
    try:
        runs = asyncio.run(bench(args, workdir))
    except (KeyboardInterrupt, asyncio.CancelledError):
        print(f"\ninterrupted; servers stopped; logs in {workdir}", file=sys.stderr)
        return 130
    except Exception as exc:
        print(f"\nbenchmark error: {exc}\nlogs in {workdir}", file=sys.stderr)
        return 1
    finally:
        kill_leftovers()
    print(
        f"\nSummary: {args.target} ({os.cpu_count()} CPUs; STT {args.stt_latency * 1000:.0f} "
        f"ms, LLM first token {args.llm_latency * 1000:.0f} ms, TTS first byte "
        f"{args.tts_latency * 1000:.0f} ms; {args.turns} turns + goodbye per call)\n"
    )
    print(summary_table(runs))
    if args.json:
        write_json(args.json, args, runs)
    failed = any(functional_errors(run) for run in runs)
    if failed:
        print(f"\nsomething failed (see above); logs in {workdir}", file=sys.stderr)
    elif args.keep_logs or any(run.underruns for run in runs):
        print(f"\nlogs in {workdir}", file=sys.stderr)
    else:
        shutil.rmtree(workdir, ignore_errors=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
