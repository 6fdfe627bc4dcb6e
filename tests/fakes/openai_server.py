"""An OpenAI-compatible fake HTTP server for tests and benchmarks.

It fakes the network boundary of OpenAI, so the real ``openai`` SDK (and pipecat's
``OpenAISTTService`` / ``OpenAILLMService`` / ``OpenAITTSService``, pointed at
``base_url=<fake>/v1``) run unchanged against it:

* ``POST /v1/audio/transcriptions`` returns the utterances the simulated caller announced
  with :meth:`FakeOpenAI.expect_utterance` (``""`` when none is pending): the oldest, or,
  while several callers' sentences are pending, the one whose espeak-ng rendering sounds
  most like the audio sent (see :func:`most_like`).
* ``POST /v1/chat/completions`` answers from a deterministic script (see
  :func:`scripted_reply`), streamed as server-sent events exactly like OpenAI.
* ``POST /v1/audio/speech`` streams 24 kHz 16-bit mono PCM (or a WAV): real speech from
  espeak-ng, or a cheap synthetic voiced tone for benchmarks.

Run it in-process (``await FakeOpenAI(...).start()``) or as a separate process::

    python -m tests.fakes.openai_server --port 0 --tts-mode tone

which prints ``READY http://127.0.0.1:PORT/v1`` once listening and is driven through the
``/control/...`` endpoints (``POST /control/said``, ``POST /control/fail_chats``,
``GET /control/requests``, ``GET /control/counts``, ``POST /control/unsay``,
``POST /control/reset``).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import re
import secrets
import signal
import time
from collections import deque
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from aiohttp import web

from tests.fakes.speech import (
    WavAudio,
    espeak_command,
    espeak_pcm,
    espeak_wav_to_pcm16,
    pcm16_wav,
    read_wav,
)

TTSMode = Literal["espeak", "tone"]
OutageMode = Literal["error", "hang"]
FakeService = Literal["chat", "speech", "transcription"]
_HANG_LIMIT_S = 60.0

TTS_SAMPLE_RATE = 24_000
"""OpenAI's speech endpoint always produces 24 kHz audio."""

GOODBYE_REPLY = "Thank you for talking with me today. Goodbye, and take care!"
GREETING_REPLY = "Hello! This is an automated check-in call. How are you today?"
END_CALL_TOOL = "end_call"
OPT_OUT_TOOL = "opt_out"

_GOODBYE_PATTERN = re.compile(r"\b(?:goodbye|bye|adi[oó]s)\b", re.IGNORECASE)
_OPT_OUT_PATTERN = re.compile(
    r"\b(?:stop calling|don'?t call me|no me llame|deje de llamarme)\b", re.IGNORECASE
)
_CONNECT_PATTERN = re.compile(r"\b(?:connect me|put me through)\b", re.IGNORECASE)
CONNECT_TOOL = "connect_caregiver"
SCREENING_PROMPT_START = "You screen one line"
"""How carecall's red-flag check (`wellbeing.red_flags.LLM_PROMPT`) starts its system prompt."""
_WORDS_PER_CHUNK = 3
_CHUNK_INTERVAL_S = 0.01
_TTS_CHUNK_BYTES = TTS_SAMPLE_RATE * 2 // 10  # 100 ms of 16-bit mono audio
_TONE_SECONDS_PER_CHAR = 0.06
_TONE_MIN_SECONDS = 0.5
_MAX_UPLOAD_BYTES = 64 * 1024 * 1024
_MATCH_CANDIDATES = 8
_ENVELOPE_RATE = 8000
_ENVELOPE_FRAME = 160  # 20 ms at 8 kHz
_VOICE_RMS = 200.0
_MIN_MATCH = 0.45
_TAIL_MATCH = 0.8
"""Audio matches an announced envelope this well (correlation × length ratio) at least."""

_Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class _BadRequest(Exception):
    """A client error, answered with an OpenAI-shaped 400 response."""

    def __init__(self, message: str, param: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.param = param


@dataclass(frozen=True)
class ScriptedReply:
    """What the fake LLM answers: either ``text`` or a call to ``tool_name``."""

    text: str = ""
    tool_name: str | None = None
    tool_arguments: str = ""


def _openai_error(
    status: int, message: str, error_type: str, param: str | None = None
) -> web.Response:
    """An error response shaped like OpenAI's ``{"error": {...}}`` body."""
    body = {"error": {"message": message, "type": error_type, "param": param, "code": None}}
    return web.json_response(body, status=status)


def _message_text(content: Any) -> str:
    """The text of a chat message's ``content`` (a string or a list of content parts)."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        texts = [
            part.get("text", "")
            for part in content
            if isinstance(part, dict) and part.get("type") == "text"
        ]
        return " ".join(text for text in texts if isinstance(text, str))
    return ""


def _find_tool(tools: Any, name: str) -> dict[str, Any] | None:
    """The function definition called ``name`` among a request's ``tools``, if any."""
    if not isinstance(tools, list):
        return None
    for tool in tools:
        function = tool.get("function") if isinstance(tool, dict) else None
        if isinstance(function, dict) and function.get("name") == name:
            return function
    return None


def scripted_reply(body: dict[str, Any], *, echo_words: int | None = None) -> ScriptedReply:
    """Decide, deterministically, how the fake LLM answers a chat request.

    * The last message is a tool result: say goodbye.
    * The last user message says "connect me" or "put me through" and a
      ``connect_caregiver`` tool is offered: call it.
    * The last user message says "stop calling" or "don't call me" (or, in Spanish, "no me
      llame", "deje de llamarme") and an ``opt_out`` tool is offered: call it.
    * The last user message says "goodbye"/"bye" (or "adiós") and an ``end_call`` tool is
      offered: call it (with a ``reason`` argument when its schema has one).
    * No user message at all: greet.
    * Otherwise: echo what the user said (its first ``echo_words`` words, if set).
    """
    messages: list[Any] = body["messages"]
    if messages and isinstance(messages[-1], dict) and messages[-1].get("role") == "tool":
        return ScriptedReply(text=GOODBYE_REPLY)
    user_texts = [
        _message_text(message.get("content"))
        for message in messages
        if isinstance(message, dict) and message.get("role") == "user"
    ]
    if not user_texts:
        return ScriptedReply(text=GREETING_REPLY)
    user_text = user_texts[-1].strip()
    if _find_tool(body.get("tools"), CONNECT_TOOL) is not None and _CONNECT_PATTERN.search(
        user_text
    ):
        return ScriptedReply(tool_name=CONNECT_TOOL, tool_arguments="{}")
    if _find_tool(body.get("tools"), OPT_OUT_TOOL) is not None and _OPT_OUT_PATTERN.search(
        user_text
    ):
        reason = {"reason": "does not want the calls"}
        return ScriptedReply(tool_name=OPT_OUT_TOOL, tool_arguments=json.dumps(reason))
    end_call = _find_tool(body.get("tools"), END_CALL_TOOL)
    if end_call is not None and _GOODBYE_PATTERN.search(user_text):
        parameters = end_call.get("parameters")
        properties = parameters.get("properties") if isinstance(parameters, dict) else None
        arguments: dict[str, str] = {}
        if isinstance(properties, dict) and "reason" in properties:
            arguments["reason"] = "caller said goodbye"
        return ScriptedReply(tool_name=END_CALL_TOOL, tool_arguments=json.dumps(arguments))
    if echo_words is not None:
        user_text = " ".join(user_text.split()[:echo_words])
    return ScriptedReply(text=echo_reply(user_text))


def _completion(body: dict[str, Any], content: str) -> dict[str, Any]:
    """A non-streamed chat completion whose message is ``content``."""
    return {
        "id": f"chatcmpl-{secrets.token_hex(12)}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": body.get("model") or "fake",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": content},
                "finish_reason": "stop",
            }
        ],
        "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
    }


def _wants_json_schema(body: dict[str, Any]) -> bool:
    response_format = body.get("response_format")
    return isinstance(response_format, dict) and response_format.get("type") == "json_schema"


def _is_screening(body: dict[str, Any]) -> bool:
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages or not isinstance(messages[0], dict):
        return False
    first = messages[0]
    return first.get("role") == "system" and _message_text(first.get("content")).startswith(
        SCREENING_PROMPT_START
    )


def echo_reply(user_text: str) -> str:
    """The fake LLM's answer to an ordinary user turn."""
    return (
        f"I heard you say: {user_text.strip().rstrip('.!?')}. "
        "Thank you for telling me. How else are you doing today?"
    )


def first_sentence_seconds(reply_text: str) -> float:
    """How long after the first chunk of a streamed reply (the LLM latency) the fake has sent
    what confirms the end of the reply's first sentence: its final punctuation and the first
    character after it (a sentence splitter can't tell "night. Thank" from "Dr. Smith" before
    it sees what follows). The earliest a text-to-speech request for it can start."""
    chunks = _text_chunks(reply_text)
    sent = ""
    for index, piece in enumerate(chunks, start=1):
        sent += piece
        if re.search(r"[.!?]\s*\S", sent):
            return index * _CHUNK_INTERVAL_S
    return len(chunks) * _CHUNK_INTERVAL_S


