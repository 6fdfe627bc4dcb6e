"""`POST /api/webrtc/offer`: who may talk in the browser, what offers are refused, and a real
WebRTC peer (aiortc, standing in for the browser) whose talk is stored as a browser call."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from aiortc import RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import AudioStreamTrack
from fastapi.testclient import TestClient

from carecall.bot import prompts
from carecall.persistence.models import CallChannel, CallStatus, TurnRole
from carecall.settings import Settings
from tests.api.support import add_operator, app_state, log_in, make_client, on_app_loop
from tests.fakes.twilio_http import FakeAsyncTwilioHttpClient

OFFER = "/api/webrtc/offer"


@pytest.fixture
def browser(
    make_settings: Callable[..., Settings], fake_twilio: FakeAsyncTwilioHttpClient
) -> Iterator[TestClient]:
    """The app in local mode (no keys: Whisper, Piper, the guided check-in), as a browser."""
    settings = make_settings(openai_api_key=None, openai_base_url=None)
    yield from make_client(settings, fake_twilio, api_key=False)


def _signed_in(client: TestClient) -> dict[str, str]:
    add_operator(client)
    return {"X-CSRF-Token": log_in(client)}


async def _browser_offer() -> RTCPeerConnection:
    """An offer as a browser makes it: one audio transceiver sending the microphone (silence
    here), host candidates gathered before it is sent."""
    pc = RTCPeerConnection()
    pc.addTransceiver(AudioStreamTrack(), direction="sendrecv")
    await pc.setLocalDescription(await pc.createOffer())
    return pc


def test_refuses_anyone_not_signed_in(browser: TestClient) -> None:
    response = browser.post(OFFER, json={"sdp": "v=0\r\n", "type": "offer"})
    assert response.status_code == 401
    assert "Sign in" in response.json()["detail"]


def test_refuses_a_session_without_its_csrf_token(browser: TestClient) -> None:
    _signed_in(browser)
    response = browser.post(OFFER, json={"sdp": "v=0\r\n", "type": "offer"})
    assert response.status_code == 403
    assert "security token" in response.json()["detail"]


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        ({"sdp": "hello", "type": "offer"}, 400, "not a WebRTC offer"),
        ({"sdp": "v=0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\n", "type": "offer"}, 400, "can't be"),
        ({"sdp": "v=0\r\n", "type": "answer"}, 422, "type"),
        ({"type": "offer"}, 422, "sdp"),
        ({"sdp": "v=0" + "x" * 40_000, "type": "offer"}, 422, "sdp"),
    ],
)
def test_refuses_malformed_offers_with_a_clear_4xx(
    browser: TestClient, body: dict[str, Any], status: int, message: str
) -> None:
    headers = _signed_in(browser)
    response = browser.post(OFFER, json=body, headers=headers)
    assert response.status_code == status, response.text
    assert message in response.json()["detail"]
    _, total = on_app_loop(browser, app_state(browser).calls.list_recent)
    assert total == 0, "a refused offer stores no call"


@pytest.mark.parametrize(
    ("who_hangs_up", "end_reason"),
    [("person", "caller-hangup"), ("operator", "operator-hangup")],
)
def test_a_talk_is_stored_as_a_browser_call_with_its_turns(
    browser: TestClient, who_hangs_up: str, end_reason: str
) -> None:
    headers = _signed_in(browser)
    state = app_state(browser)

    async def talk() -> int:
        pc = await _browser_offer()
        heard, closed = asyncio.Event(), asyncio.Event()
        listening: list[asyncio.Task[None]] = []

        @pc.on("connectionstatechange")
        def _on_state() -> None:
            if pc.connectionState in ("closed", "failed"):
                closed.set()

        @pc.on("track")
        def _on_track(track: Any) -> None:
            async def listen() -> None:
                while True:
                    frame = await track.recv()
                    if any(frame.to_ndarray().ravel()):
                        heard.set()

            listening.append(asyncio.ensure_future(listen()))

        response = await asyncio.to_thread(
            browser.post,
            OFFER,
            json={"sdp": pc.localDescription.sdp, "type": "offer"},
            headers=headers,
        )
        assert response.status_code == 200, response.text
        answer = response.json()
        assert answer["type"] == "answer" and "a=candidate" in answer["sdp"]
        await pc.setRemoteDescription(RTCSessionDescription(answer["sdp"], "answer"))
        await asyncio.wait_for(heard.wait(), 20)  # the greeting's audio, not silence
        await asyncio.sleep(1.5)
        call_id = int(answer["call_id"])
        if who_hangs_up == "operator":  # from the call's page
            hung_up = await asyncio.to_thread(
                browser.post, f"/api/calls/{call_id}/hangup", headers=headers
            )
            assert hung_up.status_code == 202, hung_up.text
            await asyncio.wait_for(closed.wait(), 10)  # carecall closes the connection
        await pc.close()
        for task in listening:
            task.cancel()
        return call_id

    call_id = asyncio.run(talk())
    deadline = time.monotonic() + 20
    while True:
        call = on_app_loop(browser, state.calls.get, call_id, with_turns=True)
        assert call is not None
        if call.status.is_final and call.turns and call.end_reason:
            break
        assert time.monotonic() < deadline, call.status
        time.sleep(0.2)
    assert call.channel is CallChannel.BROWSER
    assert call.status is CallStatus.COMPLETED
    assert call.end_reason == end_reason
    assert call.to_number == "" and call.twilio_sid is None
    assert call.turns[0].role is TurnRole.ASSISTANT
    greeting = prompts.greeting(bot_name="Sunny", organization_name="your care team")
    assert call.turns[0].text.startswith(greeting[0][:20])


def test_no_talk_starts_while_the_server_shuts_down(browser: TestClient) -> None:
    headers = _signed_in(browser)
    app_state(browser).readiness.shutting_down = True  # SIGTERM: the instance drains
    response = browser.post(OFFER, json={"sdp": "v=0\r\n", "type": "offer"}, headers=headers)
    assert response.status_code == 503
    assert "shutting down" in response.json()["detail"]
    _, total = on_app_loop(browser, app_state(browser).calls.list_recent)
    assert total == 0
