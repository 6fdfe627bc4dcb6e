"""A tiny OpenAI-compatible chat-completions server for the wellbeing tests.

It fakes the network boundary only: the real ``openai`` SDK talks HTTP to it. It answers
``POST /v1/chat/completions`` without streaming, as OpenAI does for structured outputs, and
refuses what the record's request must not be (streaming, no JSON schema) with an OpenAI-shaped
400. Each answer comes from a script the test writes: failures first (``fail``), then replies
queued with ``reply``, else the reply whose key phrase is in the transcript (``reply_when``).

It runs on its own thread and event loop, so a test can drive an app under a TestClient
(blocking calls into the app's loop) while the app's worker calls this server.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from aiohttp import web


@dataclass(frozen=True)
class Failure:
    status: int
    message: str


class FakeLLM:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._failures: deque[Failure] = deque()
        self._replies: deque[str] = deque()
        self._by_phrase: dict[str, str] = {}
        self.requests: list[dict[str, Any]] = []
        self.request_times: list[float] = []
        self.base_url = ""
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.AppRunner | None = None
        self._thread: threading.Thread | None = None

    # --- the script --------------------------------------------------------------------------

    def fail(self, times: int = 1, status: int = 500, message: str = "Upstream is down") -> None:
        with self._lock:
            self._failures.extend(Failure(status, message) for _ in range(times))

    def reply(self, content: str | dict[str, Any]) -> None:
        """Answer the next request with `content` (a dict is sent as its JSON)."""
        with self._lock:
            self._replies.append(_text(content))

    def reply_when(self, phrase: str, content: str | dict[str, Any]) -> None:
        """Answer any request whose transcript contains `phrase` with `content`."""
        with self._lock:
            self._by_phrase[phrase] = _text(content)

    @property
    def chat_count(self) -> int:
        with self._lock:
            return len(self.requests)

    # --- serving -----------------------------------------------------------------------------

    def start(self) -> str:
        ready = threading.Event()

        def serve() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            asyncio.set_event_loop(loop)
            app = web.Application()
            app.router.add_post("/v1/chat/completions", self._chat)
            runner = web.AppRunner(app)
            loop.run_until_complete(runner.setup())
            site = web.TCPSite(runner, "127.0.0.1", 0)
            loop.run_until_complete(site.start())
            self._runner = runner
            port = runner.addresses[0][1]
            self.base_url = f"http://127.0.0.1:{port}/v1"
            ready.set()
            loop.run_forever()
            loop.run_until_complete(runner.cleanup())
            loop.close()

        self._thread = threading.Thread(target=serve, name="fake-llm", daemon=True)
        self._thread.start()
        if not ready.wait(10):
            raise RuntimeError("the fake LLM did not start")
        return self.base_url

    def stop(self) -> None:
        if self._loop is not None and self._thread is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)

    async def _chat(self, request: web.Request) -> web.StreamResponse:
        try:
            body = await request.json()
        except json.JSONDecodeError:
            return _error(400, "The body is not JSON.")
        with self._lock:
            self.requests.append(body)
            self.request_times.append(time.monotonic())
            failure = self._failures.popleft() if self._failures else None
        if failure is not None:
            return _error(failure.status, failure.message, "server_error")
        problem = _request_problem(body)
        if problem:
            return _error(400, problem)
        transcript = "\n".join(
            str(m.get("content", "")) for m in body["messages"] if m.get("role") == "user"
        )
        with self._lock:
            if self._replies:
                content = self._replies.popleft()
            else:
                matches = [c for p, c in self._by_phrase.items() if p in transcript]
                if not matches:
                    return _error(400, "The fake LLM has no reply scripted for this transcript.")
                content = matches[0]
        return web.json_response(
            {
                "id": "chatcmpl-fake",
                "object": "chat.completion",
                "created": int(time.time()),
                "model": body["model"],
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": content, "refusal": None},
                        "finish_reason": "stop",
                        "logprobs": None,
                    }
                ],
                "usage": {"prompt_tokens": 100, "completion_tokens": 50, "total_tokens": 150},
            }
        )


def _request_problem(body: dict[str, Any]) -> str | None:
    if not isinstance(body.get("model"), str) or not body["model"]:
        return "model is required."
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        return "messages is required."
    if body.get("stream"):
        return "The record is asked for without streaming."
    response_format = body.get("response_format") or {}
    if response_format.get("type") != "json_schema":
        return "response_format must be a json_schema."
    schema = response_format.get("json_schema", {}).get("schema", {})
    if schema.get("type") != "object" or "summary" not in schema.get("properties", {}):
        return "The JSON schema is not the record's."
    return None


def _error(status: int, message: str, kind: str = "invalid_request_error") -> web.Response:
    return web.json_response(
        {"error": {"message": message, "type": kind, "param": None, "code": None}}, status=status
    )


def _text(content: str | dict[str, Any]) -> str:
    return content if isinstance(content, str) else json.dumps(content)


@contextmanager
def running_fake_llm() -> Iterator[FakeLLM]:
    fake = FakeLLM()
    fake.start()
    try:
        yield fake
    finally:
        fake.stop()
