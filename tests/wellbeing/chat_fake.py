"""A tiny OpenAI-compatible chat server for the red-flag check: its answer is set per test.

The shared fake (`tests.fakes.openai_server`) answers chats from a script for whole calls; the
red-flag check needs a JSON verdict per line, a slow answer and a failure, so it has this one.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from aiohttp import web
from openai import AsyncOpenAI


class ChatFake:
    def __init__(self, answer: Callable[[str], str], *, delay: float = 0.0, status: int = 200):
        self.answer = answer
        """The reply's text for the text of the request's last message."""
        self.delay = delay
        self.status = status
        self.lines: list[str] = []
        """The last message of each request received, in order."""

    async def _chat(self, request: web.Request) -> web.Response:
        body: dict[str, Any] = await request.json()
        text = body["messages"][-1]["content"]
        self.lines.append(text)
        await asyncio.sleep(self.delay)
        if self.status != 200:
            error = {"message": "fake failure", "type": "server_error", "param": None}
            return web.json_response({"error": error}, status=self.status)
        return web.json_response(
            {
                "id": "chatcmpl-fake",
                "object": "chat.completion",
                "created": int(time.time()),
                "model": body["model"],
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": self.answer(text)},
                        "finish_reason": "stop",
                    }
                ],
            }
        )


@asynccontextmanager
async def chat_fake(
    answer: Callable[[str], str], *, delay: float = 0.0, status: int = 200
) -> AsyncIterator[tuple[ChatFake, AsyncOpenAI]]:
    """A running `ChatFake` and an OpenAI client pointed at it (no retries)."""
    fake = ChatFake(answer, delay=delay, status=status)
    app = web.Application()
    app.router.add_post("/v1/chat/completions", fake._chat)
    runner = web.AppRunner(app, handle_signals=False, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    client = AsyncOpenAI(api_key="test", base_url=f"http://{host}:{port}/v1", max_retries=0)
    try:
        yield fake, client
    finally:
        await client.close()
        await runner.cleanup()
