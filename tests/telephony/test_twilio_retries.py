"""Which Twilio failures `TwilioGateway` retries: 429 and 503 (Twilio did not act) always;
other 5xx only for requests that can be repeated without effect (a lookup, a hang-up), never
for placing a call or a text, which may already have happened."""

from __future__ import annotations

import pytest

from carecall.telephony.twilio_client import CallbackUrls, TwilioError, TwilioGateway
from tests.fakes.twilio_http import FakeAsyncTwilioHttpClient

MARY = "+14155550100"
URLS = CallbackUrls("https://carecall.example/twilio/voice", "https://carecall.example/status")


async def test_placing_a_call_is_retried_after_429_and_503(
    gateway: TwilioGateway, fake: FakeAsyncTwilioHttpClient
) -> None:
    fake.queue_error(429, 20429, "Too Many Requests")
    fake.queue_error(503, 20503, "Service Unavailable")
    placed = await gateway.place_call(MARY, URLS)
    assert len(fake.requests) == 3
    assert list(fake.calls) == [placed.sid]


@pytest.mark.parametrize("status", [500, 502, 504])
async def test_placing_a_call_is_not_repeated_after_another_server_error(
    gateway: TwilioGateway, fake: FakeAsyncTwilioHttpClient, status: int
) -> None:
    fake.queue_error(status, 20500, "Internal Server Error")
    with pytest.raises(TwilioError) as raised:
        await gateway.place_call(MARY, URLS)
    assert raised.value.status == status
    assert len(fake.requests) == 1  # Mary is never rung twice for one try


async def test_a_text_is_retried_after_429_and_503_but_not_500(
    gateway: TwilioGateway, fake: FakeAsyncTwilioHttpClient
) -> None:
    fake.queue_error(503, 20503, "Service Unavailable")
    fake.queue_error(429, 20429, "Too Many Requests")
    sid = await gateway.send_sms(MARY, "Hello")
    assert len(fake.requests) == 3 and list(fake.messages) == [sid]

    fake.queue_error(500, 20500, "Internal Server Error")
    with pytest.raises(TwilioError):
        await gateway.send_sms(MARY, "Hello again")
    assert len(fake.requests) == 4 and len(fake.messages) == 1


async def test_a_hang_up_and_a_lookup_are_retried_after_server_errors(
    gateway: TwilioGateway, fake: FakeAsyncTwilioHttpClient
) -> None:
    placed = await gateway.place_call(MARY, URLS)
    fake.queue_error(500, 20500, "Internal Server Error")
    fake.queue_error(502, 20500, "Bad Gateway")
    state = await gateway.fetch_call(placed.sid)
    assert state is not None and state.sid == placed.sid
    fake.queue_error(500, 20500, "Internal Server Error")
    await gateway.end_call(placed.sid)
    assert fake.calls[placed.sid]["status"] == "completed"
    assert len(fake.requests) == 1 + 3 + 2


async def test_retries_stop_after_four_tries_and_the_error_is_reported(
    gateway: TwilioGateway, fake: FakeAsyncTwilioHttpClient
) -> None:
    errors: list[TwilioError] = []
    gateway.on_error(errors.append)
    for _ in range(4):
        fake.queue_error(429, 20429, "Too Many Requests")
    with pytest.raises(TwilioError, match="rate-limiting"):
        await gateway.place_call(MARY, URLS)
    assert len(fake.requests) == 4 and fake.calls == {}
    assert len(errors) == 1
