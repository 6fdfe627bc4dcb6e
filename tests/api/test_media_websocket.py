"""The media websocket's door: signature on the upgrade, per-call token in `start`."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from starlette.websockets import WebSocketDisconnect
from twilio.request_validator import RequestValidator

from carecall.server import create_app
from carecall.settings import Settings
from tests.conftest import PUBLIC_BASE, TEST_AUTH_TOKEN
from tests.fakes.twilio_http import FakeAsyncTwilioHttpClient

STREAM_URL = "wss://" + PUBLIC_BASE.split("://")[1] + "/ws"
GOOD_SIGNATURE = RequestValidator(TEST_AUTH_TOKEN).compute_signature(STREAM_URL, {})


@pytest.fixture
def client(make_settings: Callable[..., Settings]) -> Iterator[TestClient]:
    settings = make_settings(media_start_timeout_seconds=2)
    with TestClient(create_app(settings, twilio_http_client=FakeAsyncTwilioHttpClient())) as c:
        yield c


def _start(call_id: str, token: str) -> str:
    return json.dumps(
        {
            "event": "start",
            "sequenceNumber": "1",
            "streamSid": "MZ" + "0" * 32,
            "start": {
                "accountSid": "AC" + "1" * 32,
                "streamSid": "MZ" + "0" * 32,
                "callSid": "CA" + "0" * 32,
                "tracks": ["inbound"],
                "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1},
                "customParameters": {"call_id": call_id, "token": token},
            },
        }
    )


def _close_code(client: TestClient, headers: dict[str, str], *messages: str | bytes) -> int:
    with client.websocket_connect("/ws", headers=headers) as ws:
        for message in messages:
            if isinstance(message, bytes):
                ws.send_bytes(message)
            else:
                ws.send_text(message)
        with pytest.raises(WebSocketDisconnect) as closed:
            ws.receive_text()
    return closed.value.code


def _token(client: TestClient, call_id: int) -> str:
    state: Any = client.app.state.carecall  # type: ignore[attr-defined]
    return str(state.tokens.issue(call_id))


@pytest.mark.parametrize(
    "headers",
    [{}, {"X-Twilio-Signature": "forged"}, {"X-Twilio-Signature": GOOD_SIGNATURE[:-2] + "x="}],
)
def test_upgrade_without_a_valid_signature_is_closed_1008(
    client: TestClient, headers: dict[str, str]
) -> None:
    start = _start("1", _token(client, 1))
    assert _close_code(client, headers, '{"event":"connected"}', start) == 1008


@pytest.mark.parametrize(
    ("call_id", "token"),
    [
        ("1", "wrong"),
        ("1", ""),
        ("2", "<token of call 1>"),
        ("abc", "x"),
        ("", ""),
        ("²", "x"),  # a digit to str.isdigit, not to int()
        ("9" * 5000, "x"),
        ("-1", "x"),
    ],
)
def test_start_with_a_wrong_call_token_is_closed_1008(
    client: TestClient, call_id: str, token: str
) -> None:
    if token == "<token of call 1>":
        token = _token(client, 1)
    headers = {"X-Twilio-Signature": GOOD_SIGNATURE}
    assert _close_code(client, headers, '{"event":"connected"}', _start(call_id, token)) == 1008


def test_garbage_before_start_is_skipped_and_a_missing_start_times_out(client: TestClient) -> None:
    headers = {"X-Twilio-Signature": GOOD_SIGNATURE}
    garbage: list[str | bytes] = ["not json", "[1,2]", '{"event":"media"}']
    assert _close_code(client, headers, *garbage) == 1008


def test_a_binary_frame_before_start_is_closed_1003(client: TestClient) -> None:
    headers = {"X-Twilio-Signature": GOOD_SIGNATURE}
    assert _close_code(client, headers, '{"event":"connected"}', b"\x00\x01") == 1003


def test_a_start_with_malformed_parameters_is_refused(client: TestClient) -> None:
    headers = {"X-Twilio-Signature": GOOD_SIGNATURE}
    start = json.loads(_start("1", _token(client, 1)))
    start["start"]["customParameters"] = ["call_id", "1"]
    assert _close_code(client, headers, json.dumps(start)) == 1008


def test_a_start_without_ids_is_refused(client: TestClient) -> None:
    headers = {"X-Twilio-Signature": GOOD_SIGNATURE}
    start = json.loads(_start("1", _token(client, 1)))
    del start["start"]["callSid"]
    assert _close_code(client, headers, json.dumps(start)) == 1008
