"""Twilio's webhooks through the real app: signed TwiML and status callbacks.

Requests are signed as Twilio signs them: over the *public* URL (WEBHOOK_URL + path + query),
whatever host the request actually arrives on. The status-callback sequence runs on SQLite and
on PostgreSQL (the `database_url` fixture).
"""

from __future__ import annotations

import asyncio
import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from anyio.from_thread import BlockingPortal
from fastapi.testclient import TestClient
from twilio.request_validator import RequestValidator

from carecall.calls.briefs import GENERIC_BRIEF, CallBrief
from carecall.checkins.roster import RosterService, SeniorInput
from carecall.core.events import CallEvent, InProcessEventBus
from carecall.settings import Settings
from tests.api.support import (
    FROM,
    TO,
    app_state,
    get_call,
    make_client,
    on_app_loop,
    place_call,
    sign,
    signed_post,
    status_params,
    status_path,
)
from tests.conftest import TEST_ACCOUNT_SID, TEST_AUTH_TOKEN
from tests.fakes.twilio_http import FakeAsyncTwilioHttpClient

FORBIDDEN = {"detail": "Invalid or missing Twilio signature."}


def voice_params(sid: str) -> dict[str, str]:
    return {
        "AccountSid": TEST_ACCOUNT_SID,
        "ApiVersion": "2010-04-01",
        "CallSid": sid,
        "CallStatus": "in-progress",
        "Direction": "outbound-api",
        "From": FROM,
        "To": TO,
    }


class Events:
    """The bus's events, read from the test's thread through the app's portal."""

    def __init__(self, portal: BlockingPortal, events: AsyncIterator[CallEvent]) -> None:
        self._portal = portal
        self._events = events

    def next(self) -> CallEvent:
        async def next_event() -> CallEvent:
            return await asyncio.wait_for(anext(self._events), 2)

        return self._portal.call(next_event)

    def nothing_more(self) -> list[CallEvent]:
        """What else arrives within 0.2 s of quiet (should be nothing)."""

        async def drain() -> list[CallEvent]:
            extra: list[CallEvent] = []
            try:
                while True:
                    extra.append(await asyncio.wait_for(anext(self._events), 0.2))
            except TimeoutError:
                return extra

        return self._portal.call(drain)


@contextmanager
def subscribed(client: TestClient, bus: InProcessEventBus) -> Iterator[Events]:
    portal = client.portal
    assert portal is not None
    subscription = bus.subscribe()
    events: AsyncIterator[CallEvent] = portal.call(subscription.__aenter__)
    try:
        yield Events(portal, events)
    finally:
        portal.call(subscription.__aexit__, None, None, None)


# --- the voice webhook ------------------------------------------------------------------------


def test_voice_webhook_connects_the_call_to_the_media_stream(client: TestClient) -> None:
    call = place_call(client)
    path = f"/twilio/voice?call_id={call['id']}"

    response = signed_post(client, path, voice_params(call["twilio_sid"]))

    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/xml")
    root = ET.fromstring(response.text)
    assert root.tag == "Response"
    assert [child.tag for child in root] == ["Connect"]
    stream = root.find("./Connect/Stream")
    assert stream is not None
    assert stream.get("url") == "wss://carecall.example.org/ws"
    parameters = {p.get("name"): p.get("value") for p in stream.findall("Parameter")}
    token = client.app.state.carecall.tokens.issue(call["id"])  # type: ignore[attr-defined]
    assert parameters == {"call_id": str(call["id"]), "token": token}
    assert f'<Parameter name="call_id" value="{call["id"]}" />' in response.text
    assert f'<Parameter name="token" value="{token}" />' in response.text
    assert '<Connect><Stream url="wss://carecall.example.org/ws">' in response.text


def test_voice_webhook_token_differs_per_call(client: TestClient) -> None:
    tokens = []
    for call_id in (1, 2):
        path = f"/twilio/voice?call_id={call_id}"
        response = signed_post(client, path, voice_params("CA" + "0" * 32))
        stream = ET.fromstring(response.text).find("./Connect/Stream")
        assert stream is not None
        tokens.append({p.get("name"): p.get("value") for p in stream}["token"])
    assert tokens[0] != tokens[1]