def _text_chunks(text: str) -> list[str]:
    """Split ``text`` into a few words per chunk, keeping the whitespace."""
    words = re.findall(r"\S+\s*", text)
    return [
        "".join(words[i : i + _WORDS_PER_CHUNK]) for i in range(0, len(words), _WORDS_PER_CHUNK)
    ]


def _argument_chunks(arguments: str) -> list[str]:
    """Split tool-call arguments JSON into pieces, as OpenAI streams them."""
    size = max(1, len(arguments) // 3)
    return [arguments[i : i + size] for i in range(0, len(arguments), size)]


def _count_tokens(text: str) -> int:
    """A rough token count (whitespace-separated words)."""
    return len(text.split())


def tone_pcm(text: str) -> bytes:
    """Speech-like synthetic audio for ``text``: 24 kHz 16-bit mono PCM.

    A harmonic-rich voice whose pitch wanders between 150 and 250 Hz, shaped by a
    4 Hz syllable envelope, lasting ``max(0.5 s, 60 ms per character)``.
    """
    seconds = max(_TONE_MIN_SECONDS, _TONE_SECONDS_PER_CHAR * len(text))
    t = np.arange(int(seconds * TTS_SAMPLE_RATE)) / TTS_SAMPLE_RATE
    pitch = 200.0 + 50.0 * np.sin(2 * np.pi * 0.7 * t)
    phase = 2 * np.pi * np.cumsum(pitch) / TTS_SAMPLE_RATE
    voice = sum(np.sin(k * phase) / k for k in range(1, 9))
    syllables = 0.2 + 0.8 * np.sin(np.pi * 4.0 * t) ** 2
    fade = np.minimum(1.0, np.minimum(t, seconds - t) / 0.02)
    signal_ = voice / np.max(np.abs(voice)) * syllables * fade * 0.3
    return np.asarray(signal_ * 32767, dtype="<i2").tobytes()


class FakeOpenAI:
    """An OpenAI-compatible HTTP server with scripted STT, LLM and TTS.

    Attributes:
        base_url: ``http://host:port/v1`` once :meth:`start` has returned.
        chat_requests: Every chat completion request body received (parsed JSON), in
            order, including those answered with an injected failure.
        stt_requests: Per valid transcription request: ``model``, ``language``,
            ``audio_seconds`` and the ``text`` returned.
        tts_requests: Per valid speech request: ``model``, ``voice``, ``input``,
            ``response_format`` and ``instructions`` (None when not sent).
    """

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        stt_latency: float = 0.0,
        llm_latency: float = 0.0,
        tts_latency: float = 0.0,
        tts_mode: TTSMode = "espeak",
        tokens_per_second: float | None = None,
        echo_words: int | None = None,
    ) -> None:
        """Configure the server; nothing listens until :meth:`start`.

        Args:
            host: Interface to listen on.
            port: Port to listen on; 0 picks a free one.
            stt_latency: Seconds before a transcription is answered.
            llm_latency: Seconds before the first chunk of a chat completion.
            tts_latency: Seconds before the first byte of synthesized audio.
            tts_mode: ``"espeak"`` for real speech via espeak-ng, ``"tone"`` for cheap
                synthetic voiced audio (about 60 ms per character), for benchmarks.
            tokens_per_second: How fast a streamed reply's text goes out after its first
                chunk, counting a word as a token (a real model streams 40-60 tokens/s); None
                (the default) sends a chunk every 10 ms, much faster than any model.
            echo_words: Echo only the first N words of what the user said (keeps the answers
                to long turns short); None (the default) echoes all of it.
        """
        if tokens_per_second is not None and tokens_per_second <= 0:
            raise ValueError("tokens_per_second must be positive")
        if tts_mode not in ("espeak", "tone"):
            raise ValueError(f"unknown tts_mode {tts_mode!r}")
        self._host = host
        self._port = port
        self._stt_latency = stt_latency
        self._llm_latency = llm_latency
        self._tts_latency = tts_latency
        self._tts_mode: TTSMode = tts_mode
        self._chunk_interval = (
            _CHUNK_INTERVAL_S if tokens_per_second is None else _WORDS_PER_CHUNK / tokens_per_second
        )
        self._echo_words = echo_words
        self.chats_abandoned = 0
        """Streamed chat replies the client stopped reading before their end (a cancelled
        answer, e.g. a preemptive reply to a turn that went on)."""
        self._runner: web.AppRunner | None = None
        self._pending_utterances: deque[str] = deque()
        self._envelopes: dict[str, np.ndarray] = {}
        self._failures_left = 0
        self._failure_status = 500
        self._outages: dict[FakeService, tuple[OutageMode, int, int | None]] = {}
        self._outage_over = asyncio.Event()
        self.outage_requests: dict[FakeService, int] = {"chat": 0, "speech": 0, "transcription": 0}
        """Requests answered with an outage (an error or a hang), per service."""
        self._tts_cache: dict[str, bytes] = {}
        self.base_url = ""
        self.chat_requests: list[dict[str, Any]] = []
        self.screening_requests: list[dict[str, Any]] = []
        """carecall's red-flag checks (kept apart from the conversation's chat requests)."""
        self.red_flag_verdicts: dict[str, tuple[str, str]] = {}
        """Caller lines the fake model calls a red flag: line → (category, evidence)."""
        self.structured_answers: dict[str, dict[str, Any]] = {}
        """Answers to structured-output requests (a JSON schema in ``response_format``, e.g.
        carecall's wellbeing record): the first whose key phrase is in the request's messages."""
        self.structured_requests: list[dict[str, Any]] = []
        self.stt_requests: list[dict[str, Any]] = []
        self.tts_requests: list[dict[str, Any]] = []

    async def start(self) -> str:
        """Start listening and return the base URL, e.g. ``http://127.0.0.1:43123/v1``."""
        if self._runner is not None:
            raise RuntimeError("FakeOpenAI is already started")
        app = web.Application(client_max_size=_MAX_UPLOAD_BYTES, middlewares=[_json_errors])
        app.router.add_post("/v1/audio/transcriptions", self._transcriptions)
        app.router.add_post("/v1/chat/completions", self._chat_completions)
        app.router.add_post("/v1/audio/speech", self._speech)
        app.router.add_post("/control/said", self._control_said)
        app.router.add_post("/control/fail_chats", self._control_fail_chats)
        app.router.add_get("/control/requests", self._control_requests)
        app.router.add_get("/control/counts", self._control_counts)
        app.router.add_post("/control/unsay", self._control_unsay)
        app.router.add_post("/control/reset", self._control_reset)
        runner = web.AppRunner(app, handle_signals=False, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, self._host, self._port)
        await site.start()
        self._runner = runner
        host, port = runner.addresses[0][:2]
        self.base_url = f"http://{host}:{port}/v1"
        return self.base_url

    async def stop(self) -> None:
        """Stop listening and close open connections."""
        self._outage_over.set()  # hung requests end now
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    def set_latency(self, *, stt: float | None = None, llm: float | None = None) -> None:
        """Change how slowly transcriptions (``stt``) or chat completions (``llm``) are answered
        from now on (e.g. to have a webhook arrive while one is under way)."""
        if stt is not None:
            self._stt_latency = stt
        if llm is not None:
            self._llm_latency = llm

    def expect_utterance(self, text: str, envelope: Sequence[float] | None = None) -> None:
        """Announce what the simulated caller is about to say; the next transcription returns it.

        ``envelope``: the `voice_envelope` of the audio actually spoken (8 kHz), when it is not
        espeak-ng's default voice, so that telling several pending utterances apart compares
        with what was really said.
        """
        self._pending_utterances.append(text)
        if envelope is not None:
            self._envelopes[text] = np.asarray(envelope, dtype=np.float64)

    def withdraw_utterance(self, text: str) -> bool:
        """Take back an announced utterance no transcription has returned yet (the oldest
        pending one equal to ``text``); False if none is pending. A caller whose pause turned
        out too short for the server to transcribe its first part alone withdraws that part and
        announces the whole, so later transcriptions stay in step."""
        try:
            self._pending_utterances.remove(text)
        except ValueError:
            return False
        if text not in self._pending_utterances:
            self._envelopes.pop(text, None)
        return True

    def fail_next_chats(self, count: int = 1, status: int = 500) -> None:
        """Make the next ``count`` chat requests fail immediately with HTTP ``status``.

        Note that the ``openai`` SDK retries 408/409/429/5xx twice by default, so one
        failure is invisible to a default client; ``count=3`` exhausts its retries.
        """
        self._failures_left = count
        self._failure_status = status

    def outage(
        self,
        service: FakeService,
        mode: OutageMode | None,
        status: int = 500,
        *,
        requests: int | None = None,
    ) -> None:
        """Until called again with ``mode=None`` (or for the next ``requests`` requests),
        ``service``'s conversation requests fail: ``"error"`` answers HTTP ``status`` at once;
        ``"hang"`` sends nothing until the outage is over (at most a minute), like a service
        that accepted the connection and stalled. Red-flag screening and structured-output
        requests are not affected."""
        if mode is None:
            self._outages.pop(service, None)
            if not self._outages:
                self._outage_over.set()
            return
        self._outages[service] = (mode, status, requests)
        self._outage_over.clear()

    async def _outage_answer(self, service: FakeService) -> web.StreamResponse | None:
        """The failure to answer with while ``service`` is out, else None."""
        outage = self._outages.get(service)
        if outage is None:
            return None
        self.outage_requests[service] += 1
        mode, status, left = outage
        if left is not None:
            if left <= 1:
                self.outage(service, None)
            else:
                self._outages[service] = (mode, status, left - 1)
        if mode == "hang":
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._outage_over.wait(), _HANG_LIMIT_S)
        return _openai_error(status, "Fake outage", "server_error")

    def reset(self) -> None:
        """Forget pending utterances, injected failures and recorded requests."""
        self._pending_utterances.clear()
        self._envelopes.clear()
        self._failures_left = 0
        self.chat_requests.clear()
        self.screening_requests.clear()
        self.structured_requests.clear()
        self.stt_requests.clear()
        self.tts_requests.clear()
        self.chats_abandoned = 0

    # -- /v1/audio/transcriptions -------------------------------------------------------

    async def _take_utterance(self, audio: WavAudio) -> str:
        """The pending utterance this audio is. With one pending, that one; with several (calls
        whose voices ended at nearly the same moment, whose transcription requests may arrive
        in either order), the one ``audio`` sounds most like."""
        pending = self._pending_utterances
        candidates = list(dict.fromkeys(list(pending)[:_MATCH_CANDIDATES]))
        known = {t: self._envelopes[t] for t in candidates if t in self._envelopes}
        if known:
            # Callers that say how their words sounded get them back only for audio that
            # sounds like all of them: a server that sends part of a sentence (its VAD stopped
            # at a comma) gets nothing, rather than another caller's words.
            text = await asyncio.to_thread(most_like, audio, candidates, known, _MIN_MATCH)
            if text:
                pending.remove(text)
        elif len(pending) <= 1:
            text = pending.popleft() if pending else ""
        else:
            text = await asyncio.to_thread(most_like, audio, candidates)
            pending.remove(text)
        if text not in pending:
            self._envelopes.pop(text, None)
        return text

    async def _transcriptions(self, request: web.Request) -> web.StreamResponse:
        try:
            form = await request.post()
        except ValueError as exc:
            raise _BadRequest(f"Could not parse the multipart form: {exc}") from exc
        upload = form.get("file")
        if not isinstance(upload, web.FileField):
            raise _BadRequest("Missing required parameter: 'file'.", "file")
        model = form.get("model")
        if not isinstance(model, str) or not model:
            raise _BadRequest("Missing required parameter: 'model'.", "model")
        language = form.get("language")
        response_format = form.get("response_format", "json")
        if response_format not in ("json", "text", "verbose_json"):
            raise _BadRequest(
                f"response_format {response_format!r} is not supported by the fake.",
                "response_format",
            )
        try:
            audio = read_wav(upload.file.read())
        except ValueError as exc:
            raise _BadRequest(f"Invalid file format: {exc}", "file") from exc
        failed = await self._outage_answer("transcription")
        if failed is not None:
            return failed  # the utterance stays pending: a retry gets it

        text = await self._take_utterance(audio)
        self.stt_requests.append(
            {
                "model": model,
                "language": language if isinstance(language, str) else None,
                "audio_seconds": audio.seconds,
                "text": text,
            }
        )
        await asyncio.sleep(self._stt_latency)
        if response_format == "text":
            return web.Response(text=text)
        if response_format == "verbose_json":
            return web.json_response(
                {
                    "task": "transcribe",
                    "language": language if isinstance(language, str) else "english",
                    "duration": audio.seconds,
                    "text": text,
                    "segments": [],
                }
            )
        return web.json_response({"text": text})

    # -- /v1/chat/completions -----------------------------------------------------------

    async def _chat_completions(self, request: web.Request) -> web.StreamResponse:
        # Latency counts from the request's arrival, like a real service's time to first
        # token; the chunks then go out on a fixed grid after it.
        first_at = time.monotonic() + self._llm_latency
        body = await _json_body(request)
        if _is_screening(body):
            self.screening_requests.append(body)
            await _sleep_until(first_at)
            return web.json_response(self._screening_answer(body))
        if _wants_json_schema(body):
            self.structured_requests.append(body)
            await _sleep_until(first_at)
            return web.json_response(self._structured_answer(body))
        self.chat_requests.append(body)
        failed = await self._outage_answer("chat")
        if failed is not None:
            return failed
        if self._failures_left > 0:
            self._failures_left -= 1
            return _openai_error(self._failure_status, "Fake upstream failure", "server_error")
        model = body.get("model")
        if not isinstance(model, str) or not model:
            raise _BadRequest("Missing required parameter: 'model'.", "model")
        if not isinstance(body.get("messages"), list):
            raise _BadRequest("Missing required parameter: 'messages'.", "messages")

        reply = scripted_reply(body, echo_words=self._echo_words)
        completion_id = f"chatcmpl-{secrets.token_hex(12)}"
        created = int(time.time())
        tool_call_id = f"call_{secrets.token_hex(12)}"
        finish_reason = "tool_calls" if reply.tool_name else "stop"
        prompt_text = " ".join(
            _message_text(m.get("content")) for m in body["messages"] if isinstance(m, dict)
        )
        prompt_tokens = _count_tokens(prompt_text)
        completion_tokens = _count_tokens(reply.text or reply.tool_arguments)
        usage = {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        }

        if not body.get("stream"):
            await _sleep_until(first_at)
            message: dict[str, Any] = {
                "role": "assistant",
                "content": reply.text or None,
            }
            if reply.tool_name:
                message["tool_calls"] = [
                    {
                        "id": tool_call_id,
                        "type": "function",
                        "function": {
                            "name": reply.tool_name,
                            "arguments": reply.tool_arguments,
                        },
                    }
                ]
            return web.json_response(
                {
                    "id": completion_id,
                    "object": "chat.completion",
                    "created": created,
                    "model": model,
                    "choices": [{"index": 0, "message": message, "finish_reason": finish_reason}],
                    "usage": usage,
                }
            )

        def chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
            return {
                "id": completion_id,
                "object": "chat.completion.chunk",
                "created": created,
                "model": model,
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
            }

        chunks: list[dict[str, Any]] = []
        if reply.tool_name:
            call_start = {
                "index": 0,
                "id": tool_call_id,
                "type": "function",
                "function": {"name": reply.tool_name, "arguments": ""},
            }
            chunks.append(chunk({"role": "assistant", "content": None, "tool_calls": [call_start]}))
            chunks.extend(
                chunk({"tool_calls": [{"index": 0, "function": {"arguments": piece}}]})
                for piece in _argument_chunks(reply.tool_arguments)
            )
        else:
            chunks.append(chunk({"role": "assistant", "content": ""}))
            chunks.extend(chunk({"content": piece}) for piece in _text_chunks(reply.text))
        chunks.append(chunk({}, finish_reason))
        stream_options = body.get("stream_options")
        if isinstance(stream_options, dict) and stream_options.get("include_usage"):
            usage_chunk = chunk({})
            usage_chunk.update(choices=[], usage=usage)
            chunks.append(usage_chunk)

        response = web.StreamResponse(
            headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"}
        )
        events = [f"data: {json.dumps(event)}\n\n".encode() for event in chunks]
        await _sleep_until(first_at)
        await response.prepare(request)
        try:
            for index, event in enumerate(events):
                await _sleep_until(first_at + index * self._chunk_interval)
                await response.write(event)
            await response.write(b"data: [DONE]\n\n")
            await response.write_eof()
        except ConnectionResetError:
            self.chats_abandoned += 1  # The client stopped reading (e.g. an interruption).
        except asyncio.CancelledError:
            self.chats_abandoned += 1  # aiohttp cancels the handler of a closed connection
            raise
        return response

    # -- /v1/audio/speech ---------------------------------------------------------------

    def _structured_answer(self, body: dict[str, Any]) -> dict[str, Any]:
        said = " ".join(
            _message_text(m.get("content")) for m in body["messages"] if isinstance(m, dict)
        )
        answer = next((a for phrase, a in self.structured_answers.items() if phrase in said), None)
        if answer is None:
            raise _BadRequest("The fake has no structured answer for these messages.")
        return _completion(body, json.dumps(answer))

    def _screening_answer(self, body: dict[str, Any]) -> dict[str, Any]:
        """A red-flag check's answer: JSON as the prompt asks, a red flag only for the lines
        in `red_flag_verdicts`."""
        line = ""
        for message in body.get("messages", []):
            if isinstance(message, dict) and message.get("role") == "user":
                line = _message_text(message.get("content"))
        line = line.removeprefix("<line>").removesuffix("</line>").strip()
        verdict = self.red_flag_verdicts.get(line)
        answer = (
            {"red_flag": True, "category": verdict[0], "evidence": verdict[1]}
            if verdict
            else {"red_flag": False, "category": None, "evidence": ""}
        )
        return _completion(body, json.dumps(answer))

    async def _speech(self, request: web.Request) -> web.StreamResponse:
        first_at = time.monotonic() + self._tts_latency  # from the request's arrival
        body = await _json_body(request)
        for required in ("model", "input", "voice"):
            if not isinstance(body.get(required), str) or not body[required]:
                raise _BadRequest(f"Missing required parameter: '{required}'.", required)
        response_format = body.get("response_format", "mp3")
        if response_format not in ("pcm", "wav"):
            raise _BadRequest(
                f"response_format {response_format!r} is not supported by the fake "
                "(use 'pcm' or 'wav').",
                "response_format",
            )
        text: str = body["input"]
        failed = await self._outage_answer("speech")
        if failed is not None:
            return failed
        self.tts_requests.append(
            {
                "model": body["model"],
                "voice": body["voice"],
                "input": text,
                "response_format": response_format,
                "instructions": body.get("instructions"),
            }
        )

        # The first byte goes out tts_latency after the request arrived, however long
        # synthesis took (as long as it took less).
        pcm = await self._synthesize(text)
        if response_format == "wav":
            audio, content_type = pcm16_wav(pcm, TTS_SAMPLE_RATE), "audio/wav"
        else:
            audio, content_type = pcm, "application/octet-stream"
        await _sleep_until(first_at)

        response = web.StreamResponse(headers={"Content-Type": content_type})
        response.enable_chunked_encoding()
        await response.prepare(request)
        try:
            for offset in range(0, len(audio), _TTS_CHUNK_BYTES):
                await response.write(audio[offset : offset + _TTS_CHUNK_BYTES])
            await response.write_eof()
        except ConnectionResetError:
            pass  # The client stopped reading (e.g. the bot was interrupted).
        return response

    async def _synthesize(self, text: str) -> bytes:
        """24 kHz 16-bit mono PCM for ``text`` in the configured mode (cached per text)."""
        cached = self._tts_cache.get(text)
        if cached is not None:
            return cached
        if self._tts_mode == "tone":
            pcm = await asyncio.to_thread(tone_pcm, text)  # keeps the other requests on time
        else:
            process = await asyncio.create_subprocess_exec(
                *espeak_command(text),
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
            )
            wav_bytes, stderr = await process.communicate()
            if process.returncode != 0:
                raise RuntimeError(f"espeak-ng failed: {stderr.decode(errors='replace')}")
            pcm = espeak_wav_to_pcm16(wav_bytes, TTS_SAMPLE_RATE)
        self._tts_cache[text] = pcm
        return pcm

    # -- /control -----------------------------------------------------------------------

    async def _control_said(self, request: web.Request) -> web.StreamResponse:
        body = await _json_body(request)
        text = body.get("text")
        if not isinstance(text, str):
            raise _BadRequest("'text' must be a string.", "text")
        envelope = body.get("envelope")
        if envelope is not None and (
            not isinstance(envelope, list) or not all(isinstance(v, int | float) for v in envelope)
        ):
            raise _BadRequest("'envelope' must be a list of numbers.", "envelope")
        self.expect_utterance(text, envelope)
        return web.json_response({"ok": True})

    async def _control_fail_chats(self, request: web.Request) -> web.StreamResponse:
        body = await _json_body(request)
        count = body.get("count", 1)
        status = body.get("status", 500)
        if not isinstance(count, int) or not isinstance(status, int):
            raise _BadRequest("'count' and 'status' must be integers.")
        self.fail_next_chats(count, status)
        return web.json_response({"ok": True})

    async def _control_requests(self, request: web.Request) -> web.StreamResponse:
        return web.json_response(
            {
                "chat_requests": self.chat_requests,
                "stt_requests": self.stt_requests,
                "tts_requests": self.tts_requests,
            }
        )

    async def _control_counts(self, request: web.Request) -> web.StreamResponse:
        return web.json_response(
            {
                "chat_requests": len(self.chat_requests),
                "chats_abandoned": self.chats_abandoned,
                "stt_requests": len(self.stt_requests),
                "tts_requests": len(self.tts_requests),
                "pending_utterances": len(self._pending_utterances),
            }
        )

    async def _control_unsay(self, request: web.Request) -> web.StreamResponse:
        body = await _json_body(request)
        text = body.get("text")
        if not isinstance(text, str):
            raise _BadRequest("'text' must be a string.", "text")
        return web.json_response({"removed": self.withdraw_utterance(text)})

    async def _control_reset(self, request: web.Request) -> web.StreamResponse:
        self.reset()
        return web.json_response({"ok": True})


