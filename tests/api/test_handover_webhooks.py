"""The webhooks of a warm hand-over's calls to caregivers, through the real app: a signed key
press on the offer (`/twilio/handover/key`) and the status callbacks of the caregiver's call
(`/twilio/handover/status`). The hand-over runs in the app with the person's side faked
(`tests.calls.test_handover.FakePerson`); Twilio's REST API is the fake HTTP client.

Forged or unsigned requests, and signed ones with another leg's token, are refused (403) and
change nothing; a malformed one gets a clear 400. The steps land on the call (`/api/calls/{id}`)
on SQLite and PostgreSQL."""

from __future__ import annotations

import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from fastapi.testclient import TestClient

from carecall.calls.briefs import CallBrief
from carecall.calls.handover import Handover, Phase
from carecall.core.events import InProcessEventBus
from tests.api.support import (
    TO,
    app_state,
    get_call,
    on_app_loop,
    place_call,
    sign,
    signed_post,
    status_params,
    status_path,
)
from tests.api.test_twilio_webhooks import subscribed
from tests.calls.test_handover import ANNA, FALL, TOM, FakePerson
from tests.conftest import PUBLIC_BASE, TEST_ACCOUNT_SID
from tests.fakes.twilio_http import FakeAsyncTwilioHttpClient

FORBIDDEN = {"detail": "Invalid or missing Twilio signature."}
BAD_TOKEN = {"detail": "Invalid or missing hand-over token."}


@dataclass
class Leg:
    """A call the hand-over placed to a caregiver, as the fake Twilio recorded it."""

    sid: str
    to: str
    twiml: str
    status_url: str

    @property
    def status_path(self) -> str:
        return _relative(self.status_url)

    @property
    def key_path(self) -> str:
        gather = ET.fromstring(self.twiml).find("Gather")
        assert gather is not None
        return _relative(gather.get("action", ""))


def _relative(url: str) -> str:
    assert url.startswith(PUBLIC_BASE), url
    return url[len(PUBLIC_BASE) :]


def legs(fake_twilio: FakeAsyncTwilioHttpClient) -> list[Leg]:
    """The calls to caregivers placed so far, oldest first (each with its inline TwiML)."""
    created = [
        r.data
        for r in fake_twilio.requests
        if r.method == "POST" and r.url.endswith("/Calls.json") and "StatusCallback" in r.data
    ]
    offers = [data for data in created if "Twiml" in data]
    sids = [sid for sid, call in fake_twilio.calls.items() if call["to"] != TO]
    return [
        Leg(sid, data["To"], data["Twiml"], data["StatusCallback"])
        for sid, data in zip(sids, offers, strict=True)
    ]


def redirects_of(fake_twilio: FakeAsyncTwilioHttpClient, sid: str) -> list[str]:
    return [
        r.data["Twiml"]
        for r in fake_twilio.requests
        if r.method == "POST" and r.url.endswith(f"/Calls/{sid}.json") and "Twiml" in r.data
    ]


def key_params(leg: Leg, digits: str) -> dict[str, str]:
    """What Twilio posts to a `<Gather>`'s action after a key press."""
    return {
        "AccountSid": TEST_ACCOUNT_SID,
        "ApiVersion": "2010-04-01",
        "CallSid": leg.sid,
        "CallStatus": "in-progress",
        "Digits": digits,
        "Direction": "outbound-api",
        "FinishedOnKey": "",
        "From": "+15005550006",
        "To": leg.to,
        "msg": "Gather End",
    }


def leg_status(leg: Leg, status: str) -> dict[str, str]:
    return {
        "AccountSid": TEST_ACCOUNT_SID,
        "CallSid": leg.sid,
        "CallStatus": status,
        "Direction": "outbound-api",
        "From": "+15005550006",
        "To": leg.to,
        "SequenceNumber": "2",
    }


@dataclass
class Running:
    client: TestClient
    fake_twilio: FakeAsyncTwilioHttpClient
    call: dict[str, Any]
    handover: Handover
    person: FakePerson