def test_voice_webhook_remembers_whom_the_call_is_for(db_client: TestClient) -> None:
    """The media stream will take the person's brief from memory, not the database."""
    state = app_state(db_client)
    roster = RosterService(state.seniors, state.clock)
    mary = on_app_loop(
        db_client,
        roster.create,
        SeniorInput(
            "Mary Jones",
            "+14155550123",
            "America/Chicago",
            preferred_name="Molly",
            notes="Loves roses.",
            on_behalf_of="your son Tom",
        ),
    )
    call = on_app_loop(db_client, state.calls.create, mary.phone_number, FROM, senior_id=mary.id)
    stranger = place_call(db_client)

    for call_id, sid in ((call.id, "CA" + "1" * 32), (stranger["id"], stranger["twilio_sid"])):
        response = signed_post(db_client, f"/twilio/voice?call_id={call_id}", voice_params(sid))
        assert response.status_code == 200 and "<Connect>" in response.text

    assert state.briefs.get(call.id) == CallBrief(
        "Molly", "your son Tom", "Loves roses.", "en", senior_id=mary.id
    )
    assert state.briefs.get(stranger["id"]) == GENERIC_BRIEF


@pytest.mark.parametrize("query", ["", "?call_id=", "?call_id=abc", "?call_id=-1"])
def test_voice_webhook_without_a_call_id_hangs_up(client: TestClient, query: str) -> None:
    response = signed_post(client, "/twilio/voice" + query, voice_params("CA" + "0" * 32))

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/xml")
    root = ET.fromstring(response.text)
    assert [child.tag for child in root] == ["Hangup"]
    assert "token" not in response.text


# --- forged requests --------------------------------------------------------------------------


def _forgeries(
    path: str, params: dict[str, str]
) -> dict[str, tuple[dict[str, str], dict[str, str]]]:
    """name → (headers, form) of requests that must be refused."""
    altered = {**params, "CallStatus": "completed", "CallDuration": "999"}
    other_path = path.replace("call_id=", "call_id=9")
    internal_url = "http://testserver" + path
    return {
        "unsigned": ({}, params),
        "empty signature": ({"X-Twilio-Signature": ""}, params),
        "garbage signature": ({"X-Twilio-Signature": "AAAAAAAAAAAAAAAAAAAAAAAAAAA="}, params),
        "wrong auth token": ({"X-Twilio-Signature": sign(path, params, "not-the-token")}, params),
        "signed for another URL": ({"X-Twilio-Signature": sign(other_path, params)}, params),
        "signed for the internal URL": (
            {
                "X-Twilio-Signature": RequestValidator(TEST_AUTH_TOKEN).compute_signature(
                    internal_url, params
                )
            },
            params,
        ),
        "replayed with altered params": ({"X-Twilio-Signature": sign(path, params)}, altered),
        "replayed with an added param": (
            {"X-Twilio-Signature": sign(path, params)},
            {**params, "AnsweredBy": "human"},
        ),
        "replayed with a removed param": (
            {"X-Twilio-Signature": sign(path, params)},
            {k: v for k, v in params.items() if k != "From"},
        ),
    }


FORGERY_NAMES = list(_forgeries("/x?call_id=1", status_params("CA", "ringing", 1)))


@pytest.mark.parametrize("forgery", FORGERY_NAMES)
def test_forged_status_callbacks_are_403_and_change_nothing(
    client: TestClient, bus: InProcessEventBus, forgery: str
) -> None:
    call = place_call(client)
    before = get_call(client, call["id"])
    path = status_path(call)
    headers, form = _forgeries(path, status_params(call["twilio_sid"], "ringing", 1))[forgery]

    response = client.post(path, data=form, headers=headers)

    assert response.status_code == 403
    assert response.headers["content-type"] == "application/json"
    assert response.json() == FORBIDDEN
    assert get_call(client, call["id"]) == before
    assert before["status"] == "queued"