async def _sleep_until(moment: float) -> None:
    await asyncio.sleep(max(0.0, moment - time.monotonic()))


async def _json_body(request: web.Request) -> dict[str, Any]:
    """The request's JSON object body.

    Raises:
        _BadRequest: If the body is not a JSON object.
    """
    try:
        body = await request.json()
    except ValueError as exc:
        raise _BadRequest(f"We could not parse the JSON body of your request: {exc}") from exc
    if not isinstance(body, dict):
        raise _BadRequest("The request body must be a JSON object.")
    return body


@web.middleware
async def _json_errors(request: web.Request, handler: _Handler) -> web.StreamResponse:
    """Answer bad requests and unknown routes with OpenAI-shaped JSON errors."""
    try:
        return await handler(request)
    except _BadRequest as exc:
        return _openai_error(400, exc.message, "invalid_request_error", exc.param)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        return _openai_error(exc.status, exc.reason, "invalid_request_error")


async def _serve(args: argparse.Namespace) -> None:
    """Run the server until SIGINT or SIGTERM, announcing ``READY <base_url>`` on stdout."""
    server = FakeOpenAI(
        host=args.host,
        port=args.port,
        stt_latency=args.stt_latency,
        llm_latency=args.llm_latency,
        tts_latency=args.tts_latency,
        tts_mode=args.tts_mode,
        tokens_per_second=args.tokens_per_second,
        echo_words=args.echo_words,
    )
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stopping.set)
    base_url = await server.start()
    print(f"READY {base_url}", flush=True)
    try:
        await stopping.wait()
    finally:
        await server.stop()