def start_handover(client: TestClient, fake_twilio: FakeAsyncTwilioHttpClient) -> Running:
    """A placed call whose hand-over runs in the app, Tom then Anna to try; Tom is rung."""
    call = place_call(client)
    state = app_state(client)
    person = FakePerson()

    async def begin() -> Handover:
        handover = state.handovers.open(
            call_id=call["id"],
            call_sid=call["twilio_sid"],
            brief=CallBrief(spoken_name="Molly", connect_to=TOM, connect_ladder=(TOM, ANNA)),
            claim_call=lambda: True,
            release_call=lambda: None,
        )
        assert handover is not None
        handover.attach(person)
        handover.flagged(FALL)
        assert await handover.start()
        return handover

    return Running(client, fake_twilio, call, on_app_loop(client, begin), person)


def steps_of(client: TestClient, call_id: int, count: int) -> list[dict[str, Any]]:
    deadline = time.monotonic() + 5
    while True:
        steps: list[dict[str, Any]] = get_call(client, call_id)["steps"]
        if len(steps) >= count or time.monotonic() > deadline:
            return steps
        time.sleep(0.05)


@pytest.fixture
def running(client: TestClient, fake_twilio: FakeAsyncTwilioHttpClient) -> Iterator[Running]:
    run = start_handover(client, fake_twilio)
    yield run
    on_app_loop(client, run.handover.person_left, "caller-hangup")


def test_1_on_the_offer_joins_the_caregiver_and_then_the_person_to_one_room(
    db_client: TestClient, fake_twilio: FakeAsyncTwilioHttpClient
) -> None:
    run = start_handover(db_client, fake_twilio)
    (tom,) = legs(fake_twilio)
    assert tom.to == TOM.phone_number
    offer = [say.text for say in ET.fromstring(tom.twiml).iter("Say")]
    assert "Molly told me on our call just now" in (offer[0] or "")
    assert signed_post(db_client, tom.status_path, leg_status(tom, "ringing")).status_code == 204
    assert (
        signed_post(db_client, tom.status_path, leg_status(tom, "in-progress")).status_code == 204
    )

    response = signed_post(db_client, tom.key_path, key_params(tom, "1"))

    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/xml")
    room = app_state(db_client).handovers.tokens.room(run.call["id"])
    joined = ET.fromstring(response.text).find("Dial/Conference")
    assert joined is not None and joined.text == room
    on_app_loop(db_client, run.handover.wait_idle)
    (moved,) = redirects_of(fake_twilio, run.call["twilio_sid"])
    person_room = ET.fromstring(moved).find("Dial/Conference")
    assert person_room is not None and person_room.text == room
    assert run.handover.phase is Phase.BRIDGED
    steps = steps_of(db_client, run.call["id"], 5)
    assert [s["kind"] for s in steps] == ["dialling", "answered", "accepted", "bridged"]
    assert steps[2]["text"] == "Tom Jones pressed 1 to take the call."
    assert all(TOM.phone_number not in s["text"] for s in steps)


def test_no_answer_rings_the_next_caregiver(running: Running) -> None:
    (tom,) = legs(running.fake_twilio)
    response = signed_post(running.client, tom.status_path, leg_status(tom, "no-answer"))
    assert response.status_code == 204
    assert [leg.to for leg in legs(running.fake_twilio)] == [TOM.phone_number, ANNA.phone_number]
    assert running.person.said[-1].startswith("Tom can't come to the phone just now")


def test_another_key_declines_and_is_thanked(running: Running) -> None:
    (tom,) = legs(running.fake_twilio)
    response = signed_post(running.client, tom.key_path, key_params(tom, "2"))
    assert response.status_code == 200
    root = ET.fromstring(response.text)
    assert [child.tag for child in root] == ["Say", "Hangup"]
    assert len(legs(running.fake_twilio)) == 2


def test_forged_or_unsigned_webhooks_are_refused_and_change_nothing(running: Running) -> None:
    (tom,) = legs(running.fake_twilio)
    client = running.client
    for path, params in (
        (tom.key_path, key_params(tom, "1")),
        (tom.status_path, leg_status(tom, "no-answer")),
    ):
        forged = sign(path, params, token="not-the-auth-token")
        response = client.post(path, data=params, headers={"X-Twilio-Signature": forged})
        assert response.status_code == 403 and response.json() == FORBIDDEN
        unsigned = client.post(path, data=params)
        assert unsigned.status_code == 403 and unsigned.json() == FORBIDDEN
        # Signed for other fields than those sent.
        tampered = client.post(
            path,
            data={**params, "Digits": "9", "CallStatus": "busy"},
            headers={"X-Twilio-Signature": sign(path, params)},
        )
        assert tampered.status_code == 403
    assert running.handover.phase is Phase.DIALLING
    assert len(legs(running.fake_twilio)) == 1 and running.handover.steps == 1