@pytest.mark.parametrize("forgery", FORGERY_NAMES)
def test_forged_voice_webhooks_are_403_without_a_token(client: TestClient, forgery: str) -> None:
    call = place_call(client)
    path = f"/twilio/voice?call_id={call['id']}"
    headers, form = _forgeries(path, voice_params(call["twilio_sid"]))[forgery]

    response = client.post(path, data=form, headers=headers)

    assert response.status_code == 403
    assert response.json() == FORBIDDEN
    token = client.app.state.carecall.tokens.issue(call["id"])  # type: ignore[attr-defined]
    assert token not in response.text


def test_signature_of_one_webhook_does_not_open_the_other(client: TestClient) -> None:
    call = place_call(client)
    params = voice_params(call["twilio_sid"])
    signature = sign(f"/twilio/voice?call_id={call['id']}", params)

    response = client.post(
        status_path(call), data=params, headers={"X-Twilio-Signature": signature}
    )

    assert response.status_code == 403
    assert get_call(client, call["id"])["status"] == "queued"


# --- behind a proxy ---------------------------------------------------------------------------


@pytest.mark.parametrize("client_host", ["127.0.0.1", "203.0.113.50"])
def test_requests_through_a_proxy_validate_against_the_public_url(
    make_settings: Callable[..., Settings],
    fake_twilio: FakeAsyncTwilioHttpClient,
    client_host: str,
) -> None:
    """The app listens on an internal address; Twilio signed https://carecall.example.org."""
    proxy_headers = {
        "X-Forwarded-Proto": "https",
        "X-Forwarded-Host": "carecall.example.org",
        "X-Forwarded-For": "54.172.60.1",
    }
    for client in make_client(
        make_settings(forwarded_allow_ips="127.0.0.1"),
        fake_twilio,
        base_url="http://10.0.0.7:8000",
        client=(client_host, 41234),
    ):
        call = place_call(client)
        path = status_path(call)
        params = status_params(call["twilio_sid"], "ringing", 2)

        response = signed_post(client, path, params, headers=proxy_headers)
        assert response.status_code == 204, response.text
        assert get_call(client, call["id"])["status"] == "ringing"

        voice_path = f"/twilio/voice?call_id={call['id']}"
        voice = signed_post(client, voice_path, voice_params(call["twilio_sid"]), proxy_headers)
        assert voice.status_code == 200
        assert 'url="wss://carecall.example.org/ws"' in voice.text

        # A signature over the address the request arrived on is not Twilio's.
        for arrived_on in (f"http://10.0.0.7:8000{path}", f"https://10.0.0.7:8000{path}"):
            forged = RequestValidator(TEST_AUTH_TOKEN).compute_signature(arrived_on, params)
            refused = client.post(
                path, data=params, headers={**proxy_headers, "X-Twilio-Signature": forged}
            )
            assert refused.status_code == 403


# --- status callbacks -------------------------------------------------------------------------


def test_status_callbacks_move_the_call_forward_only(db_client: TestClient) -> None:
    call = place_call(db_client)
    sid, path = call["twilio_sid"], status_path(call)

    def post(status: str, sequence: int, **extra: str) -> None:
        response = signed_post(db_client, path, status_params(sid, status, sequence, **extra))
        assert response.status_code == 204, response.text
        assert response.content == b""

    post("initiated", 1)
    assert get_call(db_client, call["id"])["status"] == "initiated"
    post("ringing", 2)
    assert get_call(db_client, call["id"])["status"] == "ringing"
    post("in-progress", 3)
    answered = get_call(db_client, call["id"])
    assert answered["status"] == "in-progress"
    assert answered["answered_at"] is not None
    assert answered["ended_at"] is None
    post("completed", 4, CallDuration="42")
    completed = get_call(db_client, call["id"])

    post("ringing", 2)  # late
    post("completed", 4, CallDuration="42")  # duplicate
    post("in-progress", 3)  # out of order
    post("completed", 5, CallDuration="43")  # a second, different completion

    final = get_call(db_client, call["id"])
    assert final == completed
    assert final["status"] == "completed"
    assert final["duration_seconds"] == 42
    assert final["answered_at"] == answered["answered_at"]
    assert final["ended_at"] is not None
    assert final["ended_at"] >= final["answered_at"]
    assert final["end_reason"] == "completed"
    assert final["error"] is None
    assert final["turns"] == []
    assert db_client.get("/api/calls").json()["total"] == 1