def voice_envelope(pcm: bytes, sample_rate: int) -> np.ndarray:
    """Log loudness per 20 ms of 16-bit mono PCM (resampled to 8 kHz), from the first to the
    last voiced 20 ms."""
    samples = np.frombuffer(pcm, dtype="<i2").astype(np.float64)
    if sample_rate != _ENVELOPE_RATE and samples.size:
        positions = np.arange(0, samples.size, sample_rate / _ENVELOPE_RATE)
        samples = np.interp(positions, np.arange(samples.size), samples)
    frames = samples[: samples.size // _ENVELOPE_FRAME * _ENVELOPE_FRAME]
    rms = np.sqrt((frames.reshape(-1, _ENVELOPE_FRAME) ** 2).mean(axis=1))
    voiced = np.flatnonzero(rms > _VOICE_RMS)
    if not voiced.size:
        return np.zeros(0)
    return np.log10(rms[voiced[0] : voiced[-1] + 1] + 1.0)


def most_like(
    audio: WavAudio,
    candidates: list[str],
    known: Mapping[str, np.ndarray] | None = None,
    min_score: float | None = None,
) -> str:
    """The candidate whose espeak-ng rendering (or ``known`` envelope, see `voice_envelope`)
    best matches ``audio``: voiced spans of about the same length, whose loudness rises and
    falls together (the highest normalized correlation at any offset, times the ratio of the
    lengths). ``""`` if even the best scores below ``min_score``."""
    heard = voice_envelope(audio.pcm, audio.sample_rate)
    known = known or {}

    def score(text: str) -> float:
        spoken = known.get(text)
        if spoken is None:
            spoken = voice_envelope(espeak_pcm(text, _ENVELOPE_RATE), _ENVELOPE_RATE)
        long, short = (heard, spoken) if heard.size >= spoken.size else (spoken, heard)
        if short.size < 2:
            return -1.0
        windows = np.lib.stride_tricks.sliding_window_view(long, short.size)
        windows = windows - windows.mean(axis=1, keepdims=True)
        centred = short - short.mean()
        norms = np.linalg.norm(windows, axis=1) * np.linalg.norm(centred)
        correlation = windows @ centred / np.where(norms > 0, norms, 1.0)
        whole = float(correlation.max()) * short.size / long.size
        if min_score is not None and heard.size < spoken.size and correlation[-1] >= _TAIL_MATCH:
            # The last part of what was said (a server whose VAD cut the sentence at a comma
            # sent the first part already, and got nothing for it): the whole sentence, as a
            # real speech-to-text would have returned its two halves.
            return max(whole, min_score)
        return whole

    scores = {text: score(text) for text in candidates}
    best = max(candidates, key=scores.__getitem__)
    return "" if min_score is not None and scores[best] < min_score else best


def main(argv: list[str] | None = None) -> None:
    """Command-line entry point: ``python -m tests.fakes.openai_server``."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--stt-latency", type=float, default=0.0, metavar="SECONDS")
    parser.add_argument("--llm-latency", type=float, default=0.0, metavar="SECONDS")
    parser.add_argument("--tts-latency", type=float, default=0.0, metavar="SECONDS")
    parser.add_argument("--tts-mode", choices=("espeak", "tone"), default="espeak")
    parser.add_argument(
        "--tokens-per-second",
        type=float,
        default=None,
        metavar="N",
        help="stream replies at N words/s (default: a chunk of 3 words every 10 ms)",
    )
    parser.add_argument(
        "--echo-words", type=int, default=None, metavar="N", help="echo only N words of a turn"
    )
    asyncio.run(_serve(parser.parse_args(argv)))


if __name__ == "__main__":
    main()