def test_a_signed_request_with_another_legs_or_calls_token_is_refused(running: Running) -> None:
    (tom,) = legs(running.fake_twilio)
    query = parse_qs(urlsplit(tom.key_path).query)
    call_id, leg, token = query["call_id"][0], query["leg"][0], query["token"][0]
    for wrong in (
        {"call_id": call_id, "leg": str(int(leg) + 1), "token": token},
        {"call_id": str(int(call_id) + 1), "leg": leg, "token": token},
        {"call_id": call_id, "leg": leg, "token": "0" * 64},
        {"call_id": call_id, "leg": leg},
    ):
        path = f"/twilio/handover/key?{urlencode(wrong)}"
        response = signed_post(running.client, path, key_params(tom, "1"))
        assert response.status_code == 403 and response.json() == BAD_TOKEN
    assert running.handover.phase is Phase.DIALLING


@pytest.mark.parametrize(
    ("change", "what"),
    [
        ({"CallStatus": "ringing-ish"}, "CallStatus"),
        ({"CallStatus": ""}, "CallStatus"),
        ({"CallSid": ""}, "CallSid"),
        ({"CallSid": "CA" + "f" * 5000}, "CallSid"),
    ],
)
def test_malformed_status_callbacks_get_a_clear_400(
    running: Running, change: dict[str, str], what: str
) -> None:
    (tom,) = legs(running.fake_twilio)
    response = signed_post(running.client, tom.status_path, {**leg_status(tom, "busy"), **change})
    assert response.status_code == 400 and what in response.json()["detail"]


@pytest.mark.parametrize("query", ["call_id=x&leg=0&token=t", "call_id=1&leg=-1&token=t", "leg=0"])
def test_bad_query_strings_get_a_4xx(client: TestClient, query: str) -> None:
    params = {"CallSid": "CA" + "a" * 32, "CallStatus": "busy"}
    response = signed_post(client, f"/twilio/handover/status?{query}", params)
    assert response.status_code in (400, 422)


def test_a_key_press_after_the_call_ended_is_too_late(
    client: TestClient, fake_twilio: FakeAsyncTwilioHttpClient
) -> None:
    run = start_handover(client, fake_twilio)
    (tom,) = legs(fake_twilio)
    on_app_loop(client, run.handover.person_left, "caller-hangup")
    app_state(client).handovers.close(run.call["id"], run.handover)
    sid = run.call["twilio_sid"]
    signed_post(client, status_path(run.call), status_params(sid, "completed", 9))

    response = signed_post(client, tom.key_path, key_params(tom, "1"))

    assert response.status_code == 200
    assert ET.fromstring(response.text).find("Dial") is None
    assert "Nobody is waiting" in response.text


def test_a_key_press_for_a_call_running_on_another_instance_goes_over_the_bus(
    client: TestClient, fake_twilio: FakeAsyncTwilioHttpClient, bus: InProcessEventBus
) -> None:
    run = start_handover(client, fake_twilio)
    (tom,) = legs(fake_twilio)
    sid = run.call["twilio_sid"]
    signed_post(client, status_path(run.call), status_params(sid, "in-progress", 3))
    # This instance no longer runs it: as if the person's stream had opened on another one.
    app_state(client).handovers.close(run.call["id"], run.handover)
    with subscribed(client, bus) as events:
        response = signed_post(client, tom.key_path, key_params(tom, "1"))
        assert response.status_code == 200
        joined = ET.fromstring(response.text).find("Dial/Conference")
        assert joined is not None  # waits in the room; the other instance decides
        event = events.next()
        while event.kind != "handover.signal":
            event = events.next()
    assert event.call_id == run.call["id"]
    assert event.data == {"leg": 0, "call_sid": tom.sid, "digits": "1", "status": None}
    on_app_loop(client, run.handover.person_left, "caller-hangup")