@pytest.mark.parametrize("final_status", ["busy", "no-answer", "canceled", "failed"])
def test_unanswered_endings_are_final(client: TestClient, final_status: str) -> None:
    call = place_call(client)
    for sequence, status in enumerate(["ringing", final_status, "in-progress"], start=1):
        params = status_params(call["twilio_sid"], status, sequence)
        assert signed_post(client, status_path(call), params).status_code == 204

    stored = get_call(client, call["id"])
    assert stored["status"] == final_status
    assert stored["end_reason"] == final_status
    assert stored["answered_at"] is None
    assert stored["ended_at"] is not None


def test_answered_by_is_recorded(client: TestClient) -> None:
    call = place_call(client)
    params = status_params(call["twilio_sid"], "in-progress", 3, AnsweredBy="human")

    assert signed_post(client, status_path(call), params).status_code == 204

    assert get_call(client, call["id"])["answered_by"] == "human"


@pytest.mark.parametrize(
    "params",
    [
        pytest.param(status_params("CA" + "a" * 32, "exploded", 1), id="unknown status"),
        pytest.param(status_params("CA" + "a" * 32, "created", 1), id="internal status"),
        pytest.param(status_params("CA" + "a" * 32, "", 1), id="empty status"),
        pytest.param(
            {k: v for k, v in status_params("CA", "ringing", 1).items() if k != "CallSid"},
            id="missing CallSid",
        ),
        pytest.param(
            {k: v for k, v in status_params("CA", "x", 1).items() if k != "CallStatus"},
            id="missing CallStatus",
        ),
        pytest.param(
            status_params("CA" + "a" * 32, "completed", 1, CallDuration="forty-two"),
            id="non-numeric duration",
        ),
        pytest.param(
            status_params("CA" + "a" * 32, "ringing", 1) | {"SequenceNumber": "x"},
            id="non-numeric sequence",
        ),
    ],
)
def test_malformed_status_callbacks_are_400(client: TestClient, params: dict[str, str]) -> None:
    call = place_call(client)
    params = {**params, "CallSid": call["twilio_sid"]} if "CallSid" in params else params

    response = signed_post(client, status_path(call), params)

    assert response.status_code == 400, response.text
    assert isinstance(response.json()["detail"], str)
    assert get_call(client, call["id"])["status"] == "queued"


def test_status_callback_for_an_unknown_call_sid_is_ignored(client: TestClient) -> None:
    call = place_call(client)
    before = client.get("/api/calls").json()

    response = signed_post(
        client, status_path(call), status_params("CA" + "f" * 32, "completed", 4, CallDuration="9")
    )

    assert response.status_code == 204
    assert client.get("/api/calls").json() == before


def test_oversized_status_callback_is_413(client: TestClient) -> None:
    call = place_call(client)
    params = status_params(call["twilio_sid"], "completed", 4, Padding="x" * 100_000)

    response = signed_post(client, status_path(call), params)

    assert response.status_code == 413
    assert response.json() == {"detail": "Request body too large (the limit is 64 KiB)."}
    assert get_call(client, call["id"])["status"] == "queued"


