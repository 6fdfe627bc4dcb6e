"""`/ws/dashboard`: a session is required; a snapshot first, then numbered live updates; a
reconnect is sent what it missed, or a fresh snapshot when that is gone."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from carecall.core.events import CallEvent, InProcessEventBus
from carecall.persistence.models import CallStatus, TurnRole
from carecall.pipeline.events import StepRecord, TurnRecord
from carecall.settings import Settings
from tests.api.support import app_state, make_client, on_app_loop, signed_post, status_params
from tests.fakes.twilio_http import FakeAsyncTwilioHttpClient
from tests.web.support import signed_in_client, store_call

MASKED = "+1••••••0100"


@pytest.fixture
def bus() -> InProcessEventBus:
    return InProcessEventBus()


@pytest.fixture
def browser(make_settings: Callable[..., Settings], bus: InProcessEventBus) -> Iterator[TestClient]:
    yield from signed_in_client(make_settings(), bus=bus)


def publish(client: TestClient, event: CallEvent) -> None:
    on_app_loop(client, app_state(client).bus.publish, event)


def turn_event(call_id: int, sequence: int, text: str, latency: int | None = None) -> CallEvent:
    role = TurnRole.USER if sequence % 2 == 0 else TurnRole.ASSISTANT
    now = datetime.now(UTC)
    return TurnRecord(call_id, sequence, role, text, now, now, False, latency).to_event()


def place(client: TestClient) -> dict[str, Any]:
    response = client.post("/api/calls", json={"to": "+14155550100"})
    assert response.status_code == 201, response.text
    call: dict[str, Any] = response.json()
    return call


def status(client: TestClient, call: dict[str, Any], value: str, sequence: int) -> None:
    path = f"/twilio/status?call_id={call['id']}"
    response = signed_post(client, path, status_params(call["twilio_sid"], value, sequence))
    assert response.status_code == 204, response.text


def test_without_a_session_the_socket_is_closed_with_1008(
    make_settings: Callable[..., Settings],
) -> None:
    # An API key is for programs: the dashboard feed is for signed-in people.
    for client in make_client(make_settings(), FakeAsyncTwilioHttpClient()):
        with (
            client.websocket_connect("/ws/dashboard") as ws,
            pytest.raises(WebSocketDisconnect) as closed,
        ):
            ws.receive_json()
        assert closed.value.code == 1008


def test_another_sites_page_is_refused(browser: TestClient) -> None:
    with (
        pytest.raises(WebSocketDisconnect) as closed,
        browser.websocket_connect("/ws/dashboard", headers={"Origin": "https://evil.example"}),
    ):
        pass
    assert closed.value.code == 1008


def test_snapshot_then_live_status_changes(browser: TestClient) -> None:
    old = store_call(browser, "+442079460958", CallStatus.COMPLETED, duration_seconds=75)
    call = place(browser)

    with browser.websocket_connect("/ws/dashboard", headers={"Origin": "http://testserver"}) as ws:
        snapshot = ws.receive_json()
        assert snapshot["type"] == "snapshot"
        assert [c["id"] for c in snapshot["calls"]] == [call["id"], old]
        first = snapshot["calls"][0]
        assert first["number"] == MASKED
        assert (first["status"], first["status_label"], first["live"]) == ("queued", "Queued", True)
        assert snapshot["calls"][1]["duration_label"] == "1 min 15 s"
        assert "+14155550100" not in str(snapshot)

        ids = [snapshot["id"]]
        for sequence, value in enumerate(("initiated", "ringing", "in-progress", "completed")):
            status(browser, call, value, sequence)
            update = ws.receive_json()
            assert update["type"] == "call"
            assert update["call"]["id"] == call["id"]
            assert update["call"]["status"] == value
            ids.append(update["id"])
        assert ids == sorted(set(ids))
        assert update["call"]["status_label"] == "Completed" and not update["call"]["live"]

        # Turns are for a call's page, not the list.
        publish(browser, turn_event(call["id"], 1, "Hello!"))
        publish(browser, CallEvent("call.error", call["id"], {"error": "STT timed out"}))
        update = ws.receive_json()
        assert update["type"] == "call" and update["call"]["error"] == "STT timed out"


def test_a_new_call_arrives_with_its_masked_number(browser: TestClient) -> None:
    with browser.websocket_connect("/ws/dashboard") as ws:
        assert ws.receive_json()["calls"] == []
        call = place(browser)
        update = ws.receive_json()
        assert update["call"]["id"] == call["id"]
        assert update["call"]["number"] == MASKED
        assert update["call"]["url"] == f"/calls/{call['id']}"


def test_a_call_page_gets_stored_and_not_yet_stored_turns_then_live_ones(
    browser: TestClient,
) -> None:
    call_id = store_call(
        browser,
        status=CallStatus.IN_PROGRESS,
        turns=[(TurnRole.ASSISTANT, "Hello!", None, False), (TurnRole.USER, "Hi", None, False)],
    )
    other = store_call(browser, status=CallStatus.IN_PROGRESS)
    # Published but not stored yet (the record writer stores a moment later), or both.
    publish(browser, turn_event(call_id, 2, "Hi"))
    publish(browser, turn_event(call_id, 3, "Lovely to hear.", latency=640))
    publish(browser, CallEvent("call.status", call_id, {"end_reason": "bot-hangup: goodbye"}))
    publish(browser, turn_event(other, 1, "Someone else's call"))

    with browser.websocket_connect(f"/ws/dashboard?call_id={call_id}") as ws:
        snapshot = ws.receive_json()
        assert snapshot["call"]["id"] == call_id
        assert [(t["sequence"], t["speaker"], t["text"]) for t in snapshot["turns"]] == [
            (1, "Carecall", "Hello!"),
            (2, "Caller", "Hi"),
            (3, "Carecall", "Lovely to hear."),
        ]
        assert snapshot["turns"][2]["latency_ms"] == 640
        assert snapshot["call"]["end_reason_label"] == "Carecall said goodbye (goodbye)"

        publish(browser, turn_event(other, 2, "Not this one"))
        # An extension's figure is for its own readers (`processors.extensions`): not shown.
        publish(browser, CallEvent("call.figure", call_id, {"name": "words", "value": 3}))
        publish(browser, turn_event(call_id, 4, "Goodbye"))
        live = ws.receive_json()
        assert live["type"] == "turn" and live["turn"]["text"] == "Goodbye"
        assert live["id"] > snapshot["id"]


def test_a_call_page_gets_the_hand_over_steps_stored_buffered_and_live(
    browser: TestClient,
) -> None:
    call_id = store_call(browser, status=CallStatus.IN_PROGRESS)
    now = datetime.now(UTC)
    first = StepRecord(call_id, 1, "dialling", "Calling Tom Jones to take the call.", now)
    on_app_loop(browser, app_state(browser).calls.add_steps, [first])
    # Published but not stored yet (the record writer stores a moment later).
    publish(
        browser, StepRecord(call_id, 2, "no_answer", "Tom Jones: didn't answer.", now).to_event()
    )

    with browser.websocket_connect(f"/ws/dashboard?call_id={call_id}") as ws:
        snapshot = ws.receive_json()
        assert [(s["sequence"], s["label"]) for s in snapshot["steps"]] == [
            (1, "Calling"),
            (2, "No answer"),
        ]
        # A hand-over's webhook signal for another instance is shown nowhere.
        publish(browser, CallEvent("handover.signal", call_id, {"leg": 0, "call_sid": "CA1"}))
        publish(
            browser, StepRecord(call_id, 3, "accepted", "Anna Jones pressed 1.", now).to_event()
        )
        live = ws.receive_json()
        assert live["type"] == "step" and live["call_id"] == call_id
        assert live["step"]["text"] == "Anna Jones pressed 1."
        assert (live["step"]["label"], live["step"]["tone"]) == ("Accepted", "success")

    with browser.websocket_connect("/ws/dashboard") as ws:  # the calls list: no steps
        ws.receive_json()
        publish(browser, StepRecord(call_id, 4, "bridged", "Connected.", now).to_event())
        publish(browser, CallEvent("call.status", call_id, {"status": "completed"}))
        assert ws.receive_json()["type"] == "call"


def test_an_unknown_call_is_closed_with_4404(browser: TestClient) -> None:
    with (
        browser.websocket_connect("/ws/dashboard?call_id=999") as ws,
        pytest.raises(WebSocketDisconnect) as closed,
    ):
        ws.receive_json()
    assert closed.value.code == 4404


def test_a_reconnect_gets_what_it_missed_in_order(browser: TestClient) -> None:
    call_id = store_call(browser, status=CallStatus.IN_PROGRESS)
    with browser.websocket_connect(f"/ws/dashboard?call_id={call_id}") as ws:
        snapshot = ws.receive_json()
        publish(browser, turn_event(call_id, 1, "Hello!"))
        seen = ws.receive_json()["id"]
    # The browser is away: two turns and the end of the call happen meanwhile.
    publish(browser, turn_event(call_id, 2, "Who is this?"))
    publish(browser, turn_event(call_id, 3, "It's Sunny."))
    publish(
        browser, CallEvent("call.media", call_id, {"state": "ended", "reason": "caller-hangup"})
    )

    resume = f"/ws/dashboard?call_id={call_id}&after={seen}&stream={snapshot['stream']}"
    with browser.websocket_connect(resume) as ws:
        missed = [ws.receive_json() for _ in range(3)]
        assert [m["type"] for m in missed] == ["turn", "turn", "call"]
        assert [m["turn"]["text"] for m in missed[:2]] == ["Who is this?", "It's Sunny."]
        assert missed[2]["call"]["end_reason_label"] == "The person hung up"
        assert [m["id"] for m in missed] == [seen + 1, seen + 2, seen + 3]
        publish(browser, turn_event(call_id, 4, "Bye"))
        assert ws.receive_json()["turn"]["text"] == "Bye"


@pytest.mark.parametrize("query", ["after=1&stream=another-process", "after=99999&stream={stream}"])
def test_a_reconnect_it_cannot_serve_gets_a_fresh_snapshot(browser: TestClient, query: str) -> None:
    call_id = store_call(browser, status=CallStatus.IN_PROGRESS)
    stream = app_state(browser).feed.stream
    publish(browser, turn_event(call_id, 1, "Hello!"))

    with browser.websocket_connect(
        f"/ws/dashboard?call_id={call_id}&" + query.format(stream=stream)
    ) as ws:
        snapshot = ws.receive_json()
        assert snapshot["type"] == "snapshot"
        assert [t["text"] for t in snapshot["turns"]] == ["Hello!"]


def test_a_reconnect_older_than_the_buffer_gets_a_fresh_snapshot(browser: TestClient) -> None:
    feed = app_state(browser).feed
    for _ in range(5):
        publish(browser, CallEvent("call.media", 12345, {"state": "connected"}))
    oldest = feed.buffered()[0].id
    feed._buffer = type(feed._buffer)(feed.buffered()[-2:], maxlen=2)  # only 2 kept now

    with browser.websocket_connect(f"/ws/dashboard?after={oldest}&stream={feed.stream}") as ws:
        assert ws.receive_json()["type"] == "snapshot"
