"""The example extension (`examples/carecall-word-count`), installed into this environment as
any package would be (offline: uv builds it with its own backend), joins a real phone call once
EXTENSIONS names it: the person's word count reaches the call's events. They are read here
through Redis, as another instance of carecall would see them."""

from __future__ import annotations

import asyncio
import importlib
import shutil
import site
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from carecall.core.events import CallEvent
from carecall.pipeline.redis_bus import RedisEventBus
from carecall.settings import Settings
from tests.e2e.harness import TwilioSide, create_api_key, running_carecall
from tests.redis_support import TEST_REDIS_URL, unique_channel

pytestmark = pytest.mark.e2e

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "carecall-word-count"
SAID = ["I slept well last night", "I had porridge for breakfast"]


def _uv() -> str:
    """uv, on PATH or where pip put it (as `scripts/_uv.sh` looks for it)."""
    found = shutil.which("uv") or shutil.which("uv", path=str(Path(site.getuserbase()) / "bin"))
    assert found, "uv is needed to install the example extension (./scripts/test finds it)"
    return found


def _uv_pip(*args: str) -> None:
    done = subprocess.run(
        [_uv(), "pip", *args, "--python", sys.executable], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr


@pytest.fixture
def word_count_installed() -> Iterator[None]:
    """The example, installed from its folder with no network, then uninstalled."""
    _uv_pip("install", "--offline", "--no-deps", str(EXAMPLE))
    importlib.invalidate_caches()
    try:
        yield
    finally:
        _uv_pip("uninstall", "carecall-word-count")
        sys.modules.pop("carecall_word_count", None)
        importlib.invalidate_caches()


async def _figures_until(
    events: asyncio.Queue[CallEvent], call_id: int, total: int, timeout: float
) -> list[int]:
    seen: list[int] = []
    async with asyncio.timeout(timeout):
        while total not in seen:
            event = await events.get()
            if event.kind == "call.figure" and event.call_id == call_id:
                assert event.data["name"] == "caller_words", event.data
                seen.append(int(event.data["value"]))
    return seen


async def test_the_installed_word_count_extension_counts_the_words_said_in_a_call(
    make_settings: Callable[..., Settings], database_url: str, word_count_installed: None
) -> None:
    channel = unique_channel()
    api_key = await create_api_key(database_url)
    elsewhere = RedisEventBus(TEST_REDIS_URL, channel=channel)  # another instance's view
    await elsewhere.start()
    events: asyncio.Queue[CallEvent] = asyncio.Queue()

    async def collect() -> None:
        async with elsewhere.subscribe() as feed:
            async for event in feed:
                events.put_nowait(event)

    collector = asyncio.create_task(collect())
    try:
        async with (
            running_carecall(
                make_settings,
                database_url,
                extensions="word-count",
                redis_url=TEST_REDIS_URL,
                redis_channel=channel,
            ) as live,
            httpx.AsyncClient(
                base_url=live.server.base_url,
                timeout=10,
                headers={"Authorization": f"Bearer {api_key}"},
            ) as api,
            httpx.AsyncClient(base_url=live.server.base_url, timeout=10) as webhooks,
        ):
            placed = await api.post("/api/calls", json={"to": "+14155550100"})
            assert placed.status_code == 201, placed.text
            call_id, call_sid = placed.json()["id"], placed.json()["twilio_sid"]
            caller = await TwilioSide(live.server, live.settings, webhooks).answer(
                call_id, call_sid
            )
            await caller.wait_for_bot_utterance(timeout=20)
            for line in SAID:
                await caller.say(line, announce=live.openai.expect_utterance)
                await caller.wait_for_bot_utterance(timeout=20)
            total = sum(len(line.split()) for line in SAID)
            figures = await _figures_until(events, call_id, total, timeout=20)
            await caller.hang_up()
    finally:
        collector.cancel()
        await elsewhere.stop()

    assert figures == sorted(figures) and figures[0] == len(SAID[0].split()), figures