# --- not configured ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "path"),
    [
        ({"twilio_auth_token": None}, "/twilio/status?call_id=1"),
        ({"twilio_auth_token": None}, "/twilio/voice?call_id=1"),
        ({"webhook_url": None}, "/twilio/status?call_id=1"),
        ({"webhook_url": None}, "/twilio/voice?call_id=1"),
        (
            {"twilio_account_sid": None, "twilio_auth_token": None, "twilio_phone_number": None},
            "/twilio/voice?call_id=1",
        ),
    ],
)
def test_webhooks_are_503_when_twilio_is_not_configured(
    make_settings: Callable[..., Settings],
    fake_twilio: FakeAsyncTwilioHttpClient,
    overrides: dict[str, Any],
    path: str,
) -> None:
    for client in make_client(make_settings(**overrides), fake_twilio):
        response = signed_post(client, path, status_params("CA" + "a" * 32, "ringing", 1))

        assert response.status_code == 503
        detail = response.json()["detail"]
        assert "TWILIO_AUTH_TOKEN" in detail and "WEBHOOK_URL" in detail


# --- the event bus ----------------------------------------------------------------------------


def test_each_forward_status_is_published_once(client: TestClient, bus: InProcessEventBus) -> None:
    with subscribed(client, bus) as events:
        call = place_call(client)
        queued = events.next()
        assert queued.kind == "call.status"
        assert queued.call_id == call["id"]
        assert queued.data["status"] == "queued"

        path = status_path(call)
        sid = call["twilio_sid"]
        steps: list[tuple[str, int, dict[str, str], bool]] = [
            ("initiated", 1, {}, True),
            ("initiated", 1, {}, False),  # duplicate
            ("ringing", 2, {}, True),
            ("initiated", 1, {}, False),  # late
            ("ringing", 2, {}, False),  # duplicate
            ("in-progress", 3, {}, True),
            ("ringing", 2, {}, False),  # out of order
            ("completed", 4, {"CallDuration": "42"}, True),
            ("completed", 4, {"CallDuration": "42"}, False),  # duplicate
            ("in-progress", 3, {}, False),  # out of order
            ("ringing", 2, {}, False),  # late
        ]
        published = []
        for status, sequence, extra, forward in steps:
            response = signed_post(client, path, status_params(sid, status, sequence, **extra))
            assert response.status_code == 204
            if forward:
                event = events.next()
                assert (event.kind, event.call_id, event.data["status"]) == (
                    "call.status",
                    call["id"],
                    status,
                )
                published.append(event)

        assert [e.data["status"] for e in published] == [
            "initiated",
            "ringing",
            "in-progress",
            "completed",
        ]
        assert published[-1].data["duration_seconds"] == 42
        assert published[-1].data["end_reason"] == "completed"
        assert published[-1].data["error"] is None
        assert events.nothing_more() == []


def test_failed_placement_is_published(
    client: TestClient, bus: InProcessEventBus, fake_twilio: FakeAsyncTwilioHttpClient
) -> None:
    with subscribed(client, bus) as events:
        fake_twilio.queue_error(400, 21211, "Invalid 'To'")
        assert client.post("/api/calls", json={"to": TO}).status_code == 422
        event = events.next()
        assert event.kind == "call.status"
        assert event.data["status"] == "failed"
        assert event.data["error"]


# --- answering-machine detection --------------------------------------------------------------


def amd_path(call: dict[str, Any]) -> str:
    return f"/twilio/amd?call_id={call['id']}"


def amd_params(sid: str, answered_by: str, **extra: str) -> dict[str, str]:
    """An asynchronous AMD callback's form, with the fields Twilio sends."""
    return {
        "AccountSid": TEST_ACCOUNT_SID,
        "AnsweredBy": answered_by,
        "CallSid": sid,
        "MachineDetectionDuration": "4120",
        **extra,
    }


@pytest.mark.parametrize("answered_by", ["human", "machine_end_beep", "fax", "unknown"])
def test_the_machine_detection_verdict_is_stored(db_client: TestClient, answered_by: str) -> None:
    call = place_call(db_client)

    response = signed_post(db_client, amd_path(call), amd_params(call["twilio_sid"], answered_by))

    assert response.status_code == 204, response.text
    assert get_call(db_client, call["id"])["answered_by"] == answered_by


