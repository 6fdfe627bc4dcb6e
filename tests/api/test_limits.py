"""Limits on hostile clients: API and login rate limits (429 with Retry-After), websocket
message size (1009), and the cap on media websockets that have not sent `start` (1013)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator

import pytest
from fastapi.testclient import TestClient
from starlette.websockets import WebSocketDisconnect
from twilio.request_validator import RequestValidator

from carecall.api.rate_limit import ApiRateLimit, RateLimited, TokenBucket
from carecall.auth.service import LoginThrottle, TooManyAttempts
from carecall.settings import Settings
from tests.api.support import (
    add_api_key,
    add_operator,
    app_state,
    log_in,
    make_client,
    submit_login,
)
from tests.conftest import PUBLIC_BASE, TEST_AUTH_TOKEN
from tests.fakes.twilio_http import FakeAsyncTwilioHttpClient

STREAM_URL = "wss://" + PUBLIC_BASE.split("://")[1] + "/ws"
TWILIO_HEADERS = {
    "X-Twilio-Signature": RequestValidator(TEST_AUTH_TOKEN).compute_signature(STREAM_URL, {})
}
OVERSIZED = "x" * (64 * 1024 + 1)


class ManualClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


# --- the token bucket -------------------------------------------------------------------------


def test_a_bucket_allows_its_burst_then_refills_at_its_rate() -> None:
    clock = ManualClock()
    bucket = TokenBucket(60, clock=clock)  # one a second
    for _ in range(60):
        bucket.take("a")
    with pytest.raises(RateLimited) as limited:
        bucket.take("a")
    assert limited.value.retry_after == 1
    bucket.take("b")  # other keys have their own bucket

    clock.now += 1.0
    bucket.take("a")
    with pytest.raises(RateLimited):
        bucket.take("a")
    clock.now += 60.0
    for _ in range(60):  # refilled to the burst, no further
        bucket.take("a")
    with pytest.raises(RateLimited):
        bucket.take("a")


def test_a_bucket_forgets_idle_keys_past_its_size() -> None:
    clock = ManualClock()
    bucket = TokenBucket(2, clock=clock, max_keys=10)
    for n in range(10):
        bucket.take(f"key{n}")
    clock.now += 61
    bucket.take("new")
    assert len(bucket._buckets) == 1


# --- the API ----------------------------------------------------------------------------------


@pytest.fixture
def limited(make_settings: Callable[..., Settings]) -> Iterator[TestClient]:
    """An app whose API allows 3 requests a minute per caller, on a clock the test moves."""
    yield from make_client(
        make_settings(api_rate_limit_per_minute=3), FakeAsyncTwilioHttpClient(), api_key=False
    )


def _limit_on(client: TestClient, clock: ManualClock) -> None:
    state = app_state(client)
    state.api_rate_limit = ApiRateLimit(state.settings.api_rate_limit_per_minute, clock=clock)


def test_an_api_key_over_its_limit_gets_429_then_recovers(limited: TestClient) -> None:
    clock = ManualClock()
    _limit_on(limited, clock)
    first = {"Authorization": f"Bearer {add_api_key(limited, 'first')}"}
    second = {"Authorization": f"Bearer {add_api_key(limited, 'second')}"}

    for _ in range(3):
        assert limited.get("/api/calls", headers=first).status_code == 200
    refused = limited.get("/api/calls", headers=first)
    assert refused.status_code == 429
    assert refused.headers["Retry-After"] == "20"  # one request every 20 s
    assert "3 a minute per API key or session" in refused.json()["detail"]
    assert "Try again in 20 seconds" in refused.json()["detail"]
    # Another key, and Twilio's webhooks, are not held back.
    assert limited.get("/api/calls", headers=second).status_code == 200
    assert limited.post("/twilio/status", data={}).status_code == 403

    clock.now += 19
    assert limited.get("/api/calls", headers=first).status_code == 429
    clock.now += 1
    assert limited.get("/api/calls", headers=first).status_code == 200
    assert limited.get("/api/calls", headers=first).status_code == 429


def test_a_session_has_its_own_limit(limited: TestClient) -> None:
    clock = ManualClock()
    _limit_on(limited, clock)
    add_operator(limited)
    log_in(limited)
    for _ in range(3):
        assert limited.get("/api/calls").status_code == 200
    refused = limited.get("/api/calls")
    assert refused.status_code == 429 and refused.headers["Retry-After"] == "20"
    key = add_api_key(limited)
    assert limited.get("/api/calls", headers={"Authorization": f"Bearer {key}"}).status_code == 200


def test_a_limit_of_zero_turns_it_off(make_settings: Callable[..., Settings]) -> None:
    for client in make_client(
        make_settings(api_rate_limit_per_minute=0), FakeAsyncTwilioHttpClient()
    ):
        assert all(client.get("/api/calls").status_code == 200 for _ in range(30))


# --- signing in -------------------------------------------------------------------------------


@pytest.fixture
def browser(make_settings: Callable[..., Settings]) -> Iterator[TestClient]:
    """An anonymous browser; X-Forwarded-For names its address (every proxy trusted)."""
    for client in make_client(
        make_settings(forwarded_allow_ips="*"), FakeAsyncTwilioHttpClient(), api_key=False
    ):
        add_operator(client)
        yield client


def _from(client: TestClient, address: str) -> None:
    client.headers["X-Forwarded-For"] = address


def test_login_is_limited_per_email(browser: TestClient) -> None:
    for n in range(5):
        _from(browser, f"203.0.113.{n}")
        assert submit_login(browser, password="guessing wrong").status_code == 401
    _from(browser, "203.0.113.99")  # a new address does not help
    throttled = submit_login(browser, password="guessing wrong")
    assert throttled.status_code == 429
    assert 890 <= int(throttled.headers["Retry-After"]) <= 901
    assert "Too many failed sign-in attempts. Try again in" in throttled.text
    # Another account is still open from there.
    assert submit_login(browser, email="other@example.org").status_code == 401


def test_login_is_limited_per_address(browser: TestClient) -> None:
    _from(browser, "198.51.100.7")
    for n in range(5):
        assert submit_login(browser, email=f"guess{n}@example.org").status_code == 401
    throttled = submit_login(browser)  # even the right account, from that address
    assert throttled.status_code == 429 and int(throttled.headers["Retry-After"]) > 0
    _from(browser, "198.51.100.8")
    assert submit_login(browser).status_code == 303


def test_the_login_throttle_opens_after_its_window() -> None:
    clock = ManualClock()
    throttle = LoginThrottle(max_failures=2, window=60, clock=clock)
    throttle.fail("email:a")
    clock.now += 30
    throttle.fail("email:a")
    with pytest.raises(TooManyAttempts) as throttled:
        throttle.check("email:a")
    assert throttled.value.retry_after == 31
    clock.now += 31
    throttle.check("email:a")  # the first failure left the window


# --- websockets -------------------------------------------------------------------------------


@pytest.fixture
def media(make_settings: Callable[..., Settings]) -> Iterator[TestClient]:
    settings = make_settings(media_start_timeout_seconds=5, max_pending_media_streams=2)
    yield from make_client(settings, FakeAsyncTwilioHttpClient(), api_key=False)


def _start(call_id: int, token: str) -> str:
    return json.dumps(
        {
            "event": "start",
            "streamSid": "MZ" + "0" * 32,
            "start": {
                "streamSid": "MZ" + "0" * 32,
                "callSid": "CA" + "0" * 32,
                "customParameters": {"call_id": str(call_id), "token": token},
            },
        }
    )


def test_an_oversized_media_message_closes_the_socket_1009(media: TestClient) -> None:
    for message in (OVERSIZED, OVERSIZED.encode()):
        with media.websocket_connect("/ws", headers=TWILIO_HEADERS) as ws:
            if isinstance(message, str):
                ws.send_text(message)
            else:
                ws.send_bytes(message)
            with pytest.raises(WebSocketDisconnect) as closed:
                ws.receive_text()
        assert closed.value.code == 1009


def test_an_oversized_dashboard_message_closes_the_socket_1009(
    make_settings: Callable[..., Settings],
) -> None:
    for client in make_client(make_settings(), FakeAsyncTwilioHttpClient(), api_key=False):
        add_operator(client)
        log_in(client)
        with client.websocket_connect("/ws/dashboard") as ws:
            assert ws.receive_json()["type"] == "snapshot"
            ws.send_text("small messages are ignored")
            ws.send_text(OVERSIZED)
            with pytest.raises(WebSocketDisconnect) as closed:
                ws.receive_json()
        assert closed.value.code == 1009


def _wait_pending(client: TestClient, count: int) -> None:
    deadline = time.monotonic() + 5
    while app_state(client).pending_streams.count != count:
        assert time.monotonic() < deadline, app_state(client).pending_streams.count
        time.sleep(0.01)


def test_idle_media_websockets_past_the_cap_are_turned_away_1013(media: TestClient) -> None:
    with (
        media.websocket_connect("/ws", headers=TWILIO_HEADERS) as first,
        media.websocket_connect("/ws", headers=TWILIO_HEADERS),
    ):
        first.send_text('{"event": "connected"}')
        _wait_pending(media, 2)
        with media.websocket_connect("/ws", headers=TWILIO_HEADERS) as third:
            with pytest.raises(WebSocketDisconnect) as closed:
                third.receive_text()
            assert closed.value.code == 1013
        # Without a signature, a socket is refused at once and never waits.
        with media.websocket_connect("/ws") as unsigned:
            with pytest.raises(WebSocketDisconnect) as closed:
                unsigned.receive_text()
            assert closed.value.code == 1008
        first.send_text(_start(1, "forged"))
        with pytest.raises(WebSocketDisconnect) as closed:
            first.receive_text()
        assert closed.value.code == 1008
        _wait_pending(media, 1)
        # A place is free again: the next stream is heard (and refused for its forged token).
        with media.websocket_connect("/ws", headers=TWILIO_HEADERS) as fourth:
            fourth.send_text(_start(1, "forged"))
            with pytest.raises(WebSocketDisconnect) as closed:
                fourth.receive_text()
            assert closed.value.code == 1008
    _wait_pending(media, 0)
