"""A red flag's alert quotes what the person said, end to end, on SQLite and PostgreSQL: the
caller's sentence (not the words a rule matched) is in the text to the caregiver, in the alert
the API returns, on Today and on the call's page. The real server on loopback, the fake
OpenAI-compatible server and a simulated Twilio caller (`test_red_flag_e2e` has the rest)."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import AsyncIterator, Callable
from html import unescape
from typing import Any

import httpx
import pytest

from carecall.cli import standalone_auth
from carecall.settings import Settings
from tests.checkins.clocks import FakeClock
from tests.e2e.harness import TwilioSide, create_api_key, running_carecall
from tests.e2e.test_red_flag_e2e import MARY, NINE_IN_CHICAGO, SUSAN, Stack, _add_mary

pytestmark = pytest.mark.e2e

OPERATOR = ("nurse@example.org", "correct horse battery staple")
_CSRF_FIELD = re.compile(r'<input type="hidden" name="csrf_token" value="([^"]+)">')
SAID = "I fell in the bathroom and I can't get up"


@pytest.fixture
async def stack(
    make_settings: Callable[..., Settings], database_url: str
) -> AsyncIterator[tuple[Stack, httpx.AsyncClient]]:
    api_key = await create_api_key(database_url)
    async with standalone_auth(database_url) as auth:
        await auth.create_operator(*OPERATOR, is_admin=True)
    clock = FakeClock(NINE_IN_CHICAGO)
    await _add_mary(database_url, clock)
    async with running_carecall(make_settings, database_url, clock=clock) as live:
        base_url = live.server.base_url
        async with (
            httpx.AsyncClient(
                base_url=base_url, timeout=10, headers={"Authorization": f"Bearer {api_key}"}
            ) as api,
            httpx.AsyncClient(base_url=base_url, timeout=10) as webhooks,
            httpx.AsyncClient(base_url=base_url, timeout=10) as browser,
        ):
            await _sign_in(browser)
            twilio = TwilioSide(live.server, live.settings, webhooks)
            yield Stack(live.openai, live.twilio_http, api, twilio), browser


async def _sign_in(browser: httpx.AsyncClient) -> None:
    page = await browser.get("/login")
    found = _CSRF_FIELD.search(page.text)
    assert found, page.text
    email, password = OPERATOR
    response = await browser.post(
        "/login",
        data={"email": email, "password": password, "csrf_token": found.group(1), "next": "/"},
    )
    assert response.status_code == 303, response.text


def _text(html: str) -> str:
    return re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", " ", html)))


def _texts_to(stack: Stack, number: str) -> list[dict[str, Any]]:
    return [
        r.data
        for r in stack.twilio_http.requests
        if r.method == "POST" and r.url.endswith("/Messages.json") and r.data.get("To") == number
    ]


async def test_the_alert_quotes_the_persons_own_sentence(
    stack: tuple[Stack, httpx.AsyncClient],
) -> None:
    calls, browser = stack
    response = await calls.api.post("/api/calls", json={"to": MARY})
    assert response.status_code == 201, response.text
    call_id, call_sid = response.json()["id"], response.json()["twilio_sid"]
    caller = await calls.twilio.answer(call_id, call_sid)
    await caller.wait_for_bot_utterance(timeout=20)

    await caller.say(f"Oh dear. {SAID}.", announce=calls.openai.expect_utterance)
    deadline = time.monotonic() + 10
    while not _texts_to(calls, SUSAN):
        assert time.monotonic() < deadline, "no text to the caregiver"
        await asyncio.sleep(0.05)

    (text,) = _texts_to(calls, SUSAN)
    assert f"during today's call Molly said “{SAID}”. We advised calling 911." in text["Body"]
    (alert,) = (await calls.api.get("/api/alerts")).json()["items"]
    assert alert["evidence"] == SAID
    said = f"Molly said “{SAID}”."
    assert f"Red flag on the call (a fall). {said}" in _text((await browser.get("/today")).text)
    call_page = (await browser.get(f"/calls/{call_id}")).text
    assert 'id="call-alerts"' in call_page
    assert f"Red flag on the call (a fall). {said}" in _text(call_page)
    await caller.hang_up()


async def test_wording_only_the_classifier_knows_raises_the_alert_at_once(
    stack: tuple[Stack, httpx.AsyncClient],
) -> None:
    calls, _ = stack
    line = "My breathing is shocking today, I can hardly talk"
    response = await calls.api.post("/api/calls", json={"to": MARY})
    call_id, call_sid = response.json()["id"], response.json()["twilio_sid"]
    caller = await calls.twilio.answer(call_id, call_sid)
    await caller.wait_for_bot_utterance(timeout=20)

    await caller.say(line, announce=calls.openai.expect_utterance)
    finished = time.monotonic()
    while not _texts_to(calls, SUSAN):
        assert time.monotonic() - finished < 2.0, "no text within 2 s of the line"
        await asyncio.sleep(0.05)
    (alert,) = (await calls.api.get("/api/alerts")).json()["items"]
    assert (alert["category"], alert["detector"]) == ("breathing", "classifier")
    assert alert["evidence"] == line
    assert not calls.openai.screening_requests, "a line flagged locally is not sent to the model"
    await caller.hang_up()