def test_a_machine_verdict_is_published_and_not_undone(
    client: TestClient, bus: InProcessEventBus
) -> None:
    call = place_call(client)
    sid, path = call["twilio_sid"], amd_path(call)
    with subscribed(client, bus) as events:
        assert signed_post(client, path, amd_params(sid, "machine_start")).status_code == 204
        first = events.next()
        assert (first.kind, first.call_id, first.data["answered_by"]) == (
            "call.status",
            call["id"],
            "machine_start",
        )
        assert signed_post(client, path, amd_params(sid, "machine_end_silence")).status_code == 204
        assert events.next().data["answered_by"] == "machine_end_silence"
        # A repeat changes nothing, and a late "human" doesn't undo the machine.
        assert signed_post(client, path, amd_params(sid, "machine_end_silence")).status_code == 204
        assert signed_post(client, path, amd_params(sid, "human")).status_code == 204
        assert events.nothing_more() == []
    assert get_call(client, call["id"])["answered_by"] == "machine_end_silence"
    # The call is not running here: nothing was asked of Twilio beyond placing it.
    assert get_call(client, call["id"])["end_reason"] is None


@pytest.mark.parametrize("forgery", [*FORGERY_NAMES, "replayed without the duration"])
def test_forged_machine_detection_callbacks_are_403_and_change_nothing(
    client: TestClient, forgery: str
) -> None:
    call = place_call(client)
    path = amd_path(call)
    params = amd_params(call["twilio_sid"], "machine_end_beep", From=FROM)
    forgeries = _forgeries(path, params)
    forgeries["replayed without the duration"] = (
        {"X-Twilio-Signature": sign(path, params)},
        {k: v for k, v in params.items() if k != "MachineDetectionDuration"},
    )
    headers, form = forgeries[forgery]

    response = client.post(path, data=form, headers=headers)

    assert response.status_code == 403
    assert response.json() == FORBIDDEN
    assert get_call(client, call["id"])["answered_by"] is None


@pytest.mark.parametrize(
    "params",
    [
        pytest.param(amd_params("CA" + "a" * 32, "robot"), id="unknown verdict"),
        pytest.param(amd_params("CA" + "a" * 32, ""), id="empty verdict"),
        pytest.param(
            {k: v for k, v in amd_params("CA", "human").items() if k != "AnsweredBy"},
            id="missing AnsweredBy",
        ),
        pytest.param(
            {k: v for k, v in amd_params("CA", "human").items() if k != "CallSid"},
            id="missing CallSid",
        ),
        pytest.param(
            amd_params("CA" + "a" * 32, "human", MachineDetectionDuration="soon"),
            id="non-numeric duration",
        ),
    ],
)
def test_malformed_machine_detection_callbacks_are_400(
    client: TestClient, params: dict[str, str]
) -> None:
    call = place_call(client)
    params = {**params, "CallSid": call["twilio_sid"]} if "CallSid" in params else params

    response = signed_post(client, amd_path(call), params)

    assert response.status_code == 400, response.text
    assert "AnsweredBy" in response.json()["detail"] or "Duration" in response.json()["detail"]
    assert get_call(client, call["id"])["answered_by"] is None


def test_a_verdict_for_an_unknown_call_is_ignored(client: TestClient) -> None:
    call = place_call(client)
    before = client.get("/api/calls").json()

    response = signed_post(client, amd_path(call), amd_params("CA" + "f" * 32, "machine_end_beep"))

    assert response.status_code == 204
    assert client.get("/api/calls").json() == before


def test_the_amd_webhook_is_503_when_twilio_is_not_configured(
    make_settings: Callable[..., Settings], fake_twilio: FakeAsyncTwilioHttpClient
) -> None:
    for client in make_client(make_settings(twilio_auth_token=None), fake_twilio):
        response = signed_post(client, "/twilio/amd?call_id=1", amd_params("CA", "human"))
        assert response.status_code == 503
